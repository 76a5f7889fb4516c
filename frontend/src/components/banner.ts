/**
 * What the status banner says: the upload status (R-ARR-1..3), low balance (R-ARR-2:
 * 0 < available <= threshold) and the next lot to expire (R-EXAM-2), as one sentence
 * that matches the figures on the same screen.
 */
import type { AccountStatus } from '@/api/generated/graphql';
import { formatDateTime, hoursUntil } from '@/utils/time';

export type BannerTone = 'ACTIVE' | 'LOW_BALANCE' | 'NONE_AVAILABLE' | 'IN_ARREARS' | 'SUSPENDED';

export interface BannerInput {
  status: AccountStatus;
  arrears?: number;
  suspendsAt?: string | null;
  available?: number | null;
  lowBalanceThreshold?: number | null;
  nextExpiry?: { amount: number; at: string } | null;
}

export interface Banner {
  tone: BannerTone;
  theme: 'success' | 'warning' | 'error';
  title: string;
  message: string;
}

type Translate = (key: string, values?: Record<string, string | number>) => string;

export function bannerTone(input: BannerInput): BannerTone {
  if (input.status !== 'ACTIVE') return input.status;
  const available = input.available ?? null;
  const threshold = input.lowBalanceThreshold ?? null;
  if (available === 0) return 'NONE_AVAILABLE';
  if (available !== null && threshold !== null && available > 0 && available <= threshold) return 'LOW_BALANCE';
  return 'ACTIVE';
}

export function banner(input: BannerInput, t: Translate, locale: string, now: Date): Banner {
  const tone = bannerTone(input);
  const n = (v: number | null | undefined) => (v ?? 0).toLocaleString(locale);
  const theme = tone === 'SUSPENDED' ? 'error' : tone === 'ACTIVE' ? 'success' : 'warning';
  let message: string;
  if (tone === 'IN_ARREARS') {
    const at = input.suspendsAt ? formatDateTime(input.suspendsAt) : '—';
    const hours = input.suspendsAt ? hoursUntil(input.suspendsAt, now) : 0;
    message = t('banner.IN_ARREARS.message', { at, hours, arrears: n(input.arrears) });
  } else if (tone === 'SUSPENDED') {
    const since = input.suspendsAt ? formatDateTime(input.suspendsAt) : '—';
    message = t('banner.SUSPENDED.message', { since, arrears: n(input.arrears) });
  } else if (tone === 'NONE_AVAILABLE') {
    message = t('banner.NONE_AVAILABLE.message');
  } else if (tone === 'LOW_BALANCE') {
    message = t('banner.LOW_BALANCE.message', { available: n(input.available), threshold: n(input.lowBalanceThreshold) });
  } else {
    message = t('banner.ACTIVE.message');
  }
  if ((tone === 'ACTIVE' || tone === 'LOW_BALANCE') && input.nextExpiry) {
    message += t('banner.nextExpiry', { amount: n(input.nextExpiry.amount), at: formatDateTime(input.nextExpiry.at) });
  }
  return { tone, theme, title: t(`banner.${tone}.title`), message };
}

/** The soonest-expiring lot that still has exams left (R-EXAM-3's draw order). */
export function nextExpiry(
  lots: ReadonlyArray<{ expiresAt: string; remaining: number; expired: boolean }>,
): { amount: number; at: string } | null {
  const open = lots.filter((lot) => !lot.expired && lot.remaining > 0);
  if (open.length === 0) return null;
  const soonest = open.reduce((a, b) => (Date.parse(b.expiresAt) < Date.parse(a.expiresAt) ? b : a));
  return { amount: soonest.remaining, at: soonest.expiresAt };
}
