import type { RouteRecordRaw } from 'vue-router';

/** Buying and the orders that result. */
const routes: RouteRecordRaw[] = [
  {
    path: '/buy',
    name: 'buy',
    component: () => import('@/pages/commerce/buy/index.vue'),
    meta: { title: 'nav.buy', group: 'commerce', icon: 'cart' },
  },
  {
    path: '/orders',
    name: 'orders',
    component: () => import('@/pages/commerce/orders/index.vue'),
    meta: { title: 'nav.orders', group: 'commerce', icon: 'file-paste' },
  },
  {
    path: '/orders/:id',
    name: 'order-detail',
    component: () => import('@/pages/commerce/order-detail/index.vue'),
    meta: { title: 'nav.orderDetail', hidden: true, activeMenu: '/orders' },
  },
];

export default routes;
