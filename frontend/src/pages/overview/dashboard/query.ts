/** What the overview asks, shared with the router so it can ask ahead (api/client.ts prefetch). */
import { prefetch } from '@/api/client';
import { AccountOverviewDocument } from '@/api/generated/graphql';

export const USAGE_DAYS = 90;

export const overviewVariables = (id: string) => ({ id, days: USAGE_DAYS });

export function prefetchOverview(id: string | null): void {
  if (id) prefetch(AccountOverviewDocument, overviewVariables(id));
}
