import { describe, expect, it } from 'vitest';
import { lotSpans, usageBars } from '@/pages/overview/dashboard/bars';
import { lot } from './lots';

describe('usage bars', () => {
  const days = ['2026-03-01', '2026-03-02', '2026-03-03', '2026-03-04'];

  it('scales each day to the busiest and sums the window', () => {
    // given uploads on two of four days
    const summary = usageBars(
      [
        { day: '2026-03-02', exams: 40 },
        { day: '2026-03-04', exams: 10 },
      ],
      days,
    );
    // then the busiest day is full height, quiet days are zero, and the sentence's numbers add up
    expect(summary.bars.map((b) => b.height)).toEqual([0, 100, 0, 25]);
    expect(summary.total).toBe(50);
    expect(summary.average).toBe(12.5);
    expect(summary.peak?.day).toBe('2026-03-02');
  });

  it('has no peak and no height when nothing was uploaded', () => {
    const summary = usageBars([], days);
    expect(summary.peak).toBeNull();
    expect(summary.bars.every((b) => b.height === 0)).toBe(true);
    expect(summary.total).toBe(0);
  });
});

describe('lot spans', () => {
  const now = new Date('2026-07-01T00:00:00Z');

  it('places each lot on one axis with today between its ends', () => {
    // given a lot bought in January and one bought in June, a year each
    const axis = lotSpans([lot(), lot({ id: 'L2', purchasedAt: '2026-06-01T00:00:00Z', expiresAt: '2027-06-01T00:00:00Z', used: 10_000 })], now);
    const [first, second] = axis.spans;
    // then the earlier lot starts first, the later one ends last, and both stay inside the axis
    expect(first!.left).toBeLessThan(second!.left);
    expect(second!.left + second!.width).toBeGreaterThan(first!.left + first!.width);
    expect(second!.left + second!.width).toBeLessThanOrEqual(100);
    expect(first!.left).toBeGreaterThanOrEqual(0);
    // and today is after the first purchase, before both expiries; fills follow use
    expect(axis.now).toBeGreaterThan(first!.left);
    expect(axis.now).toBeLessThan(first!.left + first!.width);
    expect(first!.used).toBe(25);
    expect(second!.used).toBe(100);
  });

  it('keeps today on the axis when there are no lots', () => {
    const axis = lotSpans([], now);
    expect(axis.spans).toEqual([]);
    expect(axis.now).toBeGreaterThan(0);
    expect(axis.now).toBeLessThan(100);
  });
});
