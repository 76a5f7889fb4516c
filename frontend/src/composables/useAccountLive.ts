/**
 * Follow an account's figures, status and newest notice as they change (the server
 * pushes them, api/live.ts). Starts after the page has painted, so a cold visit's
 * bytes and requests come first; stops when the page closes or the account changes.
 */
import { onBeforeUnmount, onMounted, ref, watch, type Ref } from 'vue';
import { client } from '@/api/client';
import { AccountChangedDocument, type AccountChangedSubscription } from '@/api/generated/graphql';

export type AccountChange = AccountChangedSubscription['accountChanged'];

export interface AccountLive {
  /** True while pushes arrive (the first one is the account as it is now). */
  live: Ref<boolean>;
}

function afterPaint(run: () => void): void {
  requestAnimationFrame(() => setTimeout(run, 0));
}

export function useAccountLive(accountId: () => string | null, changed: (change: AccountChange) => void): AccountLive {
  const live = ref(false);
  const painted = ref(false);
  let stop: (() => void) | null = null;

  function follow(id: string | null): void {
    stop?.();
    stop = null;
    live.value = false;
    if (!id) return;
    const subscription = client.subscription(AccountChangedDocument, { id }).subscribe((result) => {
      const change = result.data?.accountChanged;
      live.value = !!change && !result.error;
      if (change && change.accountId === id) changed(change);
    });
    stop = subscription.unsubscribe;
  }

  watch([accountId, painted], ([id, ready]) => {
    if (ready) follow(id);
  });
  onMounted(() => afterPaint(() => (painted.value = true)));
  onBeforeUnmount(() => {
    painted.value = false;
    stop?.();
    stop = null;
  });
  return { live };
}
