/** Load a typed query whenever its variables change; errors are reported and kept. */
import type { AnyVariables, DocumentInput } from '@urql/core';
import { ref, shallowRef, watch, type Ref, type ShallowRef } from 'vue';
import { query } from '@/api/client';
import { reportError } from '@/api/notify';

export interface QueryState<D> {
  data: ShallowRef<D | null>;
  loading: Ref<boolean>;
  error: ShallowRef<unknown>;
  refresh: () => Promise<void>;
}

export interface QueryOptions {
  /** Skip the request while this returns true (e.g. no account chosen yet). */
  skip?: () => boolean;
  /** Report errors with MessagePlugin (default true). */
  report?: boolean;
  /** Reload also when this changes (e.g. after a payment elsewhere). */
  deps?: () => unknown;
  /** Show an answer up to this old again instead of asking (any mutation forgets it);
   * `refresh()` always asks. */
  maxAgeMs?: number;
}

export function useQuery<D, V extends AnyVariables>(
  document: DocumentInput<D, V>,
  variables: () => V,
  options: QueryOptions = {},
): QueryState<D> {
  const data = shallowRef<D | null>(null);
  const loading = ref(false);
  const error = shallowRef<unknown>(null);
  let latest = 0;

  async function load(maxAgeMs: number): Promise<void> {
    if (options.skip?.()) {
      data.value = null;
      return;
    }
    const ticket = ++latest;
    loading.value = true;
    try {
      const result = await query(document, variables(), maxAgeMs);
      if (ticket === latest) {
        data.value = result;
        error.value = null;
      }
    } catch (e) {
      if (ticket === latest) {
        error.value = e;
        if (options.report !== false) reportError(e);
      }
    } finally {
      if (ticket === latest) loading.value = false;
    }
  }

  const refresh = () => load(0);
  watch([variables, options.deps ?? (() => null)], () => void load(options.maxAgeMs ?? 0), { deep: true, immediate: true });
  return { data, loading, error, refresh };
}
