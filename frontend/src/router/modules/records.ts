import type { RouteRecordRaw } from 'vue-router';

/** What happened: notices sent, the audit log, the people of the account. */
const routes: RouteRecordRaw[] = [
  {
    path: '/notices',
    name: 'notices',
    component: () => import('@/pages/records/notices/index.vue'),
    meta: { title: 'nav.notices', group: 'records', icon: 'notification' },
  },
  {
    path: '/audit',
    name: 'audit',
    component: () => import('@/pages/records/audit/index.vue'),
    meta: { title: 'nav.audit', group: 'records', icon: 'secured' },
  },
  {
    path: '/webhooks',
    name: 'webhooks',
    component: () => import('@/pages/records/webhooks/index.vue'),
    meta: { title: 'nav.webhooks', group: 'records', icon: 'link' },
  },
  {
    path: '/users',
    name: 'users',
    component: () => import('@/pages/records/users/index.vue'),
    meta: { title: 'nav.users', group: 'records', icon: 'usergroup' },
  },
];

export default routes;
