import { describe, expect, it } from 'vitest';
import { addDays, dayRange, formatDate, formatDateTime, hoursUntil, lastDays, shanghaiDay, shanghaiDayStart } from '@/utils/time';

describe('Asia/Shanghai display', () => {
  it('shows UTC instants in Shanghai time', () => {
    expect(formatDateTime('2026-03-01T16:05:00Z')).toBe('2026-03-02 00:05');
    expect(formatDateTime('2026-03-01T16:05:09+00:00', true)).toBe('2026-03-02 00:05:09');
    expect(formatDateTime(null)).toBe('—');
  });

  it('takes the calendar day in Shanghai', () => {
    expect(shanghaiDay('2026-12-31T15:59:59Z')).toBe('2026-12-31');
    expect(shanghaiDay('2026-12-31T16:00:00Z')).toBe('2027-01-01');
    expect(formatDate('2026-02-28')).toBe('2026-02-28');
  });

  it('turns a picked day range into the half-open UTC interval', () => {
    expect(shanghaiDayStart('2026-03-02')).toBe('2026-03-01T16:00:00.000Z');
    expect(dayRange(['2026-03-01', '2026-03-31'])).toEqual({
      since: '2026-02-28T16:00:00.000Z',
      until: '2026-03-31T16:00:00.000Z',
    });
    expect(dayRange([])).toEqual({ since: null, until: null });
  });

  it('counts days and hours', () => {
    expect(addDays('2028-02-28', 1)).toBe('2028-02-29');
    expect(addDays('2026-12-31', 1)).toBe('2027-01-01');
    const days = lastDays(3, new Date('2026-03-01T17:00:00Z'));
    expect(days).toEqual(['2026-02-28', '2026-03-01', '2026-03-02']);
    expect(lastDays(90, new Date())).toHaveLength(90);
    const now = new Date('2026-01-01T00:00:00Z');
    expect(hoursUntil('2026-01-01T23:30:00Z', now)).toBe(24);
    expect(hoursUntil('2025-12-31T00:00:00Z', now)).toBe(0);
  });
});
