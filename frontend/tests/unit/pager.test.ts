import { describe, expect, it } from 'vitest';
import { lastPage, MAX_JUMP_ROWS, pageStart, positionCursor, useCursorPager } from '@/composables/useCursorPager';

describe('position cursors', () => {
  it('are written exactly as the server writes them (base64url of o:<n>)', () => {
    // Python: base64.urlsafe_b64encode(b"o:29") == b"bzoyOQ=="
    expect(positionCursor(29)).toBe('bzoyOQ==');
    expect(positionCursor(0)).toBe('bzow');
    expect(atob(positionCursor(99_999))).toBe('o:99999');
  });

  it('open page N after the row before it', () => {
    expect(pageStart(1, 20)).toBeNull();
    expect(atob(pageStart(2, 20) ?? '')).toBe('o:19');
    expect(atob(pageStart(106, 10) ?? '')).toBe('o:1049');
  });

  it('reach no further than the server skips', () => {
    expect(lastPage(1_053, 10)).toBe(106);
    expect(lastPage(0, 10)).toBe(1);
    expect(lastPage(5_000_000, 100)).toBe(MAX_JUMP_ROWS / 100 + 1);
  });
});

describe('useCursorPager', () => {
  it('jumps by position and steps on by the keyset cursor the server answered', () => {
    const pager = useCursorPager(10);
    expect(pager.after.value).toBeNull();
    pager.jump(50);
    expect(pager.page.value).toBe(50);
    expect(atob(pager.after.value ?? '')).toBe('o:489');
    pager.next({ hasNextPage: true, endCursor: 'azo1MDA=' });
    expect(pager.page.value).toBe(51);
    expect(pager.after.value).toBe('azo1MDA=');
    pager.prev();
    expect(atob(pager.after.value ?? '')).toBe('o:489');
  });

  it('does not step past the last page and forgets cursors on reset', () => {
    const pager = useCursorPager(20);
    pager.next({ hasNextPage: false, endCursor: 'x' });
    expect(pager.page.value).toBe(1);
    pager.next({ hasNextPage: true, endCursor: 'azoxMA==' });
    pager.reset(50);
    expect(pager.page.value).toBe(1);
    expect(pager.pageSize.value).toBe(50);
    pager.jump(2);
    expect(atob(pager.after.value ?? '')).toBe('o:49');
  });
});
