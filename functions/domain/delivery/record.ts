import * as v from 'valibot';
import {
  DELIVERY_STATUSES,
  type DeliveryEvent,
  deliveryEventSchema,
  ERROR_CLASSES,
} from './model.ts';

/**
 * A delivery: the event, its status, and every attempt, kept together so the
 * detail view is one read (functions/repositories/delivery-item.ts stores it
 * compactly). `attempt_count` counts attempts started;
 * `chain_start` is where the current chain began (a manual retry starts a new
 * chain with a fresh `max_attempts`); `in_flight` marks an attempt started
 * and not yet recorded.
 */

export const attemptRecordSchema = v.object({
  attempt: v.number(),
  started_at: v.string(),
  duration_ms: v.number(),
  request: v.object({
    url: v.string(),
    method: v.string(),
    headers: v.record(v.string(), v.string()),
  }),
  status_code: v.nullish(v.number()),
  response_headers: v.record(v.string(), v.string()),
  response_body: v.string(),
  error_class: v.nullish(v.picklist(ERROR_CLASSES)),
  error_message: v.nullish(v.string()),
  next_retry_at: v.nullish(v.string()),
});

export type AttemptRecord = v.InferOutput<typeof attemptRecordSchema>;

const heldSchema = v.object({ reason: v.string(), since: v.string(), until: v.string() });

export type Held = v.InferOutput<typeof heldSchema>;

export const deliveryRecordSchema = v.object({
  delivery_id: v.string(),
  webhook_id: v.string(),
  tenant: v.string(),
  event: deliveryEventSchema,
  event_type: v.string(),
  status: v.picklist(DELIVERY_STATUSES),
  is_test: v.optional(v.boolean(), false),
  attempt_count: v.number(),
  chain_start: v.optional(v.number(), 0),
  in_flight: v.nullish(
    v.object({ attempt: v.number(), started_at: v.string(), claim: v.optional(v.string()) }),
  ),
  /**
   * The queue message whose job claimed the latest attempt: it alone sees to
   * what follows that attempt when it comes back (the next job, the
   * dead-letter copy), so a duplicate job never queues a second chain.
   */
  claimed_by: v.nullish(v.string()),
  attempts: v.array(attemptRecordSchema),
  next_retry_at: v.nullish(v.string()),
  /** Why a failed or abandoned delivery stopped. */
  final_reason: v.nullish(v.string()),
  /** Set with `abandoned`: its copy is on the dead-letter queue, or being sent there. */
  dead_lettered: v.optional(v.boolean(), false),
  /**
   * The next attempt is held back, not yet made (the receiver's circuit is
   * open): why, since when, and until when at least. Its claim removes it.
   */
  held: v.nullish(heldSchema),
  created_at: v.string(),
  updated_at: v.string(),
  completed_at: v.nullish(v.string()),
  expires_at: v.number(),
});

export type DeliveryRecord = v.InferOutput<typeof deliveryRecordSchema>;

/** When a record written at `fromMs` may expire: the one home of the history's TTL formula. */
export const expiresAt = (fromMs: number, retentionMs: number): number =>
  Math.floor((fromMs + retentionMs) / 1000);

/**
 * A delivery as its first attempt starts, the one place a record is made. A
 * queued delivery's record is written as its claim, holding attempt 1 in
 * flight for the message `claim.messageId`; a test delivery's has no claim.
 */
export const newDeliveryRecord = (input: {
  deliveryId: string;
  webhook: { webhook_id: string; tenant: string };
  event: DeliveryEvent;
  now: Date;
  retentionMs: number;
  isTest?: boolean;
  claim?: { token: string; messageId: string };
  /** When the delivery was first seen, if before `now` (a job held back first). */
  createdAt?: string | undefined;
}): DeliveryRecord => {
  const at = input.now.toISOString();
  return {
    delivery_id: input.deliveryId,
    webhook_id: input.webhook.webhook_id,
    tenant: input.webhook.tenant,
    event: input.event,
    event_type: input.event.event_type,
    status: 'pending',
    is_test: input.isTest ?? false,
    attempt_count: 1,
    chain_start: 0,
    ...(input.claim
      ? {
          in_flight: { attempt: 1, started_at: at, claim: input.claim.token },
          claimed_by: input.claim.messageId,
        }
      : {}),
    attempts: [],
    dead_lettered: false,
    created_at: input.createdAt ?? at,
    updated_at: at,
    expires_at: expiresAt(input.now.getTime(), input.retentionMs),
  };
};

/**
 * A delivery whose first attempt is held back: pending, no attempt started
 * (`attempt_count` 0), and why. The claim of attempt 1 replaces it.
 */
export const heldDeliveryRecord = (
  input: Omit<Parameters<typeof newDeliveryRecord>[0], 'claim' | 'createdAt'>,
  held: Held,
): DeliveryRecord => ({ ...newDeliveryRecord(input), attempt_count: 0, held });

export interface DeliveryOutcome {
  status: DeliveryRecord['status'];
  next_retry_at?: string | undefined;
  final_reason?: string | undefined;
  completed_at?: string | undefined;
  updated_at: string;
}

/**
 * The record once an attempt's outcome is known: the attempt appended (when
 * one was made), the status set, nothing in flight. Written whole, so a batch
 * of outcomes goes to the table in one request.
 */
export const withOutcome = (
  record: DeliveryRecord,
  attempt: AttemptRecord | undefined,
  outcome: DeliveryOutcome,
  retentionMs: number,
): DeliveryRecord => {
  const { in_flight: _, held: __, ...rest } = record;
  return {
    ...rest,
    status: outcome.status,
    attempts: attempt ? [...record.attempts, attempt] : record.attempts,
    next_retry_at: outcome.next_retry_at ?? null,
    final_reason: outcome.final_reason ?? null,
    completed_at: outcome.completed_at ?? null,
    dead_lettered: outcome.status === 'abandoned' || record.dead_lettered,
    updated_at: outcome.updated_at,
    expires_at: expiresAt(Date.parse(outcome.updated_at), retentionMs),
  };
};

/** Attempts a delivery may have in all, manual retries included: bounds the item's size. */
export const MAX_ATTEMPTS_PER_DELIVERY = 20;

/** The history list: a delivery without its attempts' bodies. */
export const deliverySummaryView = (record: DeliveryRecord) => {
  const last = record.attempts.at(-1);
  return {
    delivery_id: record.delivery_id,
    webhook_id: record.webhook_id,
    event_id: record.event.event_id,
    event_type: record.event_type,
    status: record.status,
    is_test: record.is_test,
    attempt_count: record.attempt_count,
    last_status_code: last?.status_code ?? null,
    last_error_class: last?.error_class ?? null,
    last_error_message: last?.error_message ?? null,
    last_attempt_at: last?.started_at ?? null,
    next_retry_at: record.next_retry_at ?? null,
    final_reason: record.final_reason ?? null,
    /** Why the next attempt waits without being made, while it does. */
    delayed: record.held ?? null,
    created_at: record.created_at,
    updated_at: record.updated_at,
    completed_at: record.completed_at ?? null,
  };
};

/** One delivery with its event and every attempt. */
export const deliveryDetailView = (record: DeliveryRecord) => ({
  ...deliverySummaryView(record),
  event: record.event,
  attempts: record.attempts.map((attempt) => ({
    ...attempt,
    status_code: attempt.status_code ?? null,
    error_class: attempt.error_class ?? null,
    error_message: attempt.error_message ?? null,
    next_retry_at: attempt.next_retry_at ?? null,
  })),
});
