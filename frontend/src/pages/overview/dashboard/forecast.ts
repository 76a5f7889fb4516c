/** What the overview says of the run-out forecast (R-GEN-9), as sentences that match the numbers. */

import { formatDate } from '@/utils/time';

export type RunOutReason = 'USED_UP' | 'LAST_LOT_EXPIRES' | 'NOTHING_AVAILABLE' | 'NO_USAGE';

export interface Forecast {
  reason: RunOutReason;
  daysLeft: number | null;
  on: string | null;
  projectedForfeitTotal: number;
  lots: ReadonlyArray<{ expiresAt: string; projectedForfeit: number }>;
}

type Translate = (key: string, values?: Record<string, string>) => string;

/** The hint under the "available" figure. */
export function runOutHint(forecast: Forecast | null | undefined, t: Translate, locale: string): string {
  if (!forecast) return t('figures.availableHint');
  const n = (v: number) => v.toLocaleString(locale);
  switch (forecast.reason) {
    case 'NOTHING_AVAILABLE':
      return t('figures.ranOut');
    case 'NO_USAGE':
      return t('figures.noUsageForecast');
    case 'LAST_LOT_EXPIRES':
      return t('figures.runOutExpires', {
        on: formatDate(forecast.on),
        forfeit: n(forecast.projectedForfeitTotal),
      });
    case 'USED_UP':
      return t('figures.runOut', { days: n(forecast.daysLeft ?? 0), on: formatDate(forecast.on) });
  }
}

/** One line per lot projected to forfeit exams at its expiry, soonest first. */
export function forfeitLines(forecast: Forecast | null | undefined, t: Translate, locale: string): string[] {
  return (forecast?.lots ?? [])
    .filter((lot) => lot.projectedForfeit > 0)
    .map((lot) =>
      t('figures.forfeitLine', { amount: lot.projectedForfeit.toLocaleString(locale), on: formatDate(lot.expiresAt) }),
    );
}
