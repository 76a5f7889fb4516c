import type { TimelineLot } from '@/charts/options';

/** A lot of 10,000 bought on 1 January 2026, a quarter used; `over` changes what a test needs. */
export const lot = (over: Partial<TimelineLot> = {}): TimelineLot => ({
  id: 'L1',
  mode: 'VOLUME',
  quantity: 10_000,
  used: 2_500,
  remaining: 7_500,
  forfeited: 0,
  expired: false,
  purchasedAt: '2026-01-01T00:00:00Z',
  expiresAt: '2027-01-01T00:00:00Z',
  ...over,
});
