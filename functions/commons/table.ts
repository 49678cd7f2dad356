/**
 * The layout of the config table (docs/data-model.md explains it): one
 * partition per tenant holding its webhooks, one item per API key, and an
 * index over keys for the keys CLI.
 */
export const KEYS = {
  partition: 'PK',
  sort: 'SK',
  gsi1Partition: 'GSI1PK',
  gsi1Sort: 'GSI1SK',
} as const;

export const GSI1 = 'GSI1';

export const tenantPartition = (tenant: string) => `TENANT#${tenant}`;
export const TENANT_SORT = 'TENANT';
/** On the tenant item: how many webhooks the tenant has, kept by conditional updates. */
export const WEBHOOK_COUNT = 'webhook_count';
export const WEBHOOK_SORT_PREFIX = 'WEBHOOK#';
export const webhookSort = (webhookId: string) => `${WEBHOOK_SORT_PREFIX}${webhookId}`;

export const apiKeyPartition = (keyId: string) => `APIKEY#${keyId}`;
export const API_KEY_SORT = 'APIKEY';
/** Every key sits in one index partition: keys are few and written rarely. */
export const API_KEYS_INDEX_PARTITION = 'APIKEYS';
export const apiKeyIndexSort = (tenant: string, createdAt: string, keyId: string) =>
  `${tenant}#${createdAt}#${keyId}`;

/**
 * The deliveries table: each webhook's deliveries in its own partition, sorted
 * by their time-ordered ids; an item per ingested event for de-duplication;
 * a rate-limit item per webhook; a share item per tenant (TENANT#<tenant>).
 */
export const WEBHOOK_PARTITION_PREFIX = 'WEBHOOK#';
export const webhookPartition = (webhookId: string) => `${WEBHOOK_PARTITION_PREFIX}${webhookId}`;
export const DELIVERY_SORT_PREFIX = 'DELIVERY#';
export const deliverySort = (deliveryId: string) => `${DELIVERY_SORT_PREFIX}${deliveryId}`;
export const RATE_SORT = 'RATE';
/** A tenant's share clock (functions/domain/delivery/tenant-share.ts), under its own partition. */
export const SHARE_SORT = 'SHARE';
export const eventPartition = (tenant: string, eventId: string) => `EVENT#${tenant}#${eventId}`;
export const EVENT_SORT = 'EVENT';
/** Seconds since the epoch after which DynamoDB's TTL may delete the item. */
export const EXPIRES_AT = 'expires_at';
