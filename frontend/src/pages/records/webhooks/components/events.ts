import type { WebhookEventType } from '@/api/generated/graphql';

/** Every event an endpoint may receive, in the order people think of them. */
export const EVENT_TYPES: readonly WebhookEventType[] = [
  'LOW_BALANCE',
  'ARREARS_STARTED',
  'UPLOADS_SUSPENDED',
  'UPLOADS_RESUMED',
  'LOT_EXPIRING_30D',
  'LOT_EXPIRING_7D',
  'LOT_EXPIRED',
  'AI_PACK_LOW',
  'AI_PACK_EXPIRED',
  'ORDER_PAID',
  'ORDER_FULFILLED',
  'LICENCE_GRANTED',
  'SERVICE_STATE_CHANGED',
  'ENDPOINT_DISABLED',
  'TEST',
];
