import { describe, expect, it } from 'vitest';
import { fenToYuanText, formatFen, formatFenOrDash, parseYuanToFen } from '@/utils/money';

describe('formatFen', () => {
  it('formats whole fen as yuan with two decimals and thousands separators', () => {
    expect(formatFen(0)).toBe('¥0.00');
    expect(formatFen(5)).toBe('¥0.05');
    expect(formatFen(150)).toBe('¥1.50');
    expect(formatFen(123456)).toBe('¥1,234.56');
    expect(formatFen(1_500_000_000)).toBe('¥15,000,000.00');
  });

  it('puts the sign before the symbol', () => {
    expect(formatFen(-5)).toBe('-¥0.05');
    expect(formatFen(-123456)).toBe('-¥1,234.56');
  });

  it('is exact beyond float precision (strings and bigints)', () => {
    expect(formatFen('1000000000000001')).toBe('¥10,000,000,000,000.01');
    expect(formatFen(12345678901234567890n)).toBe('¥123,456,789,012,345,678.90');
    expect(formatFen(Number.MAX_SAFE_INTEGER)).toBe('¥90,071,992,547,409.91');
  });

  it('refuses what is not a whole number of fen', () => {
    expect(() => formatFen(1.5)).toThrow(RangeError);
    expect(() => formatFen('12.5')).toThrow(RangeError);
    expect(() => formatFen(Number.NaN)).toThrow(RangeError);
  });

  it('shows a dash for a missing amount', () => {
    expect(formatFenOrDash(null)).toBe('—');
    expect(formatFenOrDash(undefined)).toBe('—');
    expect(formatFenOrDash(100)).toBe('¥1.00');
  });
});

describe('parseYuanToFen', () => {
  it('reads yuan with up to two decimals', () => {
    expect(parseYuanToFen('12')).toBe(1200);
    expect(parseYuanToFen('12.3')).toBe(1230);
    expect(parseYuanToFen('0.07')).toBe(7);
    expect(parseYuanToFen(' ¥1,234.56 ')).toBe(123456);
  });

  it('does not round through floats', () => {
    expect(parseYuanToFen('0.29')).toBe(29); // 0.29 * 100 = 28.999999999999996 as a float
    expect(parseYuanToFen('1.15')).toBe(115);
  });

  it('rejects anything else', () => {
    for (const bad of ['', 'abc', '1.234', '-1', '1e3', '.5', '1.']) expect(parseYuanToFen(bad)).toBeNull();
  });

  it('round-trips with fenToYuanText', () => {
    for (const fen of [0, 1, 99, 100, 123456, 20_000_000]) expect(parseYuanToFen(fenToYuanText(fen))).toBe(fen);
  });
});
