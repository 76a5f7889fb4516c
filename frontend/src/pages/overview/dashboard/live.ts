/** A pushed account change (useAccountLive) merged into the overview's answer. */
import type { AccountOverviewQuery } from '@/api/generated/graphql';
import type { AccountChange } from '@/composables/useAccountLive';

/** The overview with the pushed figures and status; the same object when nothing differs
 * or the push is about another account. */
export function withChange(current: AccountOverviewQuery, change: AccountChange): AccountOverviewQuery {
  const account = current.account;
  if (!account || account.id !== change.accountId) return current;
  const figures = { ...account.examFigures, ...change.examFigures };
  const same =
    account.status === change.status &&
    account.arrearsSince === change.arrearsSince &&
    account.suspendsAt === change.suspendsAt &&
    account.lowBalanceThreshold === change.lowBalanceThreshold &&
    (Object.keys(figures) as (keyof typeof figures)[]).every((k) => figures[k] === account.examFigures[k]);
  if (same) return current;
  return {
    ...current,
    account: {
      ...account,
      status: change.status,
      arrearsSince: change.arrearsSince,
      suspendsAt: change.suspendsAt,
      lowBalanceThreshold: change.lowBalanceThreshold,
      examFigures: figures,
    },
  };
}
