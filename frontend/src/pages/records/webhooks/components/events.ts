import type { WebhookEventType } from '@/api/generated/graphql';

/** Every event an endpoint may receive, in the order people think of them. */
export const EVENT_TYPES: readonly WebhookEventType[] = [
  'LOW_BALANCE',
  'ARREARS_STARTED',
  'UPLOADS_SUSPENDED',
  'UPLOADS_RESUMED',
  'LOT_EXPIRING_30D',
  'LOT_EXPIRING_7D',
  'ORDER_PAID',
  'ENDPOINT_DISABLED',
  'TEST',
];
