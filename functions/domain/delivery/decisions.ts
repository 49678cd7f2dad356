import type { FinalStatus, Observation } from '../analytics/aggregate.ts';
import type { WebhookRecord } from '../webhooks/schema.ts';
import type { Lane } from './circuit.ts';
import { deliveryIdTime } from './ids.ts';
import { type DeliveryJob, jobOf } from './jobs.ts';
import { type ErrorClass, failedSend, type SendResult } from './model.ts';
import type { WebhookStats } from './ports.ts';
import {
  type AttemptRecord,
  type DeliveryOutcome,
  type DeliveryRecord,
  MAX_ATTEMPTS_PER_DELIVERY,
  withOutcome,
} from './record.ts';
import { nextStep } from './retry.ts';
import { parseRetryAfter } from './retry-after.ts';

/**
 * What the delivery worker decides, as pure functions: whether a job runs
 * now, what a refused claim means, and what follows an attempt. Each answers
 * data: the record to write and the effects to apply once it is written
 * (executor.ts applies them, in a fixed order). No I/O, no clock: time and
 * randomness come in as arguments.
 */

/** What follows a decision, for the executor to apply. */
export type Effect =
  /** A job back on the queue, due at `dueAtMs`: the next attempt, or a job waiting its turn. */
  | { type: 'enqueue'; job: DeliveryJob; dueAtMs: number; lane?: Lane | undefined }
  /** The job as it last ran, copied to the dead-letter queue. */
  | { type: 'dead-letter'; job: DeliveryJob; reason: string }
  | { type: 'disable-webhook'; tenant: string; webhookId: string; at: string; reason: string }
  /** One attempt (or an ending without one) for the webhook's counters, summed per batch. */
  | { type: 'count'; tenant: string; webhookId: string; tally: AttemptTally }
  /**
   * The same seen from outside: for the batch's metrics, and, unless the
   * delivery is a test (which is never counted), for the analytics aggregates.
   */
  | {
      type: 'observe';
      tenant: string;
      webhookId: string;
      test: boolean;
      observation: DeliveryObservation;
    }
  /** A job waited for its rate-limit slot, on the queue or in the function (a metric). */
  | { type: 'rate-limit-wait' };

export interface DeliveryObservation extends Observation {
  errorClass?: ErrorClass | undefined;
  /** Event accepted to delivered (ms): set for a delivery delivered in its first attempt chain. */
  lagMs?: number | undefined;
}

/** A job put back to wait for its rate-limit slot, or waiting for it in the function. */
export const RATE_LIMIT_WAIT: Effect = { type: 'rate-limit-wait' };

export interface AttemptTally {
  at: string;
  ok: boolean;
  /** False when the delivery ended without sending (a disabled webhook). */
  attempted: boolean;
  /** Set when the delivery reached a final status with this attempt. */
  final?: 'delivered' | 'failed';
}

/**
 * A record to write. Normally the worker holds the attempt's claim, so the
 * write needs no condition; a takeover writes on condition that the stale
 * claim it saw (`takesOver`) is still the one in flight.
 */
export interface RecordWrite {
  record: DeliveryRecord;
  takesOver?: string;
}

/** One job's decision: nothing follows a write that did not happen. */
export interface Decision {
  write?: RecordWrite;
  effects: Effect[];
}

export interface DeliveryPolicy {
  /** How long delivery records are kept. */
  retentionMs: number;
  /** An attempt in flight for longer than this was cut off (the function timed out or crashed). */
  staleAttemptMs: number;
  /** Continuous failure after which a webhook is switched off. */
  autoDisableAfterMs: number;
}

export type DecisionWebhook = Pick<
  WebhookRecord,
  'webhook_id' | 'tenant' | 'url' | 'method' | 'retry_config' | 'is_active' | 'rate_limit'
>;

/** How long a job due soon waits in the function rather than going back to the queue. */
export const SLOT_WAIT_MS = 1000;

/** A job whose wait is over: what scheduled it has done its work. */
const unscheduled = ({ not_before: _, rate_slot: __, ...job }: DeliveryJob): DeliveryJob => job;

/** A job not yet due (a chained long wait, a rate slot) goes back to wait, as it is. */
export const notYetDue = (job: DeliveryJob, nowMs: number): Decision | undefined =>
  job.not_before !== undefined && job.not_before > nowMs + SLOT_WAIT_MS
    ? { effects: [{ type: 'enqueue', job, dueAtMs: job.not_before }] }
    : undefined;

export type Admission<W extends DecisionWebhook> =
  /** The stored webhook no longer reads: a fault to fix, not a deletion; the job comes back. */
  | { kind: 'redeliver'; why: string }
  | { kind: 'drop'; why: string }
  /** Over a rate limit: it needs a slot first (placeInSlot). */
  | { kind: 'limit'; webhook: W }
  | { kind: 'run'; job: DeliveryJob; webhook: W; startAtMs: number };

/** Whether a due job runs, given its webhook as read (`unreadable` when it no longer parses). */
export const admit = <W extends DecisionWebhook>(
  job: DeliveryJob,
  webhook: W | 'unreadable' | undefined,
  nowMs: number,
): Admission<W> => {
  if (webhook === 'unreadable') {
    return { kind: 'redeliver', why: 'its webhook is unreadable' };
  }
  if (!webhook || webhook.tenant !== job.tenant) {
    // Deleting a webhook stops its pending deliveries; their history went with it.
    return { kind: 'drop', why: 'its webhook no longer exists' };
  }
  if (job.rate_slot) {
    return { kind: 'run', job: unscheduled(job), webhook, startAtMs: job.not_before ?? nowMs };
  }
  if (webhook.rate_limit.enabled && webhook.is_active) return { kind: 'limit', webhook };
  return { kind: 'run', job: unscheduled(job), webhook, startAtMs: nowMs };
};

/**
 * A job given a rate-limit slot: one within the second is waited for here
 * (SQS delays count whole seconds); a later one waits on the queue and holds
 * its slot, so it goes without asking again. Waiting never spends an attempt.
 */
export const placeInSlot = (
  job: DeliveryJob,
  slotMs: number,
  nowMs: number,
): { kind: 'run'; job: DeliveryJob; startAtMs: number } | { kind: 'wait'; decision: Decision } =>
  slotMs <= nowMs + SLOT_WAIT_MS
    ? { kind: 'run', job: unscheduled(job), startAtMs: slotMs }
    : {
        kind: 'wait',
        decision: {
          effects: [
            { type: 'enqueue', job: { ...job, rate_slot: true }, dueAtMs: slotMs },
            RATE_LIMIT_WAIT,
          ],
        },
      };

export type ClaimRefusal =
  /** The claim is ours: the SDK retried a write whose answer was lost. */
  | { kind: 'proceed'; record: DeliveryRecord }
  /** Another worker holds a fresh attempt: never a second send; the job comes back later. */
  | { kind: 'redeliver'; why: string }
  | { kind: 'decided'; decision: Decision; why: string };

export interface RefusalContext {
  /** The token of the claim that was refused. */
  claim: string;
  messageId: string;
  webhook: DecisionWebhook;
  now: Date;
  random: () => number;
  policy: DeliveryPolicy;
}

/**
 * A claim was refused; the record, read back, says why. The attempt may be
 * in flight (ours, another worker's, or a dead worker's, taken over once
 * stale) or already made: then only the message that claimed it sees to
 * what follows it, so a duplicate job never starts a second chain.
 */
export const refusedClaim = (
  job: DeliveryJob,
  existing: DeliveryRecord | undefined,
  context: RefusalContext,
): ClaimRefusal => {
  if (!existing)
    return { kind: 'decided', decision: { effects: [] }, why: 'the delivery no longer exists' };
  const { in_flight: flight } = existing;
  if (flight) {
    if (flight.claim === context.claim) return { kind: 'proceed', record: existing };
    const age = context.now.getTime() - Date.parse(flight.started_at);
    if (age < context.policy.staleAttemptMs) {
      return { kind: 'redeliver', why: `attempt ${flight.attempt} is in flight elsewhere` };
    }
    return {
      kind: 'decided',
      decision: takeOver(existing, context),
      why: `attempt ${flight.attempt} was cut off; taken over`,
    };
  }
  if (
    existing.attempt_count === job.attempt - 1 &&
    (existing.status === 'pending' || existing.status === 'retrying')
  ) {
    // Claimable still (a record held back, say): the claim lost a race that moved nothing on.
    return { kind: 'redeliver', why: `attempt ${job.attempt} is still to be claimed` };
  }
  if (existing.attempt_count < job.attempt) {
    return {
      kind: 'decided',
      decision: { effects: [] },
      why: `attempt ${job.attempt} cannot be claimed`,
    };
  }
  if (existing.claimed_by !== context.messageId) {
    return {
      kind: 'decided',
      decision: { effects: [] },
      why: `attempt ${job.attempt} was made already`,
    };
  }
  return {
    kind: 'decided',
    decision: { effects: followUpsOf(existing) },
    why: `attempt ${existing.attempt_count} was recorded; its follow-ups are made sure of`,
  };
};

const CUT_OFF = 'The attempt was cut off before its result was recorded';

/** A dead worker's attempt, recorded as a timeout; the delivery goes on from there. */
const takeOver = (existing: DeliveryRecord, context: RefusalContext): Decision => {
  const flight = existing.in_flight;
  if (!flight) return { effects: [] };
  const attempt: AttemptRecord = {
    attempt: flight.attempt,
    started_at: flight.started_at,
    duration_ms: 0,
    request: { url: context.webhook.url, method: context.webhook.method, headers: {} },
    status_code: null,
    response_headers: {},
    response_body: '',
    error_class: 'timeout',
    error_message: CUT_OFF,
  };
  const decision = afterAttempt(
    { ...existing, claimed_by: context.messageId },
    { attempt, result: failedSend('timeout', CUT_OFF) },
    context.webhook,
    context.now,
    context.random,
    context.policy,
  );
  return decision.write
    ? { ...decision, write: { ...decision.write, takesOver: flight.claim } }
    : decision;
};

/**
 * What an attempt's outcome leads to: the record with the attempt appended
 * and its new status, and what follows (the next job after the retry delay,
 * the dead-letter copy, switching the webhook off on 410 Gone, the counters).
 */
export const afterAttempt = (
  record: DeliveryRecord,
  outcome: { attempt: AttemptRecord; result: SendResult },
  webhook: DecisionWebhook,
  finishedAt: Date,
  random: () => number,
  policy: DeliveryPolicy,
): Decision => {
  const { result } = outcome;
  const number = outcome.attempt.attempt;
  let step = nextStep({
    config: webhook.retry_config,
    attempt: number - record.chain_start,
    statusCode: result.status_code,
    errorClass: result.error_class,
    retryAfterMs:
      result.status_code === 429 || result.status_code === 503
        ? parseRetryAfter(result.response_headers['retry-after'], finishedAt)
        : undefined,
    random,
  });
  if (step.kind === 'retry' && number >= MAX_ATTEMPTS_PER_DELIVERY) {
    step = {
      kind: 'abandon',
      reason: `gave up after ${number} attempts, the most a delivery may have`,
    };
  }
  const at = finishedAt.toISOString();
  const counted = (final?: FinalStatus): Effect[] =>
    observed(record, {
      at,
      eventType: record.event_type,
      attempt: { ok: result.ok, durationMs: outcome.attempt.duration_ms },
      final,
      errorClass: result.error_class,
      lagMs:
        final === 'delivered' && record.chain_start === 0
          ? finishedAt.getTime() - deliveryIdTime(record.delivery_id)
          : undefined,
    });
  const write = (attempt: AttemptRecord, status: DeliveryOutcome) => ({
    record: withOutcome(record, attempt, status, policy.retentionMs),
  });
  switch (step.kind) {
    case 'delivered':
      return {
        write: write(outcome.attempt, { status: 'delivered', completed_at: at, updated_at: at }),
        effects: counted('delivered'),
      };
    case 'retry': {
      const dueAtMs = finishedAt.getTime() + step.delayMs;
      const nextRetryAt = new Date(dueAtMs).toISOString();
      return {
        write: write(
          { ...outcome.attempt, next_retry_at: nextRetryAt },
          { status: 'retrying', next_retry_at: nextRetryAt, updated_at: at },
        ),
        effects: [...counted(), { type: 'enqueue', job: jobOf(record, number + 1), dueAtMs }],
      };
    }
    case 'abandon':
      return {
        write: write(outcome.attempt, {
          status: 'abandoned',
          final_reason: step.reason,
          completed_at: at,
          updated_at: at,
        }),
        effects: [
          ...counted('abandoned'),
          { type: 'dead-letter', job: jobOf(record, number), reason: step.reason },
        ],
      };
    case 'fail':
      return {
        write: write(outcome.attempt, {
          status: 'failed',
          final_reason: step.reason,
          completed_at: at,
          updated_at: at,
        }),
        effects: [
          ...counted('failed'),
          // A test-mode webhook is never switched off by its deliveries, 410 included.
          ...(step.disableWebhook && !record.is_test
            ? [disableOnGone(record.tenant, record.webhook_id, at)]
            : []),
        ],
      };
  }
};

/**
 * An attempt, or an ending, as effects: the counters' tally and the
 * observation. A test delivery (the test route's, or a test-mode webhook's)
 * is observed for the metrics and left out of the counters and analytics,
 * so it never counts towards auto-disabling its webhook either.
 */
const observed = (record: DeliveryRecord, observation: DeliveryObservation): Effect[] => {
  const { attempt, final, at } = observation;
  const tally: AttemptTally = {
    at,
    ok: attempt?.ok ?? false,
    attempted: attempt !== undefined,
    ...(final ? { final: final === 'delivered' ? 'delivered' : 'failed' } : {}),
  };
  const { tenant, webhook_id: webhookId, is_test: test } = record;
  return [
    ...(test ? [] : [{ type: 'count', tenant, webhookId, tally } as const]),
    { type: 'observe', tenant, webhookId, test, observation },
  ];
};

const disableOnGone = (tenant: string, webhookId: string, at: string): Effect => ({
  type: 'disable-webhook',
  tenant,
  webhookId,
  at,
  reason: 'The receiver answered 410 Gone',
});

/** A claimed delivery of a disabled webhook ends `failed` without sending; it counts as failed. */
export const endDisabled = (
  record: DeliveryRecord,
  now: Date,
  policy: DeliveryPolicy,
): Decision => {
  const at = now.toISOString();
  return {
    write: {
      record: withOutcome(
        record,
        undefined,
        {
          status: 'failed',
          final_reason: 'The webhook is disabled',
          completed_at: at,
          updated_at: at,
        },
        policy.retentionMs,
      ),
    },
    effects: observed(record, { at, eventType: record.event_type, final: 'failed' }),
  };
};

/**
 * What follows a recorded attempt, read back from its record when the job
 * that made it returns (the batch failed or died after the write): the next
 * job if it is still to be queued, the dead-letter copy, the 410's switch-off.
 * Counters are not among them: counted twice is worse than not at all.
 */
export const followUpsOf = (record: DeliveryRecord): Effect[] => {
  const last = record.attempts.at(-1);
  switch (record.status) {
    case 'retrying':
      return record.next_retry_at
        ? [
            {
              type: 'enqueue',
              job: jobOf(record, record.attempt_count + 1),
              dueAtMs: Date.parse(record.next_retry_at),
            },
          ]
        : [];
    case 'abandoned':
      return [
        {
          type: 'dead-letter',
          job: jobOf(record, record.attempt_count),
          reason: record.final_reason ?? 'abandoned',
        },
      ];
    case 'failed':
      return last?.status_code === 410 && last.attempt === record.attempt_count && !record.is_test
        ? [
            disableOnGone(
              record.tenant,
              record.webhook_id,
              record.completed_at ?? record.updated_at,
            ),
          ]
        : [];
    default:
      return [];
  }
};

/** One batch's attempts of one webhook, in time order, as counter changes. */
export const summarize = (tallies: readonly AttemptTally[]): WebhookStats => {
  const ordered = [...tallies].sort((a, b) => a.at.localeCompare(b.at));
  const sent = ordered.filter((tally) => tally.attempted);
  const last = sent.at(-1);
  const lastSuccess = sent.findLast((tally) => tally.ok);
  const lastFailure = sent.findLast((tally) => !tally.ok);
  const failuresAfterSuccess = sent.filter(
    (tally) => !tally.ok && (!lastSuccess || tally.at > lastSuccess.at),
  );
  return {
    delivered: ordered.filter((tally) => tally.final === 'delivered').length,
    failed: ordered.filter((tally) => tally.final === 'failed').length,
    lastAttemptAt: last?.at,
    lastSuccessAt: lastSuccess?.at,
    lastFailureAt: lastFailure?.at,
    failingSince: failuresAfterSuccess[0]?.at,
    recovered: last?.ok === true,
  };
};

/** Why to switch a webhook off after its counters were written, if its failure run is long enough. */
export const autoDisableReason = (
  state: { failingSince?: string | undefined; isActive: boolean } | undefined,
  nowMs: number,
  policy: DeliveryPolicy,
): string | undefined =>
  state?.isActive &&
  state.failingSince &&
  nowMs - Date.parse(state.failingSince) >= policy.autoDisableAfterMs
    ? `Deliveries have failed continuously since ${state.failingSince}`
    : undefined;
