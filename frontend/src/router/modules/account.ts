import type { RouteRecordRaw } from 'vue-router';

/** Pages about the current account's balances and entitlements. */
const routes: RouteRecordRaw[] = [
  {
    path: '/overview',
    name: 'overview',
    component: () => import('@/pages/overview/dashboard/index.vue'),
    meta: { title: 'nav.overview', group: 'account', icon: 'dashboard' },
  },
  {
    path: '/exams/lots',
    name: 'exam-lots',
    component: () => import('@/pages/exams/lots/index.vue'),
    meta: { title: 'nav.examLots', group: 'account', icon: 'layers' },
  },
  {
    path: '/exams/list',
    name: 'exam-list',
    component: () => import('@/pages/exams/list/index.vue'),
    meta: { title: 'nav.examList', group: 'account', icon: 'view-list' },
  },
  {
    path: '/exams/lookup',
    name: 'exam-lookup',
    component: () => import('@/pages/exams/lookup/index.vue'),
    meta: { title: 'nav.examLookup', group: 'account', icon: 'search' },
  },
  {
    path: '/ai',
    name: 'ai',
    component: () => import('@/pages/ai/reading/index.vue'),
    meta: { title: 'nav.ai', group: 'account', icon: 'chart-bubble' },
  },
  {
    path: '/institutions',
    name: 'institutions',
    component: () => import('@/pages/institutions/list/index.vue'),
    meta: { title: 'nav.institutions', group: 'account', icon: 'city' },
  },
];

export default routes;
