import { describe, expect, it } from 'vitest';
import { fillDays, lotTimelineOption, timelineRows, usageTrendOption, type TimelineLot } from '@/charts/options';
import { lot } from './lots';

const labels = {
  lot: (lot: TimelineLot) => `${lot.mode} ${lot.quantity}`,
  now: 'now',
  used: 'used',
  remaining: 'remaining',
  forfeited: 'forfeited',
  purchased: 'purchased',
  expires: 'expires',
};

describe('usage trend', () => {
  const days = ['2026-03-01', '2026-03-02', '2026-03-03'];

  it('fills days the server did not report with zero', () => {
    expect(fillDays([{ day: '2026-03-02', exams: 7 }], days)).toEqual([0, 7, 0]);
  });

  it('is a bar series over the days, without animation when asked', () => {
    const option = usageTrendOption([{ day: '2026-03-03', exams: 4 }], days, { exams: 'Uploads', empty: 'none' }, false);
    expect(option.animation).toBe(false);
    expect(option.xAxis).toMatchObject({ type: 'category', data: days });
    expect(option.series).toEqual([expect.objectContaining({ type: 'bar', name: 'Uploads', data: [0, 0, 4] })]);
    expect(option.graphic).toEqual([]);
  });

  it('says so when there is no usage at all', () => {
    const option = usageTrendOption([], days, { exams: 'Uploads', empty: 'No usage' }, true);
    expect(option.animation).toBe(true);
    expect(JSON.stringify(option.graphic)).toContain('No usage');
  });
});

describe('lot timeline', () => {
  it('gives each lot its span and used share', () => {
    const rows = timelineRows([lot(), lot({ id: 'L2', used: 10_000, remaining: 0, expired: true })]);
    expect(rows[0]).toEqual([0, Date.parse('2026-01-01T00:00:00Z'), Date.parse('2027-01-01T00:00:00Z'), 0.25, 0]);
    expect(rows[1]?.[3]).toBe(1);
    expect(rows[1]?.[4]).toBe(1);
  });

  it('labels one row per lot and marks now', () => {
    const now = new Date('2026-06-01T00:00:00Z');
    const option = lotTimelineOption([lot(), lot({ mode: 'ANNUAL', quantity: 20_000 })], now, labels, false);
    expect(option.animation).toBe(false);
    expect(option.yAxis).toMatchObject({ type: 'category', data: ['VOLUME 10000', 'ANNUAL 20000'] });
    const series = (option.series as { type: string; markLine: { data: { xAxis: number }[] } }[])[0];
    expect(series?.type).toBe('custom');
    expect(series?.markLine.data[0]?.xAxis).toBe(now.getTime());
    const x = option.xAxis as { min: number; max: number };
    expect(x.min).toBeLessThan(Date.parse('2026-01-01T00:00:00Z'));
    expect(x.max).toBeGreaterThan(Date.parse('2027-01-01T00:00:00Z'));
  });

  it('has a sensible empty axis', () => {
    const now = new Date('2026-06-01T00:00:00Z');
    const x = lotTimelineOption([], now, labels, true).xAxis as { min: number; max: number };
    expect(x.min).toBeLessThan(now.getTime());
    expect(x.max).toBeGreaterThan(now.getTime());
  });

  it('writes a tooltip with the lot figures', () => {
    const option = lotTimelineOption([lot({ forfeited: 12 })], new Date('2026-06-01T00:00:00Z'), labels, false);
    const formatter = (option.tooltip as { formatter: (p: unknown) => string }).formatter;
    const html = formatter({ dataIndex: 0 });
    expect(html).toContain('VOLUME 10000');
    expect(html).toContain('forfeited: 12');
    expect(html).toContain('purchased: 2026-01-01');
  });
});
