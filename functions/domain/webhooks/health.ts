import * as v from 'valibot';
import { successRatio } from '../analytics/aggregate.ts';
import { circuitView, circuitViewSchema } from '../delivery/circuit.ts';
import type { WebhookRecord } from './schema.ts';

/**
 * GET /webhooks/{id}/health, as the contract gives it: the webhook's own
 * counters and last times (test deliveries are in none of them), read from
 * the webhook. `failing`: its last failed attempt is newer than its last
 * successful one; `disabled`: it is switched off, by hand or automatically.
 */

export const HEALTH_STATUSES = ['healthy', 'failing', 'disabled'] as const;

const timestamp = v.nullable(v.pipe(v.string(), v.isoTimestamp()));

export const healthViewSchema = v.strictObject({
  webhook_id: v.pipe(v.string(), v.uuid()),
  status: v.picklist(HEALTH_STATUSES),
  is_active: v.boolean(),
  auto_disabled_at: timestamp,
  total_deliveries: v.number(),
  successful_deliveries: v.number(),
  failed_deliveries: v.number(),
  /** 0..1, four decimals; 1 when there were no deliveries. */
  success_rate: v.pipe(v.number(), v.minValue(0), v.maxValue(1)),
  last_delivery_at: timestamp,
  last_success_at: timestamp,
  last_failure_at: timestamp,
  /** Its circuit breaker and delivery lane (functions/domain/delivery/circuit.ts). */
  circuit: circuitViewSchema,
  checked_at: v.pipe(v.string(), v.isoTimestamp()),
});

export type HealthView = v.InferOutput<typeof healthViewSchema>;

export const healthStatus = (
  webhook: Pick<WebhookRecord, 'is_active' | 'last_success_at' | 'last_failure_at'>,
): HealthView['status'] => {
  if (!webhook.is_active) return 'disabled';
  const { last_failure_at: failure, last_success_at: success } = webhook;
  return failure && (!success || failure > success) ? 'failing' : 'healthy';
};

export const healthView = (webhook: WebhookRecord, now: Date): HealthView => ({
  webhook_id: webhook.webhook_id,
  status: healthStatus(webhook),
  is_active: webhook.is_active,
  auto_disabled_at: webhook.auto_disabled_at ?? null,
  total_deliveries: webhook.total_deliveries,
  successful_deliveries: webhook.successful_deliveries,
  failed_deliveries: webhook.failed_deliveries,
  success_rate:
    Math.round(
      (successRatio(webhook.successful_deliveries, webhook.total_deliveries) ?? 1) * 10_000,
    ) / 10_000,
  last_delivery_at: webhook.last_delivery_at ?? null,
  last_success_at: webhook.last_success_at ?? null,
  last_failure_at: webhook.last_failure_at ?? null,
  circuit: circuitView(webhook, now.getTime()),
  checked_at: now.toISOString(),
});
