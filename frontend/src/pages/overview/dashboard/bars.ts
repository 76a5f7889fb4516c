/**
 * The overview's two pictures as plain numbers for HTML bars: they draw with the figures,
 * without a chart library on the first page (the interactive charts live on the lots page).
 */
import { fillDays, type TimelineLot, type UsagePoint } from '@/charts/options';

export interface DayBar {
  day: string;
  exams: number;
  /** Height as a share of the busiest day, 0–100. */
  height: number;
}

export interface UsageSummary {
  bars: DayBar[];
  total: number;
  average: number;
  peak: DayBar | null;
}

export function usageBars(points: readonly UsagePoint[], days: readonly string[]): UsageSummary {
  const values = fillDays(points, days);
  const max = Math.max(0, ...values);
  const bars = days.map((day, i) => {
    const exams = values[i] ?? 0;
    return { day, exams, height: max > 0 ? (exams / max) * 100 : 0 };
  });
  const total = values.reduce((sum, v) => sum + v, 0);
  const peak = max > 0 ? (bars.find((b) => b.exams === max) ?? null) : null;
  return { bars, total, average: days.length ? total / days.length : 0, peak };
}

export interface LotSpan {
  lot: TimelineLot;
  /** Where the lot's life starts and how long it runs, as shares of the axis, 0–100. */
  left: number;
  width: number;
  /** How much of the lot was used, 0–100 of its own bar. */
  used: number;
}

export interface LotAxis {
  spans: LotSpan[];
  /** Where today falls on the axis, 0–100. */
  now: number;
  start: Date;
  end: Date;
}

const DAY_MS = 86_400_000;

/** One row per lot on a shared time axis from the first purchase to the last expiry (or today). */
export function lotSpans(lots: readonly TimelineLot[], now: Date): LotAxis {
  const starts = lots.map((l) => new Date(l.purchasedAt).getTime());
  const ends = lots.map((l) => new Date(l.expiresAt).getTime());
  const min = Math.min(now.getTime(), ...starts) - 7 * DAY_MS;
  const max = Math.max(now.getTime(), ...ends) + 7 * DAY_MS;
  const at = (ms: number) => ((ms - min) / (max - min)) * 100;
  const spans = lots.map((lot, i) => {
    const left = at(starts[i] ?? min);
    return {
      lot,
      left,
      width: Math.max(0.5, at(ends[i] ?? max) - left),
      used: lot.quantity > 0 ? Math.min(100, (lot.used / lot.quantity) * 100) : 0,
    };
  });
  return { spans, now: at(now.getTime()), start: new Date(min), end: new Date(max) };
}
