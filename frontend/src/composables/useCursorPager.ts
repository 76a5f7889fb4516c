/**
 * Relay paging (`first`/`after`) for tables: cursors are opaque and forward-only, so
 * the pager keeps the `after` of each page it has visited to step back.
 */
import { computed, ref } from 'vue';

export interface PageInfoLike {
  hasNextPage: boolean;
  endCursor?: string | null;
}

export function useCursorPager(initialSize = 20) {
  const pageSize = ref(initialSize);
  const afters = ref<(string | null)[]>([null]);
  const index = ref(0);
  const after = computed(() => afters.value[index.value] ?? null);
  const page = computed(() => index.value + 1);

  function next(info: PageInfoLike | null | undefined): void {
    if (!info?.hasNextPage || !info.endCursor) return;
    afters.value = [...afters.value.slice(0, index.value + 1), info.endCursor];
    index.value += 1;
  }

  function prev(): void {
    if (index.value > 0) index.value -= 1;
  }

  function reset(size?: number): void {
    if (size !== undefined) pageSize.value = size;
    afters.value = [null];
    index.value = 0;
  }

  return { pageSize, after, page, next, prev, reset };
}
