import { beforeEach, describe, expect, it, vi } from 'vitest';

const error = vi.fn();
vi.mock('tdesign-vue-next', () => ({ MessagePlugin: { error, success: vi.fn() } }));

const { ApiError } = await import('@/api/client');
const { Deduper } = await import('@/api/dedupe');
const { reportError } = await import('@/api/notify');

describe('one toast, not three stacked', () => {
  beforeEach(() => error.mockClear());

  it('admits the same words once while they are showing, again after', () => {
    const shown = new Deduper(5000);
    expect(shown.admit('offline', 0)).toBe(true);
    expect(shown.admit('offline', 10)).toBe(false);
    expect(shown.admit('another', 10)).toBe(true);
    expect(shown.admit('offline', 4999)).toBe(false);
    expect(shown.admit('offline', 5000)).toBe(true);
  });

  it('shows three failed requests of a page as one error', () => {
    for (let i = 0; i < 3; i += 1) reportError(new ApiError('Failed to fetch', null, false, true));
    expect(error).toHaveBeenCalledTimes(1);
    reportError(new Error('something else'));
    expect(error).toHaveBeenCalledTimes(2);
  });

  it('never shows a lost session', () => {
    reportError(new ApiError('gone', 'UNAUTHENTICATED', true));
    expect(error).not.toHaveBeenCalled();
  });
});
