import type { RouteRecordRaw } from 'vue-router';

/** Platform operators only. */
const routes: RouteRecordRaw[] = [
  {
    path: '/ops/accounts',
    name: 'ops-accounts',
    component: () => import('@/pages/ops/accounts/index.vue'),
    meta: { title: 'nav.accounts', group: 'operator', icon: 'user-list', operator: true },
  },
  {
    path: '/ops/offline-orders',
    name: 'ops-offline-orders',
    component: () => import('@/pages/ops/offline-orders/index.vue'),
    meta: { title: 'nav.offlineOrders', group: 'operator', icon: 'file-add', operator: true },
  },
  {
    path: '/ops/payee',
    name: 'ops-payee',
    component: () => import('@/pages/ops/payee/index.vue'),
    meta: { title: 'nav.payee', group: 'operator', icon: 'wallet', operator: true },
  },
  {
    path: '/ops/prices',
    name: 'ops-prices',
    component: () => import('@/pages/ops/prices/index.vue'),
    meta: { title: 'nav.prices', group: 'operator', icon: 'money', operator: true },
  },
  {
    path: '/ops/adjustments',
    name: 'ops-adjustments',
    component: () => import('@/pages/ops/adjustments/index.vue'),
    meta: { title: 'nav.adjustments', group: 'operator', icon: 'edit-1', operator: true },
  },
  {
    path: '/ops/tokens',
    name: 'ops-tokens',
    component: () => import('@/pages/ops/tokens/index.vue'),
    meta: { title: 'nav.operatorTokens', group: 'operator', icon: 'secured', operator: true },
  },
];

export default routes;
