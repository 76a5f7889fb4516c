/**
 * Who is signed in and which account the console shows. People of an account see
 * their own; operators pick one in the header (remembered per browser).
 */
import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import { ApiError, mutate, query } from '@/api/client';
import { closeLive } from '@/api/live';
import { LoginDocument, LogoutDocument, ViewerDocument, type Role, type ViewerQuery } from '@/api/generated/graphql';
import { adoptStoredLanguage } from '@/locales';
import type { UserErrorLike } from '@/utils/errors';

export type Viewer = ViewerQuery['viewer'];

interface ChosenAccount {
  id: string;
  name: string;
}

const ACCOUNT_KEY = 'ib.operatorAccount';
// The account this browser showed last: lets the overview ask for its figures while the
// session is still being checked (an opaque ID, no secret; the server still scopes).
const LAST_ACCOUNT_KEY = 'ib.lastAccount';

/** The account the console will most likely show, before the session is known. */
export function expectedAccountId(): string | null {
  try {
    return loadChosen()?.id ?? localStorage.getItem(LAST_ACCOUNT_KEY);
  } catch {
    return null;
  }
}

function rememberLast(id: string | null | undefined): void {
  try {
    if (id) localStorage.setItem(LAST_ACCOUNT_KEY, id);
    else localStorage.removeItem(LAST_ACCOUNT_KEY);
  } catch {
    // only a head start is lost
  }
}

function loadChosen(): ChosenAccount | null {
  try {
    const raw = localStorage.getItem(ACCOUNT_KEY);
    const value: unknown = raw ? JSON.parse(raw) : null;
    if (value && typeof value === 'object' && 'id' in value && 'name' in value) {
      const { id, name } = value as Record<string, unknown>;
      if (typeof id === 'string' && typeof name === 'string') return { id, name };
    }
  } catch {
    // ignore a broken or unavailable storage
  }
  return null;
}

export const useSession = defineStore('session', () => {
  const viewer = ref<Viewer | null>(null);
  const loaded = ref(false);
  const chosen = ref<ChosenAccount | null>(loadChosen());
  /** Bumped after a change of balances (a payment), so headers and banners reload. */
  const revision = ref(0);
  let loading: Promise<void> | null = null;

  const role = computed<Role | null>(() => viewer.value?.role ?? null);
  const isOperator = computed(() => role.value === 'OPERATOR');
  /** Operators and account admins may buy, accept and manage; viewers only look. */
  const canManage = computed(() => role.value === 'OPERATOR' || role.value === 'ACCOUNT_ADMIN');
  const accountId = computed(() => viewer.value?.account?.id ?? (isOperator.value ? (chosen.value?.id ?? null) : null));
  const accountName = computed(() => viewer.value?.account?.name ?? (isOperator.value ? (chosen.value?.name ?? null) : null));

  async function load(): Promise<void> {
    try {
      viewer.value = (await query(ViewerDocument, {})).viewer;
      // A browser without a language chosen here shows the one the person keeps.
      adoptStoredLanguage(viewer.value.language);
      if (viewer.value.role !== 'OPERATOR') rememberLast(viewer.value.account?.id);
    } catch (e) {
      if (!(e instanceof ApiError && e.unauthenticated)) throw e;
      viewer.value = null;
    } finally {
      loaded.value = true;
    }
  }

  /** Load the viewer once per page load (the router guard awaits it). */
  function ensureLoaded(): Promise<void> {
    if (loaded.value) return Promise.resolve();
    loading ??= load().finally(() => {
      loading = null;
    });
    return loading;
  }

  async function login(email: string, password: string): Promise<UserErrorLike[]> {
    const { login: payload } = await mutate(LoginDocument, { email, password });
    if (payload.userErrors.length > 0 || !payload.viewer) return payload.userErrors;
    await load();
    return [];
  }

  async function logout(): Promise<void> {
    try {
      await mutate(LogoutDocument, {});
    } finally {
      forget();
    }
  }

  /** The session ended (401) or the user left: drop what we knew. */
  function forget(): void {
    closeLive();
    viewer.value = null;
    loaded.value = true;
  }

  function touch(): void {
    revision.value += 1;
  }

  function chooseAccount(account: ChosenAccount | null): void {
    chosen.value = account;
    try {
      if (account) localStorage.setItem(ACCOUNT_KEY, JSON.stringify(account));
      else localStorage.removeItem(ACCOUNT_KEY);
    } catch {
      // not remembered, still chosen
    }
  }

  return { viewer, loaded, revision, touch, role, isOperator, canManage, accountId, accountName, ensureLoaded, load, login, logout, forget, chooseAccount };
});
