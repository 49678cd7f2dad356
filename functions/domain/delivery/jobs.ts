import * as v from 'valibot';
import { deliveryEventSchema } from './model.ts';
import type { DeliveryRecord } from './record.ts';

/**
 * A delivery job: one message on the deliveries queue asking for one attempt
 * of one delivery. It carries the event so an attempt needs no read of it;
 * `attempt` numbers every attempt of the delivery, manual retries included,
 * so a job seen twice is recognised by the delivery record.
 */

export const deliveryJobSchema = v.object({
  delivery_id: v.pipe(v.string(), v.uuid()),
  tenant: v.string(),
  webhook_id: v.pipe(v.string(), v.uuid()),
  attempt: v.pipe(v.number(), v.integer(), v.minValue(1)),
  /** Not to be attempted before this time (ms epoch): a wait longer than SQS's 15-minute delay. */
  not_before: v.optional(v.number()),
  /** The job holds a rate-limit slot at `not_before`: it goes then without asking again. */
  rate_slot: v.optional(v.boolean()),
  /** Held back since this time (ISO) by the receiver's open circuit: its history says so already. */
  held_since: v.optional(v.string()),
  event: deliveryEventSchema,
});

export type DeliveryJob = v.InferOutput<typeof deliveryJobSchema>;

/**
 * A queue message's body as a delivery job; undefined when it is not one.
 * The delivery worker and the dead-letter CLI read jobs with this one parser.
 */
export const parseDeliveryJob = (body: string): DeliveryJob | undefined => {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  const result = v.safeParse(deliveryJobSchema, parsed);
  return result.success ? result.output : undefined;
};

/** The job of attempt `attempt` of a delivery, as its record describes it. */
export const jobOf = (record: DeliveryRecord, attempt: number): DeliveryJob => ({
  delivery_id: record.delivery_id,
  tenant: record.tenant,
  webhook_id: record.webhook_id,
  attempt,
  event: record.event,
});

/** SQS delays a message by at most 15 minutes; longer waits are chained. */
export const MAX_QUEUE_DELAY_SECONDS = 900;

/** The queue delay, in whole seconds, for a job due at `dueAtMs`. */
export const queueDelaySeconds = (dueAtMs: number, nowMs: number): number =>
  Math.min(MAX_QUEUE_DELAY_SECONDS, Math.max(0, Math.ceil((dueAtMs - nowMs) / 1000)));

/**
 * A job due at `dueAtMs` as the message that waits for it. A rate slot keeps
 * its time and arrives a second early to wait for it in the function; other
 * jobs carry a time only when SQS cannot delay them that long, and arrive
 * early then to wait again.
 */
export const queuedJob = (
  job: DeliveryJob,
  dueAtMs: number,
  nowMs: number,
): { job: DeliveryJob; delaySeconds: number } => {
  const { not_before: _, ...rest } = job;
  if (job.rate_slot) {
    return {
      job: { ...rest, not_before: dueAtMs },
      delaySeconds: Math.max(0, queueDelaySeconds(dueAtMs, nowMs) - 1),
    };
  }
  return {
    job: dueAtMs > nowMs + MAX_QUEUE_DELAY_SECONDS * 1000 ? { ...rest, not_before: dueAtMs } : rest,
    delaySeconds: queueDelaySeconds(dueAtMs, nowMs),
  };
};
