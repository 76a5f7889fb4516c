import { createRouter, createWebHistory, type RouteLocationNormalized, type RouteRecordRaw } from 'vue-router';
import { onSessionLost } from '@/api/client';
import ConsoleLayout from '@/layouts/ConsoleLayout.vue';
import { reportError } from '@/api/notify';
import { i18n } from '@/locales';
import { prefetchOverview } from '@/pages/overview/dashboard/query';
import { expectedAccountId, useSession } from '@/store/session';
import account from './modules/account';
import commerce from './modules/commerce';
import operator from './modules/operator';
import records from './modules/records';
import './types';

/** Every page inside the console frame, in menu order. */
export const consoleRoutes: RouteRecordRaw[] = [...account, ...commerce, ...records, ...operator];

const routes: RouteRecordRaw[] = [
  {
    path: '/login',
    name: 'login',
    component: () => import('@/pages/login/index.vue'),
    meta: { title: 'login.title', public: true },
  },
  {
    path: '/invitation',
    name: 'invitation',
    component: () => import('@/pages/login/invitation.vue'),
    meta: { title: 'invitation.title', public: true },
  },
  {
    path: '/reset-password',
    name: 'reset-password',
    component: () => import('@/pages/login/invitation.vue'),
    meta: { title: 'passwordReset.title', public: true },
  },
  {
    path: '/',
    component: ConsoleLayout,
    redirect: '/overview',
    children: consoleRoutes,
  },
  {
    path: '/:pathMatch(.*)*',
    name: 'not-found',
    component: () => import('@/pages/result/not-found/index.vue'),
    meta: { title: 'notFound.title', public: true },
  },
];

export const router = createRouter({ history: createWebHistory(), routes });

/** Start fetching the page's code now: the router would only ask for it after the guard has
 * waited for the session, one round trip later on a slow line. */
function warm(to: RouteLocationNormalized): void {
  for (const record of to.matched) {
    const page = record.components?.default;
    if (typeof page === 'function') void (page as () => Promise<unknown>)().catch(() => undefined);
  }
}

router.beforeEach(async (to) => {
  if (to.meta.public) return true;
  warm(to);
  const session = useSession();
  // On the first load, the figures are asked for beside the session check, not after it.
  if (!session.loaded && to.name === 'overview') prefetchOverview(expectedAccountId());
  try {
    await session.ensureLoaded();
  } catch (e) {
    reportError(e);
    return false;
  }
  if (!session.viewer) return { name: 'login', query: to.fullPath === '/' ? {} : { redirect: to.fullPath } };
  if (to.meta.operator && !session.isOperator) return { name: 'overview' };
  return true;
});

router.afterEach((to) => {
  const { t } = i18n.global;
  document.title = to.meta.title ? `${t(to.meta.title)} · ${t('app.title')}` : t('app.title');
});

onSessionLost(() => {
  const session = useSession();
  session.forget();
  const current = router.currentRoute.value;
  if (!current.meta.public) void router.replace({ name: 'login', query: { redirect: current.fullPath } });
});
