/**
 * Relay paging (`first`/`after`) for tables. Cursors are opaque and forward-only, so
 * the pager keeps the `after` of each page it has reached to step back. Lists whose
 * `after` also takes a position cursor (ledger, exams, audit log) can jump to page N:
 * the server opens it by position and answers keyset cursors again.
 */
import { computed, ref } from 'vue';

export interface PageInfoLike {
  hasNextPage: boolean;
  endCursor?: string | null;
}

/** The server skips at most this many rows for a jump (api/connections.py MAX_JUMP). */
export const MAX_JUMP_ROWS = 100_000;

/** The cursor of the row at 0-based `position` (base64url of `o:<n>`, as the server writes it). */
export function positionCursor(position: number): string {
  return btoa(`o:${position}`).replace(/\+/g, '-').replace(/\//g, '_');
}

/** The `after` that opens page `page` (1-based) of `size` rows: null for the first. */
export function pageStart(page: number, size: number): string | null {
  return page <= 1 ? null : positionCursor((page - 1) * size - 1);
}

/** The last page a jump may reach, given the list's total. */
export function lastPage(total: number, size: number): number {
  const pages = Math.max(1, Math.ceil(total / size));
  return Math.min(pages, Math.floor(MAX_JUMP_ROWS / size) + 1);
}

export function useCursorPager(initialSize = 20) {
  const pageSize = ref(initialSize);
  // Page number -> the `after` that opens it, as far as keyset cursors are known.
  const known = ref<Map<number, string | null>>(new Map([[1, null]]));
  const current = ref(1);
  const after = computed(() => (known.value.has(current.value) ? (known.value.get(current.value) ?? null) : pageStart(current.value, pageSize.value)));
  const page = computed(() => current.value);

  function next(info: PageInfoLike | null | undefined): void {
    if (!info?.hasNextPage || !info.endCursor) return;
    known.value = new Map(known.value).set(current.value + 1, info.endCursor);
    current.value += 1;
  }

  function prev(): void {
    if (current.value > 1) current.value -= 1;
  }

  /** Open page `n` (lists with position cursors only). */
  function jump(n: number): void {
    current.value = Math.max(1, Math.floor(n));
  }

  function reset(size?: number): void {
    if (size !== undefined) pageSize.value = size;
    known.value = new Map([[1, null]]);
    current.value = 1;
  }

  return { pageSize, after, page, next, prev, jump, reset };
}
