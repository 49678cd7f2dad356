import * as v from 'valibot';
import type { DeliveryEvent } from './model.ts';

/**
 * A delivery job: one message on the deliveries queue asking for one attempt
 * of one delivery. It carries the event so an attempt needs no read of it;
 * `attempt` numbers every attempt of the delivery, manual retries included,
 * so a job seen twice is recognised by the delivery record.
 */

const eventSchema = v.object({
  event_id: v.string(),
  event_type: v.string(),
  tenant_id: v.string(),
  occurred_at: v.string(),
  entity_type: v.string(),
  entity_id: v.optional(v.string()),
  tags: v.optional(v.array(v.string())),
  data: v.record(v.string(), v.unknown()),
});

export const deliveryJobSchema = v.object({
  delivery_id: v.pipe(v.string(), v.uuid()),
  tenant: v.string(),
  webhook_id: v.pipe(v.string(), v.uuid()),
  attempt: v.pipe(v.number(), v.integer(), v.minValue(1)),
  /** Not to be attempted before this time (ms epoch): a wait longer than SQS's 15-minute delay. */
  not_before: v.optional(v.number()),
  /** The job holds a rate-limit slot at `not_before`: it goes then without asking again. */
  rate_slot: v.optional(v.boolean()),
  event: eventSchema,
});

export type DeliveryJob = v.InferOutput<typeof deliveryJobSchema> & { event: DeliveryEvent };

/** SQS delays a message by at most 15 minutes; longer waits are chained. */
export const MAX_QUEUE_DELAY_SECONDS = 900;

/** The queue delay for a job due at `dueAtMs`, and whether it must wait again after it. */
export const queueDelaySeconds = (dueAtMs: number, nowMs: number): number =>
  Math.min(MAX_QUEUE_DELAY_SECONDS, Math.max(0, Math.ceil((dueAtMs - nowMs) / 1000)));
