/**
 * Chart options of the overview, as pure functions of the data (unit-tested).
 * Labels come in already translated; times are drawn in Asia/Shanghai.
 */
import type { CustomSeriesRenderItem, EChartsOption } from 'echarts';
import { formatDate } from '@/utils/time';

const BRAND = '#0052d9';
const BRAND_LIGHT = '#d9e1ff';
const EXPIRED = '#c5c5c5';
const EXPIRED_LIGHT = '#eeeeee';
const WARN = '#e37318';

export interface UsagePoint {
  day: string;
  exams: number;
}

/** One value per day of `days`, 0 where the server reported nothing. */
export function fillDays(points: readonly UsagePoint[], days: readonly string[]): number[] {
  const byDay = new Map(points.map((p) => [p.day.slice(0, 10), p.exams]));
  return days.map((d) => byDay.get(d) ?? 0);
}

export interface UsageLabels {
  exams: string;
  empty: string;
}

/** Daily uploads over the last `days.length` days (consumption trend). */
export function usageTrendOption(
  points: readonly UsagePoint[],
  days: readonly string[],
  labels: UsageLabels,
  animation: boolean,
): EChartsOption {
  const values = fillDays(points, days);
  const empty = values.every((v) => v === 0);
  return {
    animation,
    grid: { left: 48, right: 16, top: 24, bottom: 32 },
    tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
    xAxis: {
      type: 'category',
      data: [...days],
      axisTick: { alignWithLabel: true },
      axisLabel: { formatter: (v: string) => v.slice(5) },
    },
    yAxis: { type: 'value', minInterval: 1, splitLine: { lineStyle: { type: 'dashed' } } },
    series: [
      {
        name: labels.exams,
        type: 'bar',
        data: values,
        barMaxWidth: 14,
        itemStyle: { color: BRAND, borderRadius: [3, 3, 0, 0] },
      },
    ],
    graphic: empty
      ? [{ type: 'text', left: 'center', top: 'middle', style: { text: labels.empty, fill: '#999', fontSize: 14 } }]
      : [],
  };
}

export interface TimelineLot {
  id: string;
  mode: 'VOLUME' | 'ANNUAL';
  quantity: number;
  used: number;
  remaining: number;
  forfeited: number;
  expired: boolean;
  purchasedAt: string;
  expiresAt: string;
}

export interface TimelineLabels {
  lot: (lot: TimelineLot, index: number) => string;
  now: string;
  used: string;
  remaining: string;
  forfeited: string;
  purchased: string;
  expires: string;
}

/** Row data of the timeline: [row, start ms, end ms, used fraction, expired 0/1]. */
export function timelineRows(lots: readonly TimelineLot[]): [number, number, number, number, number][] {
  return lots.map((lot, i) => [
    i,
    new Date(lot.purchasedAt).getTime(),
    new Date(lot.expiresAt).getTime(),
    lot.quantity > 0 ? Math.min(1, lot.used / lot.quantity) : 0,
    lot.expired ? 1 : 0,
  ]);
}

/** Draws one lot: its full life (purchase → expiry) as a light bar, filled by what was used. */
export const renderLot: CustomSeriesRenderItem = (_params, api) => {
  const row = api.value(0) as number;
  const start = api.coord([api.value(1), row]) as number[];
  const end = api.coord([api.value(2), row]) as number[];
  const used = api.value(3) as number;
  const expired = api.value(4) === 1;
  const height = ((api.size?.([0, 1]) as number[] | undefined)?.[1] ?? 20) * 0.5;
  const x = start[0] ?? 0;
  const y = (start[1] ?? 0) - height / 2;
  const width = Math.max(2, (end[0] ?? 0) - x);
  return {
    type: 'group',
    children: [
      { type: 'rect', shape: { x, y, width, height, r: 4 }, style: { fill: expired ? EXPIRED_LIGHT : BRAND_LIGHT } },
      { type: 'rect', shape: { x, y, width: width * used, height, r: 4 }, style: { fill: expired ? EXPIRED : BRAND } },
    ],
  };
};

/** Lot timeline: one row per lot, newest on top, with a line at `now`. */
export function lotTimelineOption(
  lots: readonly TimelineLot[],
  now: Date,
  labels: TimelineLabels,
  animation: boolean,
): EChartsOption {
  const rows = timelineRows(lots);
  const starts = rows.map((r) => r[1]);
  const ends = rows.map((r) => r[2]);
  const day = 86_400_000;
  const min = starts.length ? Math.min(...starts) - 7 * day : now.getTime() - 30 * day;
  const max = ends.length ? Math.max(...ends, now.getTime()) + 7 * day : now.getTime() + 365 * day;
  return {
    animation,
    // Room for the lot names; longer ones end in an ellipsis rather than being cut off.
    grid: { left: 196, right: 32, top: 16, bottom: 32, containLabel: false },
    tooltip: {
      trigger: 'item',
      formatter: (p: unknown) => {
        const index = (p as { dataIndex?: number }).dataIndex ?? 0;
        const lot = lots[index];
        if (!lot) return '';
        return [
          `<strong>${labels.lot(lot, index)}</strong>`,
          `${labels.purchased}: ${formatDate(lot.purchasedAt)}`,
          `${labels.expires}: ${formatDate(lot.expiresAt)}`,
          `${labels.used}: ${lot.used.toLocaleString()} / ${lot.quantity.toLocaleString()}`,
          `${labels.remaining}: ${lot.remaining.toLocaleString()}`,
          lot.forfeited ? `${labels.forfeited}: ${lot.forfeited.toLocaleString()}` : '',
        ]
          .filter(Boolean)
          .join('<br/>');
      },
    },
    xAxis: {
      type: 'time',
      min,
      max,
      axisLabel: { formatter: (v: number) => formatDate(new Date(v)).slice(0, 7) },
      splitLine: { show: true, lineStyle: { type: 'dashed' } },
    },
    yAxis: {
      type: 'category',
      inverse: true,
      data: lots.map((lot, i) => labels.lot(lot, i)),
      axisTick: { show: false },
      axisLabel: { width: 180, overflow: 'truncate' },
    },
    series: [
      {
        type: 'custom',
        renderItem: renderLot,
        encode: { x: [1, 2], y: 0 },
        data: rows,
        markLine: {
          symbol: 'none',
          silent: true,
          label: { formatter: labels.now, color: WARN },
          lineStyle: { color: WARN, type: 'solid', width: 1.5 },
          data: [{ xAxis: now.getTime() }],
        },
      },
    ],
  };
}
