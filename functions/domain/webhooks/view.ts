import * as v from 'valibot';
import { type Security, type WebhookRecord, webhookFields, webhookRecordSchema } from './schema.ts';
import { maskSecret } from './secrets.ts';
import { effectiveContentType } from './webhook.ts';

/**
 * What clients see of a webhook: every field, absent optional ones as null,
 * every secret masked. The signing secret is shown in clear exactly once, in
 * the answer to the create (or, later, rotate) call that made it.
 */

const stored = webhookRecordSchema.entries;
const timestamp = v.pipe(v.string(), v.isoTimestamp());
const nullableTimestamp = v.nullable(timestamp);

/** The answer's webhook object; webhookView's type is its output, so the two cannot differ. */
export const webhookViewSchema = v.strictObject({
  webhook_id: v.pipe(v.string(), v.uuid()),
  tenant: v.string(),
  name: v.string(),
  description: v.nullable(v.string()),
  url: v.string(),
  method: webhookFields.method,
  event_types: v.array(v.string()),
  /** Every secret in it masked. */
  security: stored.security,
  payload_format: webhookFields.payload_format,
  content_type: v.string(),
  custom_headers: v.nullable(v.record(v.string(), v.string())),
  event_filter: v.unwrap(stored.event_filter),
  payload_fields: v.unwrap(stored.payload_fields),
  payload_transformation: v.unwrap(stored.payload_transformation),
  retry_config: webhookFields.retry_config,
  is_active: v.boolean(),
  is_test_mode: v.boolean(),
  verify_ssl: v.boolean(),
  secret_token: v.nullable(v.string()),
  rate_limit: webhookFields.rate_limit,
  metadata: v.unwrap(stored.metadata),
  tags: v.nullable(v.array(v.string())),
  /** In clear in the create answer only; masked after. */
  signing_secret: v.string(),
  total_deliveries: v.number(),
  successful_deliveries: v.number(),
  failed_deliveries: v.number(),
  last_delivery_at: nullableTimestamp,
  last_success_at: nullableTimestamp,
  last_failure_at: nullableTimestamp,
  auto_disabled_at: nullableTimestamp,
  created_at: timestamp,
  updated_at: timestamp,
});

export type WebhookView = v.InferOutput<typeof webhookViewSchema>;

const maskedSecurity = (security: Security, signingSecret: string): Security => {
  switch (security.type) {
    case 'basic_auth':
      return { ...security, password: maskSecret(security.password) };
    case 'bearer_token':
    case 'api_key':
      return { ...security, token: maskSecret(security.token) };
    case 'oauth2':
      return { ...security, client_secret: maskSecret(security.client_secret) };
    case 'hmac_signature':
      return { ...security, secret: maskSecret(signingSecret) };
    default:
      return security;
  }
};

export const webhookView = (
  webhook: WebhookRecord,
  options: { revealSigningSecret?: boolean } = {},
): WebhookView => ({
  webhook_id: webhook.webhook_id,
  tenant: webhook.tenant,
  name: webhook.name,
  description: webhook.description ?? null,
  url: webhook.url,
  method: webhook.method,
  event_types: webhook.event_types,
  security: maskedSecurity(webhook.security, webhook.signing_secret),
  payload_format: webhook.payload_format,
  content_type: effectiveContentType(webhook),
  custom_headers: webhook.custom_headers ?? null,
  event_filter: webhook.event_filter ?? null,
  payload_fields: webhook.payload_fields ?? null,
  payload_transformation: webhook.payload_transformation ?? null,
  retry_config: webhook.retry_config,
  is_active: webhook.is_active,
  is_test_mode: webhook.is_test_mode,
  verify_ssl: webhook.verify_ssl,
  secret_token: webhook.secret_token ? maskSecret(webhook.secret_token) : null,
  rate_limit: webhook.rate_limit,
  metadata: webhook.metadata ?? null,
  tags: webhook.tags ?? null,
  signing_secret: options.revealSigningSecret
    ? webhook.signing_secret
    : maskSecret(webhook.signing_secret),
  total_deliveries: webhook.total_deliveries,
  successful_deliveries: webhook.successful_deliveries,
  failed_deliveries: webhook.failed_deliveries,
  last_delivery_at: webhook.last_delivery_at ?? null,
  last_success_at: webhook.last_success_at ?? null,
  last_failure_at: webhook.last_failure_at ?? null,
  auto_disabled_at: webhook.auto_disabled_at ?? null,
  created_at: webhook.created_at,
  updated_at: webhook.updated_at,
});
