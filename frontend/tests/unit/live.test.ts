import { describe, expect, it } from 'vitest';
import type { AccountOverviewQuery } from '@/api/generated/graphql';
import type { AccountChange } from '@/composables/useAccountLive';
import { withChange } from '@/pages/overview/dashboard/live';

const figures = { available: 100, used: 20, arrears: 0, expired: 0, bought: 120 };
const overview = {
  account: {
    id: 'QWNjb3VudDox',
    name: 'Hospital',
    status: 'ACTIVE',
    arrearsSince: null,
    suspendsAt: null,
    lowBalanceThreshold: 10,
    examFigures: figures,
  },
} as unknown as AccountOverviewQuery;

function change(overrides: Partial<AccountChange> = {}): AccountChange {
  return {
    accountId: 'QWNjb3VudDox',
    status: 'ACTIVE',
    arrearsSince: null,
    suspendsAt: null,
    lowBalanceThreshold: 10,
    examFigures: figures,
    newestNotice: null,
    ...overrides,
  } as AccountChange;
}

describe('a pushed account change on the overview', () => {
  it('replaces the figures and status it carries, keeping the rest', () => {
    // given an upload pushed new figures and arrears
    const pushed = change({ status: 'IN_ARREARS', arrearsSince: '2026-03-01T00:00:00Z', examFigures: { ...figures, available: 0, arrears: 3 } });
    // then the overview shows them, with its other fields untouched
    const next = withChange(overview, pushed);
    expect(next.account?.examFigures.available).toBe(0);
    expect(next.account?.examFigures.arrears).toBe(3);
    expect(next.account?.status).toBe('IN_ARREARS');
    expect(next.account?.name).toBe('Hospital');
    expect(overview.account?.examFigures.available).toBe(100);
  });

  it('is the same answer when nothing shown differs or another account changed', () => {
    expect(withChange(overview, change())).toBe(overview);
    expect(withChange(overview, change({ accountId: 'QWNjb3VudDoy', examFigures: { ...figures, used: 99 } }))).toBe(overview);
  });
});
