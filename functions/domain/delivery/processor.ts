import { randomUUID } from 'node:crypto';
import * as v from 'valibot';
import { errorSummary } from '../errors.ts';
import type { WebhookRecord } from '../webhooks/schema.ts';
import { type AttemptDependencies, performAttempt } from './attempt.ts';
import {
  type DeliveryJob,
  deliveryJobSchema,
  MAX_QUEUE_DELAY_SECONDS,
  queueDelaySeconds,
} from './jobs.ts';
import { type DeliveryStatus, failedSend, type SendResult } from './model.ts';
import type {
  DeliveryOutcome,
  DeliveryStore,
  JobQueue,
  RateLimiter,
  WebhookDirectory,
  WebhookStats,
} from './ports.ts';
import {
  type AttemptRecord,
  type DeliveryRecord,
  MAX_ATTEMPTS_PER_DELIVERY,
  withOutcome,
} from './record.ts';
import { nextStep } from './retry.ts';
import { parseRetryAfter } from './retry-after.ts';

/**
 * The delivery worker's logic for one batch of jobs: claim each attempt so a
 * job seen twice never sends twice under one number, send, record, schedule
 * what comes next, and keep the webhooks' counters with one write per webhook
 * per batch. Jobs that could not be processed are reported for redelivery;
 * every step is safe to repeat.
 */

export interface ProcessorOptions {
  /** Continuous failure after which a webhook is switched off. */
  autoDisableAfterMs: number;
  /** How long delivery records are kept. */
  retentionMs: number;
  /** An attempt in flight for longer than this was cut off (the function timed out or crashed). */
  staleAttemptMs: number;
  now?: () => Date;
  random?: () => number;
  /** A token unique to one claim of an attempt. */
  newClaim?: () => string;
  sleep?: (ms: number) => Promise<void>;
  log?: (
    level: 'info' | 'warn' | 'error',
    message: string,
    details?: Record<string, unknown>,
  ) => void;
}

export interface ProcessorDependencies extends AttemptDependencies {
  store: DeliveryStore;
  webhooks: WebhookDirectory;
  queue: JobQueue;
  rateLimiter: RateLimiter;
}

export interface QueueMessage {
  id: string;
  body: string;
  /** When the queue accepted the message (ms epoch), if it says. */
  sentAt?: number | undefined;
}

interface Scheduled {
  job: DeliveryJob;
  dueAtMs: number;
}

/** How long a job due soon waits in the function rather than going back to the queue. */
const SLOT_WAIT_MS = 1000;

/** What one batch decided, written out together at its end. */
class BatchPlan {
  readonly failures = new Set<string>();
  /** Jobs to queue; `followUp` marks the next attempt of a recorded one. */
  readonly later: (Scheduled & { messageId: string; followUp?: boolean })[] = [];
  readonly deadLetters: { job: DeliveryJob; reason: string; messageId: string }[] = [];
  readonly outcomes = new Map<string, { tenant: string; attempts: AttemptSummary[] }>();
  /** Attempts made in this batch, to be recorded together. */
  readonly finished: {
    messageId: string;
    record: DeliveryRecord;
    followUp: () => Promise<void>;
  }[] = [];

  noteAttempt(webhook: WebhookRecord, summary: AttemptSummary): void {
    const entry = this.outcomes.get(webhook.webhook_id) ?? { tenant: webhook.tenant, attempts: [] };
    entry.attempts.push(summary);
    this.outcomes.set(webhook.webhook_id, entry);
  }
}

interface AttemptSummary {
  at: string;
  ok: boolean;
  /** False when the delivery ended without sending (a disabled webhook). */
  attempted: boolean;
  /** Set when the delivery reached a final status with this attempt. */
  final?: 'delivered' | 'failed';
}

export class DeliveryProcessor {
  readonly #deps: ProcessorDependencies;
  readonly #options: Required<Omit<ProcessorOptions, 'log'>> & Pick<ProcessorOptions, 'log'>;

  constructor(deps: ProcessorDependencies, options: ProcessorOptions) {
    this.#deps = deps;
    this.#options = {
      now: () => new Date(),
      random: Math.random,
      newClaim: randomUUID,
      sleep: (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)),
      ...options,
    };
  }

  /** Answers the ids of messages to redeliver. */
  async process(messages: readonly QueueMessage[]): Promise<string[]> {
    const plan = new BatchPlan();
    const now = this.#options.now();
    const jobs: { messageId: string; job: DeliveryJob }[] = [];
    for (const message of messages) {
      const job = parseJob(message.body);
      if (job) jobs.push({ messageId: message.id, job });
      else {
        this.#log('error', 'A delivery job is malformed; it will reach the dead-letter queue', {
          message_id: message.id,
        });
        plan.failures.add(message.id);
      }
    }

    const due = jobs.filter(({ job, messageId }) => {
      if (job.not_before === undefined || job.not_before <= now.getTime() + SLOT_WAIT_MS) {
        return true;
      }
      plan.later.push({ job, dueAtMs: job.not_before, messageId });
      return false;
    });

    const { found: webhooks, unreadable } = await this.#deps.webhooks.getMany(
      unique(due.map(({ job }) => ({ tenant: job.tenant, webhookId: job.webhook_id }))),
    );
    // A stored webhook that no longer reads is a fault to fix, not a deletion:
    // its jobs go back, and after enough receives to the dead-letter queue.
    const readable = due.filter(({ job, messageId }) => {
      if (!unreadable.has(job.webhook_id)) return true;
      this.#log('error', 'A webhook is unreadable; its delivery jobs will be redelivered', {
        webhook_id: job.webhook_id,
      });
      plan.failures.add(messageId);
      return false;
    });
    const admitted = await this.#applyRateLimits(readable, webhooks, now, plan);

    await Promise.all(
      admitted.map(async ({ job, messageId, startAt }) => {
        try {
          const wait = startAt - this.#options.now().getTime();
          if (wait > 0) await this.#options.sleep(wait);
          await this.#processJob(job, messageId, webhooks.get(job.webhook_id), plan);
        } catch (error) {
          this.#log('error', 'A delivery job failed; it will be redelivered', {
            delivery_id: job.delivery_id,
            attempt: job.attempt,
            error: errorSummary(error),
          });
          plan.failures.add(messageId);
        }
      }),
    );

    await this.#saveFinished(plan);
    await this.#flush(plan);
    return [...plan.failures];
  }

  /**
   * Jobs over a webhook's rate limit wait for a reserved slot; a job holding
   * one goes when it is due without asking again, so waiting jobs keep their
   * order and are never pushed back. Their attempt numbers are untouched:
   * waiting never uses up attempts.
   */
  async #applyRateLimits(
    jobs: { messageId: string; job: DeliveryJob }[],
    webhooks: Map<string, WebhookRecord>,
    now: Date,
    plan: BatchPlan,
  ) {
    const byWebhook = new Map<string, { messageId: string; job: DeliveryJob }[]>();
    const admitted: { messageId: string; job: DeliveryJob; startAt: number }[] = [];
    for (const entry of jobs) {
      const webhook = webhooks.get(entry.job.webhook_id);
      if (!webhook?.rate_limit.enabled || !webhook.is_active || entry.job.rate_slot) {
        const startAt = entry.job.rate_slot ? (entry.job.not_before ?? 0) : 0;
        admitted.push({ ...entry, job: withoutSchedule(entry.job), startAt });
        continue;
      }
      const list = byWebhook.get(webhook.webhook_id) ?? [];
      list.push(entry);
      byWebhook.set(webhook.webhook_id, list);
    }
    await Promise.all(
      [...byWebhook].map(async ([webhookId, entries]) => {
        const webhook = webhooks.get(webhookId);
        if (!webhook) return;
        try {
          const slots = await this.#deps.rateLimiter.reserve(
            webhookId,
            webhook.rate_limit,
            entries.length,
            now.getTime(),
          );
          entries.forEach((entry, index) => {
            const slot = slots[index] ?? now.getTime();
            // A slot within the second is waited for here: SQS delays count whole seconds.
            if (slot <= now.getTime() + SLOT_WAIT_MS) {
              admitted.push({ ...entry, startAt: slot });
            } else {
              plan.later.push({ ...entry, job: { ...entry.job, rate_slot: true }, dueAtMs: slot });
            }
          });
        } catch (error) {
          this.#log('error', 'The rate limiter failed; the jobs will be redelivered', {
            webhook_id: webhookId,
            error: errorSummary(error),
          });
          for (const entry of entries) plan.failures.add(entry.messageId);
        }
      }),
    );
    return admitted;
  }

  async #processJob(
    job: DeliveryJob,
    messageId: string,
    webhook: WebhookRecord | undefined,
    plan: BatchPlan,
  ): Promise<void> {
    if (!webhook || webhook.tenant !== job.tenant) {
      // Deleting a webhook stops its pending deliveries; their history went with it.
      this.#log('info', 'The webhook of a delivery no longer exists; the delivery stops', {
        delivery_id: job.delivery_id,
        webhook_id: job.webhook_id,
      });
      return;
    }
    const now = this.#options.now();
    const claimed = await this.#claim(job, webhook, now, messageId, plan);
    if (!claimed) return;

    if (!webhook.is_active) {
      const at = now.toISOString();
      const outcome: DeliveryOutcome = {
        status: 'failed',
        final_reason: 'The webhook is disabled',
        completed_at: at,
        updated_at: at,
      };
      if (await this.#record(claimed, job.attempt, undefined, outcome)) {
        plan.noteAttempt(webhook, { at, ok: false, final: 'failed', attempted: false });
      }
      return;
    }

    const { record: attempt, result } = await performAttempt(this.#deps, {
      webhook,
      event: job.event,
      deliveryId: job.delivery_id,
      attempt: job.attempt,
      now,
    });
    const finishedAt = new Date(now.getTime() + attempt.duration_ms);
    await this.#afterAttempt(claimed, job, webhook, attempt, result, finishedAt, messageId, plan);
  }

  /**
   * Takes the attempt. When the take fails the record says why: the job was
   * already done (its follow-up is made sure of), another worker holds it
   * (redeliver later), or a worker died holding it (that attempt is recorded
   * as cut off and the delivery goes on from there). A take whose answer was
   * lost and retried by the SDK is recognised by its claim token.
   */
  async #claim(
    job: DeliveryJob,
    webhook: WebhookRecord,
    now: Date,
    messageId: string,
    plan: BatchPlan,
  ): Promise<DeliveryRecord | undefined> {
    const startedAt = now.toISOString();
    const claim = this.#options.newClaim();
    if (job.attempt === 1) {
      const record = this.#newRecord(job, webhook, now, claim);
      if (await this.#deps.store.claimFirst(record)) return record;
    } else {
      const record = await this.#deps.store.claimNext(
        job.webhook_id,
        job.delivery_id,
        job.attempt,
        startedAt,
        claim,
      );
      if (record) return record;
    }

    const existing = await this.#deps.store.get(job.webhook_id, job.delivery_id);
    if (!existing) return undefined;
    if (existing.in_flight) {
      if (existing.in_flight.claim === claim) return existing;
      const age = now.getTime() - Date.parse(existing.in_flight.started_at);
      if (age < this.#options.staleAttemptMs) {
        plan.failures.add(messageId);
        return undefined;
      }
      const message = 'The attempt was cut off before its result was recorded';
      const cutOff: AttemptRecord = {
        attempt: existing.in_flight.attempt,
        started_at: existing.in_flight.started_at,
        duration_ms: 0,
        request: { url: webhook.url, method: webhook.method, headers: {} },
        status_code: null,
        response_headers: {},
        response_body: '',
        error_class: 'timeout',
        error_message: message,
      };
      const result = failedSend('timeout', message);
      const resumed = { ...job, attempt: existing.in_flight.attempt };
      // A takeover: written at once and on condition, in case the other worker is alive after all.
      await this.#afterAttempt(
        existing,
        resumed,
        webhook,
        cutOff,
        result,
        now,
        messageId,
        plan,
        'now',
      );
      return undefined;
    }
    if (existing.attempt_count < job.attempt) return undefined;
    // This job's attempt was made and recorded; make sure what follows it exists, once.
    const next = existing.attempt_count + 1;
    if (existing.status === 'retrying' && existing.next_retry_at && existing.follow_up !== next) {
      plan.later.push({
        job: { ...job, attempt: next },
        dueAtMs: Date.parse(existing.next_retry_at),
        messageId,
        followUp: true,
      });
    } else if (existing.status === 'abandoned' && !existing.dead_lettered) {
      plan.deadLetters.push({ job, reason: existing.final_reason ?? 'abandoned', messageId });
    }
    return undefined;
  }

  /**
   * Decides what follows an attempt and records it. The follow-up (the next
   * job, the dead-letter copy, disabling the webhook) is planned only once
   * the record holds the attempt: a write that failed leaves nothing behind
   * that a redelivery would then repeat.
   */
  async #afterAttempt(
    record: DeliveryRecord,
    job: DeliveryJob,
    webhook: WebhookRecord,
    attempt: AttemptRecord,
    result: SendResult,
    finishedAt: Date,
    messageId: string,
    plan: BatchPlan,
    recording: 'now' | 'with the batch' = 'with the batch',
  ): Promise<void> {
    let step = nextStep({
      config: webhook.retry_config,
      attempt: job.attempt - record.chain_start,
      statusCode: result.status_code,
      errorClass: result.error_class,
      retryAfterMs:
        result.status_code === 429 || result.status_code === 503
          ? parseRetryAfter(result.response_headers['retry-after'], finishedAt)
          : undefined,
      random: this.#options.random,
    });
    if (step.kind === 'retry' && job.attempt >= MAX_ATTEMPTS_PER_DELIVERY) {
      step = {
        kind: 'abandon',
        reason: `gave up after ${job.attempt} attempts, the most a delivery may have`,
      };
    }
    const at = finishedAt.toISOString();
    let outcome: DeliveryOutcome;
    let final: AttemptSummary['final'];
    let dueAtMs: number | undefined;
    switch (step.kind) {
      case 'delivered':
        outcome = { status: 'delivered', completed_at: at, updated_at: at };
        final = 'delivered';
        break;
      case 'retry': {
        dueAtMs = finishedAt.getTime() + step.delayMs;
        const nextRetryAt = new Date(dueAtMs).toISOString();
        attempt.next_retry_at = nextRetryAt;
        outcome = { status: 'retrying', next_retry_at: nextRetryAt, updated_at: at };
        break;
      }
      case 'abandon':
      case 'fail':
        outcome = {
          status: step.kind === 'abandon' ? 'abandoned' : 'failed',
          final_reason: step.reason,
          completed_at: at,
          updated_at: at,
        };
        final = 'failed';
        break;
    }
    const followUp = async () => {
      plan.noteAttempt(webhook, {
        at,
        ok: result.ok,
        attempted: true,
        ...(final ? { final } : {}),
      });
      if (dueAtMs !== undefined) {
        plan.later.push({
          job: { ...job, attempt: job.attempt + 1 },
          dueAtMs,
          messageId,
          followUp: true,
        });
      }
      if (step.kind === 'abandon') plan.deadLetters.push({ job, reason: step.reason, messageId });
      if (step.kind === 'fail' && step.disableWebhook) {
        await this.#disable(
          webhook.tenant,
          webhook.webhook_id,
          at,
          'The receiver answered 410 Gone',
        );
      }
    };
    if (recording === 'now') {
      if (await this.#record(record, job.attempt, attempt, outcome)) await followUp();
      return;
    }
    const expiresAt = Math.floor((finishedAt.getTime() + this.#options.retentionMs) / 1000);
    plan.finished.push({
      messageId,
      record: withOutcome(record, attempt, outcome, expiresAt),
      followUp,
    });
  }

  /**
   * The batch's finished attempts, written together; what follows each one
   * (next job, dead letter, disabling) is planned only once it is written, so
   * a write that failed leaves nothing behind that a redelivery would repeat.
   */
  async #saveFinished(plan: BatchPlan): Promise<void> {
    if (plan.finished.length === 0) return;
    let failed: Set<string>;
    try {
      failed = await this.#deps.store.saveFinished(plan.finished.map(({ record }) => record));
    } catch (error) {
      this.#log('error', 'Could not record attempts; their jobs will be redelivered', {
        error: errorSummary(error),
      });
      failed = new Set(plan.finished.map(({ record }) => record.delivery_id));
    }
    for (const entry of plan.finished) {
      if (failed.has(entry.record.delivery_id)) plan.failures.add(entry.messageId);
      else await entry.followUp();
    }
  }

  async #record(
    record: DeliveryRecord,
    number: number,
    attempt: AttemptRecord | undefined,
    outcome: DeliveryOutcome,
  ): Promise<boolean> {
    const written = await this.#deps.store.recordAttempt(
      record.webhook_id,
      record.delivery_id,
      number,
      attempt,
      outcome,
    );
    if (!written) {
      this.#log('warn', 'An attempt finished after another worker had taken over its delivery', {
        delivery_id: record.delivery_id,
        attempt: number,
      });
    }
    return written;
  }

  #newRecord(job: DeliveryJob, webhook: WebhookRecord, now: Date, claim: string): DeliveryRecord {
    const at = now.toISOString();
    return {
      delivery_id: job.delivery_id,
      webhook_id: webhook.webhook_id,
      tenant: webhook.tenant,
      event: job.event,
      event_type: job.event.event_type,
      status: 'pending' satisfies DeliveryStatus,
      is_test: false,
      attempt_count: 1,
      chain_start: 0,
      in_flight: { attempt: 1, started_at: at, claim },
      attempts: [],
      dead_lettered: false,
      created_at: at,
      updated_at: at,
      expires_at: Math.floor((now.getTime() + this.#options.retentionMs) / 1000),
    };
  }

  /**
   * The batch's writes: jobs for later, dead letters, counters, disables. A
   * job whose follow-up could not be queued is redelivered; the claim then
   * finds its attempt recorded and queues the follow-up again.
   */
  async #flush(plan: BatchPlan): Promise<void> {
    const now = this.#options.now();
    await Promise.all([this.#queueLater(plan, now), this.#copyDeadLetters(plan)]);
    await Promise.all(
      [...plan.outcomes].map(([webhookId, { tenant, attempts }]) =>
        this.#updateStats(tenant, webhookId, attempts, now),
      ),
    );
  }

  async #queueLater(plan: BatchPlan, now: Date): Promise<void> {
    if (plan.later.length === 0) return;
    try {
      await this.#deps.queue.send(
        plan.later.map(({ job, dueAtMs }) =>
          // A rate slot keeps its time and arrives a little early to wait for it; other jobs
          // carry a time only when SQS cannot delay them that long.
          job.rate_slot
            ? {
                job: { ...job, not_before: dueAtMs },
                delaySeconds: Math.max(0, queueDelaySeconds(dueAtMs, now.getTime()) - 1),
              }
            : {
                job:
                  dueAtMs > now.getTime() + MAX_QUEUE_DELAY_SECONDS * 1000
                    ? { ...job, not_before: dueAtMs }
                    : withoutNotBefore(job),
                delaySeconds: queueDelaySeconds(dueAtMs, now.getTime()),
              },
        ),
      );
    } catch (error) {
      this.#log('error', 'Could not queue follow-up jobs; their messages will be redelivered', {
        error: errorSummary(error),
      });
      for (const { messageId } of plan.later) plan.failures.add(messageId);
      return;
    }
    // Best effort: without the mark a redelivered job queues the follow-up again, which its claim then absorbs.
    await Promise.all(
      plan.later
        .filter(({ followUp }) => followUp)
        .map(({ job }) =>
          this.#deps.store
            .markFollowUp(job.webhook_id, job.delivery_id, job.attempt)
            .catch((error: unknown) =>
              this.#log('warn', 'Could not mark a follow-up job as queued', {
                delivery_id: job.delivery_id,
                error: errorSummary(error),
              }),
            ),
        ),
    );
  }

  /** Each abandoned delivery is copied once: the copy is taken on the record before it is sent. */
  async #copyDeadLetters(plan: BatchPlan): Promise<void> {
    const taken: BatchPlan['deadLetters'] = [];
    await Promise.all(
      plan.deadLetters.map(async (entry) => {
        try {
          if (await this.#deps.store.takeDeadLetter(entry.job.webhook_id, entry.job.delivery_id)) {
            taken.push(entry);
          }
        } catch (error) {
          this.#log('error', 'Could not mark a delivery as dead-lettered', {
            delivery_id: entry.job.delivery_id,
            error: errorSummary(error),
          });
          plan.failures.add(entry.messageId);
        }
      }),
    );
    if (taken.length === 0) return;
    try {
      await this.#deps.queue.deadLetter(taken);
    } catch (error) {
      this.#log('error', 'Could not copy abandoned deliveries to the dead-letter queue', {
        error: errorSummary(error),
      });
      await Promise.all(
        taken.map(({ job }) =>
          this.#deps.store
            .releaseDeadLetter(job.webhook_id, job.delivery_id)
            .catch(() => undefined),
        ),
      );
      for (const { messageId } of taken) plan.failures.add(messageId);
    }
  }

  /** Counters are bookkeeping: a failure to update them is logged, never retried into a resend. */
  async #updateStats(
    tenant: string,
    webhookId: string,
    attempts: AttemptSummary[],
    now: Date,
  ): Promise<void> {
    try {
      const state = await this.#deps.webhooks.recordStats(tenant, webhookId, summarize(attempts));
      if (!state?.isActive || !state.failingSince) return;
      if (now.getTime() - Date.parse(state.failingSince) >= this.#options.autoDisableAfterMs) {
        await this.#disable(
          tenant,
          webhookId,
          now.toISOString(),
          `Deliveries have failed continuously since ${state.failingSince}`,
        );
      }
    } catch (error) {
      this.#log('error', 'Could not update a webhook’s delivery counters', {
        webhook_id: webhookId,
        error: errorSummary(error),
      });
    }
  }

  async #disable(tenant: string, webhookId: string, at: string, reason: string): Promise<void> {
    try {
      if (await this.#deps.webhooks.disable(tenant, webhookId, at)) {
        this.#log('warn', 'A webhook was disabled', { webhook_id: webhookId, reason });
      }
    } catch (error) {
      this.#log('error', 'Could not disable a webhook', {
        webhook_id: webhookId,
        error: errorSummary(error),
      });
    }
  }

  #log(level: 'info' | 'warn' | 'error', message: string, details?: Record<string, unknown>) {
    this.#options.log?.(level, message, details);
  }
}

const parseJob = (body: string): DeliveryJob | undefined => {
  try {
    const result = v.safeParse(deliveryJobSchema, JSON.parse(body));
    return result.success ? result.output : undefined;
  } catch {
    return undefined;
  }
};

const withoutNotBefore = ({ not_before: _, ...job }: DeliveryJob): DeliveryJob => job;

/** A job about to run: what scheduled it has done its work. */
const withoutSchedule = ({ not_before: _, rate_slot: __, ...job }: DeliveryJob): DeliveryJob => job;

const unique = (keys: { tenant: string; webhookId: string }[]) => [
  ...new Map(keys.map((key) => [key.webhookId, key])).values(),
];

/** One batch's attempts of one webhook, in time order, as counter changes. */
const summarize = (attempts: readonly AttemptSummary[]): WebhookStats => {
  const ordered = [...attempts].sort((a, b) => a.at.localeCompare(b.at));
  const sent = ordered.filter((attempt) => attempt.attempted);
  const last = sent.at(-1);
  const lastSuccess = sent.findLast((attempt) => attempt.ok);
  const lastFailure = sent.findLast((attempt) => !attempt.ok);
  const failuresAfterSuccess = sent.filter(
    (attempt) => !attempt.ok && (!lastSuccess || attempt.at > lastSuccess.at),
  );
  return {
    delivered: ordered.filter((attempt) => attempt.final === 'delivered').length,
    failed: ordered.filter((attempt) => attempt.final === 'failed').length,
    lastAttemptAt: last?.at,
    lastSuccessAt: lastSuccess?.at,
    lastFailureAt: lastFailure?.at,
    failingSince: failuresAfterSuccess[0]?.at,
    recovered: last?.ok === true,
  };
};
