import { randomUUID } from 'node:crypto';
import type { AnalyticsSink } from '../analytics/service.ts';
import { errorSummary } from '../errors.ts';
import type { WebhookRecord } from '../webhooks/schema.ts';
import { type AttemptDependencies, performAttempt } from './attempt.ts';
import type { IsolationSettings, Lane } from './circuit.ts';
import {
  admit,
  afterAttempt,
  type DeliveryPolicy,
  endDisabled,
  notYetDue,
  placeInSlot,
  RATE_LIMIT_WAIT,
  refusedClaim,
} from './decisions.ts';
import { executeBatch, type JobDecision, type Log } from './executor.ts';
import { BatchIsolation, type IsolationPorts } from './isolation.ts';
import { type DeliveryJob, parseDeliveryJob } from './jobs.ts';
import type { QueueMessage } from './model.ts';
import type {
  DeliveryMetrics,
  DeliveryStore,
  JobQueue,
  RateLimiter,
  WebhookDirectory,
} from './ports.ts';
import { type DeliveryRecord, newDeliveryRecord } from './record.ts';

/**
 * The delivery worker, a batch of jobs at a time. It reads the jobs and
 * admits those due (their webhooks in one read, then rate limits); for each
 * it claims the attempt, so that a job seen twice never sends one number
 * twice, sends it, and decides what follows (decisions.ts). The batch's
 * decisions are then applied together, in a fixed order (executor.ts).
 * Every step is safe to repeat: the ids answered are redelivered.
 */

export interface WorkerDependencies extends AttemptDependencies {
  store: DeliveryStore;
  webhooks: WebhookDirectory;
  queue: JobQueue;
  rateLimiter: RateLimiter;
  analytics: AnalyticsSink;
  metrics: DeliveryMetrics;
  /** Circuit breakers and lanes (isolation.ts); without them every job goes as it comes. */
  isolation?: IsolationPorts | undefined;
}

export interface WorkerOptions extends DeliveryPolicy {
  now?: () => Date;
  random?: () => number;
  /** A token unique to one claim of an attempt. */
  newClaim?: () => string;
  sleep?: (ms: number) => Promise<void>;
  log?: Log;
  isolation?: IsolationSettings | undefined;
}

interface Job {
  messageId: string;
  job: DeliveryJob;
}

interface Run extends Job {
  webhook: WebhookRecord;
  startAtMs: number;
  /** The one job testing a receiver whose circuit is open. */
  probe?: boolean;
}

/** A job's message comes back: `error` when something is wrong, `info` when another worker holds it. */
interface Redelivery {
  messageId: string;
  redeliver: string;
  level: 'info' | 'error';
}

/** A job's end in this batch: a decision to apply, or its message to redeliver. */
type JobResult = JobDecision | Redelivery;

export class DeliveryWorker {
  readonly #deps: WorkerDependencies;
  readonly #policy: DeliveryPolicy;
  readonly #now: () => Date;
  readonly #random: () => number;
  readonly #newClaim: () => string;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #log: Log;
  readonly #isolation: IsolationSettings | undefined;

  constructor(deps: WorkerDependencies, options: WorkerOptions) {
    this.#deps = deps;
    this.#policy = {
      retentionMs: options.retentionMs,
      staleAttemptMs: options.staleAttemptMs,
      autoDisableAfterMs: options.autoDisableAfterMs,
    };
    this.#now = options.now ?? (() => new Date());
    this.#random = options.random ?? Math.random;
    this.#newClaim = options.newClaim ?? randomUUID;
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.#log = options.log ?? (() => undefined);
    this.#isolation = options.isolation;
  }

  /** Answers the ids of messages to redeliver; `lane` is the queue the batch came from. */
  async process(messages: readonly QueueMessage[], lane: Lane = 'standard'): Promise<string[]> {
    const nowMs = this.#now().getTime();
    const isolation =
      this.#deps.isolation && this.#isolation
        ? new BatchIsolation(this.#deps.isolation, this.#isolation, lane, {
            now: this.#now,
            random: this.#random,
            log: this.#log,
          })
        : undefined;
    const { due, results } = this.#read(messages, nowMs);
    const admitted = await this.#admit(due, nowMs, isolation);
    results.push(...admitted.results);
    results.push(...(await Promise.all(admitted.runs.map((run) => this.#run(run, isolation)))));

    const redeliver = new Set<string>();
    const decisions: JobDecision[] = [];
    for (const result of results) {
      if ('decision' in result) decisions.push(result);
      else {
        this.#log(result.level, 'A delivery job will be redelivered', {
          message_id: result.messageId,
          reason: result.redeliver,
        });
        redeliver.add(result.messageId);
      }
    }
    const finished = isolation?.finish(decisions);
    const [failed] = await Promise.all([
      executeBatch(finished?.decisions ?? decisions, this.#deps, {
        now: this.#now,
        policy: this.#policy,
        log: this.#log,
      }),
      finished?.written,
    ]);
    return [...new Set([...redeliver, ...failed])];
  }

  /** The jobs due now. Those not yet due go back to wait; what is no job comes back (SQS sets it aside). */
  #read(messages: readonly QueueMessage[], nowMs: number): { due: Job[]; results: JobResult[] } {
    const due: Job[] = [];
    const results: JobResult[] = [];
    for (const { id: messageId, body } of messages) {
      const job = parseDeliveryJob(body);
      const waiting = job && notYetDue(job, nowMs);
      if (!job) {
        const why = 'the job is malformed; after 5 receives it reaches the dead-letter queue';
        results.push({ messageId, redeliver: why, level: 'error' });
      } else if (waiting) results.push({ messageId, decision: waiting });
      else due.push({ messageId, job });
    }
    return { due, results };
  }

  /** The due jobs that run in this batch, each with its webhook, read for the batch at once. */
  async #admit(
    due: readonly Job[],
    nowMs: number,
    isolation: BatchIsolation | undefined,
  ): Promise<{ runs: Run[]; results: JobResult[] }> {
    const keys = new Map(
      due.map(({ job }) => [job.webhook_id, { tenant: job.tenant, webhookId: job.webhook_id }]),
    );
    const { found, unreadable } =
      keys.size > 0
        ? await this.#deps.webhooks.getMany([...keys.values()])
        : { found: new Map<string, WebhookRecord>(), unreadable: new Set<string>() };
    const runs: Run[] = [];
    const results: JobResult[] = [];
    const limited = new Map<string, { webhook: WebhookRecord; jobs: Job[] }>();
    for (const entry of due) {
      const { messageId, job } = entry;
      const webhook = unreadable.has(job.webhook_id) ? 'unreadable' : found.get(job.webhook_id);
      const admission = admit(job, webhook, nowMs);
      switch (admission.kind) {
        case 'run':
          runs.push({
            messageId,
            job: admission.job,
            webhook: admission.webhook,
            startAtMs: admission.startAtMs,
          });
          break;
        case 'limit': {
          const group = limited.get(job.webhook_id) ?? { webhook: admission.webhook, jobs: [] };
          group.jobs.push(entry);
          limited.set(job.webhook_id, group);
          break;
        }
        case 'redeliver':
          results.push({ messageId, redeliver: admission.why, level: 'error' });
          break;
        case 'drop':
          this.#log('info', 'A delivery stops', {
            delivery_id: job.delivery_id,
            reason: admission.why,
          });
          results.push({ messageId, decision: { effects: [] } });
      }
    }
    const isolated = isolation
      ? await this.#isolate(isolation, runs, limited, nowMs)
      : { runs, limited, setAside: [] };
    const slotted = await this.#reserveSlots([...isolated.limited.values()], nowMs);
    return {
      runs: [...isolated.runs, ...slotted.runs],
      results: [...results, ...isolated.setAside, ...slotted.results],
    };
  }

  /**
   * The circuits' and lanes' say over the jobs about to run (isolation.ts),
   * before any takes a rate-limit slot: some wait, some move to the overflow
   * lane, and a probe goes now, whatever its webhook's rate limit.
   */
  async #isolate(
    isolation: BatchIsolation,
    runs: readonly Run[],
    limited: ReadonlyMap<string, { webhook: WebhookRecord; jobs: Job[] }>,
    nowMs: number,
  ) {
    const { go, setAside } = await isolation.admit([
      ...runs.map((run) => ({ ...run, limit: false })),
      ...[...limited.values()].flatMap(({ webhook, jobs }) =>
        jobs.map((job) => ({ ...job, webhook, startAtMs: nowMs, limit: true })),
      ),
    ]);
    const admitted: Run[] = [];
    const stillLimited = new Map<string, { webhook: WebhookRecord; jobs: Job[] }>();
    for (const { limit, ...run } of go) {
      if (!limit || run.probe) {
        admitted.push(run);
        continue;
      }
      const group = stillLimited.get(run.webhook.webhook_id) ?? { webhook: run.webhook, jobs: [] };
      group.jobs.push({ messageId: run.messageId, job: run.job });
      stillLimited.set(run.webhook.webhook_id, group);
    }
    return { runs: admitted, limited: stillLimited, setAside };
  }

  /** One reservation per rate-limited webhook; each job then runs in its slot or waits for it. */
  async #reserveSlots(
    limited: readonly { webhook: WebhookRecord; jobs: readonly Job[] }[],
    nowMs: number,
  ): Promise<{ runs: Run[]; results: JobResult[] }> {
    const runs: Run[] = [];
    const results: JobResult[] = [];
    await Promise.all(
      limited.map(async ({ webhook, jobs }) => {
        let slots: number[];
        try {
          slots = await this.#deps.rateLimiter.reserve(
            webhook.webhook_id,
            webhook.rate_limit,
            jobs.length,
            nowMs,
          );
        } catch (error) {
          const why = `the rate limiter failed: ${errorSummary(error).message}`;
          for (const { messageId } of jobs) {
            results.push({ messageId, redeliver: why, level: 'error' });
          }
          return;
        }
        jobs.forEach(({ messageId, job }, index) => {
          const placed = placeInSlot(job, slots[index] ?? nowMs, nowMs);
          if (placed.kind === 'run') {
            runs.push({ messageId, job: placed.job, webhook, startAtMs: placed.startAtMs });
            // Waited for in the function: a wait all the same (a metric, whatever the attempt's end).
            if (placed.startAtMs > nowMs) {
              results.push({ messageId, decision: { effects: [RATE_LIMIT_WAIT] } });
            }
          } else results.push({ messageId, decision: placed.decision });
        });
      }),
    );
    return { runs, results };
  }

  /** Claims the attempt, makes it, and decides what follows. */
  async #run(run: Run, isolation: BatchIsolation | undefined): Promise<JobResult> {
    const { messageId, job, webhook, startAtMs } = run;
    try {
      const wait = startAtMs - this.#now().getTime();
      if (wait > 0) await this.#sleep(wait);
      const now = this.#now();
      const claimed = await this.#claim(job, webhook, messageId, now);
      if (!('record' in claimed)) return claimed.result;
      if (!webhook.is_active) {
        return { messageId, decision: endDisabled(claimed.record, now, this.#policy) };
      }
      const attemptNow = () =>
        performAttempt(this.#deps, {
          // The record decided at the first claim whether the delivery is a test: it stays one.
          webhook: { ...webhook, is_test_mode: claimed.record.is_test },
          event: job.event,
          deliveryId: job.delivery_id,
          attempt: job.attempt,
          now,
        });
      const { record: attempt, result } = isolation
        ? await isolation.watch({ ...run, probe: run.probe ?? false }, attemptNow)
        : await attemptNow();
      const finishedAt = new Date(now.getTime() + attempt.duration_ms);
      await isolation?.answered(
        { ...run, probe: run.probe ?? false },
        result,
        attempt.duration_ms,
        finishedAt.getTime(),
      );
      return {
        messageId,
        decision: afterAttempt(
          claimed.record,
          { attempt, result },
          webhook,
          finishedAt,
          this.#random,
          this.#policy,
        ),
      };
    } catch (error) {
      return { messageId, redeliver: `it failed: ${errorSummary(error).message}`, level: 'error' };
    }
  }

  /**
   * Takes the attempt: attempt 1 by writing the record, a later one by
   * marking it in flight. A refused claim is explained by the record
   * (decisions.ts, refusedClaim).
   */
  async #claim(
    job: DeliveryJob,
    webhook: WebhookRecord,
    messageId: string,
    now: Date,
  ): Promise<{ record: DeliveryRecord } | { result: JobResult }> {
    const claim = this.#newClaim();
    if (job.attempt === 1) {
      const record = newDeliveryRecord({
        deliveryId: job.delivery_id,
        webhook,
        event: job.event,
        now,
        retentionMs: this.#policy.retentionMs,
        // A test-mode webhook's deliveries are test deliveries (decisions.ts, observed).
        isTest: webhook.is_test_mode,
        claim: { token: claim, messageId },
        // A delivery held back first keeps the time it was first seen.
        createdAt: job.held_since,
      });
      if (await this.#deps.store.claimFirst(record)) return { record };
    } else {
      const flight = { attempt: job.attempt, started_at: now.toISOString(), claim };
      const record = await this.#deps.store.claimNext(
        job.webhook_id,
        job.delivery_id,
        flight,
        messageId,
      );
      if (record) return { record };
    }
    const existing = await this.#deps.store.get(job.webhook_id, job.delivery_id);
    const refusal = refusedClaim(job, existing, {
      claim,
      messageId,
      webhook,
      now,
      random: this.#random,
      policy: this.#policy,
    });
    switch (refusal.kind) {
      case 'proceed':
        return { record: refusal.record };
      case 'redeliver':
        return { result: { messageId, redeliver: refusal.why, level: 'info' } };
      case 'decided':
        this.#log('info', 'A delivery job sends nothing', {
          delivery_id: job.delivery_id,
          attempt: job.attempt,
          reason: refusal.why,
        });
        return { result: { messageId, decision: refusal.decision } };
    }
  }
}
