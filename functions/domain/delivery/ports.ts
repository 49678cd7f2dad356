import type { WebhookRecord } from '../webhooks/schema.ts';
import type { BatchMetrics } from './batch-metrics.ts';
import type { CircuitUpdate, Lane, ProbeClaim } from './circuit.ts';
import type { RecordWrite } from './decisions.ts';
import type { DeliveryJob } from './jobs.ts';
import type { OutgoingRequest, SendResult } from './model.ts';
import type { DeliveryRecord, Held } from './record.ts';

/**
 * What delivery needs from the outside world. The repositories, the SQS
 * adapter and the HTTP sender implement these; tests and benchmarks pass
 * fakes. Nothing here knows of Lambda or the AWS SDK.
 */

export interface DeliveryStore {
  /** Writes the record of a delivery's first attempt if the delivery is new; false if it exists. */
  claimFirst(record: DeliveryRecord): Promise<boolean>;
  /**
   * Marks attempt `flight.attempt` started, claimed by queue message
   * `messageId`, if the delivery's last attempt was the one before, none is
   * in flight and it is still pending or retrying; answers the updated
   * record, or undefined when the condition failed.
   */
  claimNext(
    webhookId: string,
    deliveryId: string,
    flight: { attempt: number; started_at: string; claim: string },
    messageId: string,
  ): Promise<DeliveryRecord | undefined>;
  get(webhookId: string, deliveryId: string): Promise<DeliveryRecord | undefined>;
  /**
   * Writes finished records whole. Those whose attempt this worker holds go
   * unconditionally, many to a request: nobody else writes a delivery while
   * its claim is fresh. A takeover goes on condition that the stale claim it
   * saw is still in flight. Answers, by delivery id, the records not written:
   * `failed` (to try again) or `superseded` (another worker finished first).
   */
  record(writes: readonly RecordWrite[]): Promise<Map<string, 'failed' | 'superseded'>>;
}

export interface WebhookDirectory {
  /**
   * The webhooks of these keys that exist, by webhook id (deleted ones are
   * absent), and the ids of stored ones that no longer match their schema.
   */
  getMany(
    keys: readonly { tenant: string; webhookId: string }[],
  ): Promise<{ found: Map<string, WebhookRecord>; unreadable: Set<string> }>;
  /** Adds one batch's outcomes to the webhook's counters; answers whether it is failing long enough to disable. */
  recordStats(
    tenant: string,
    webhookId: string,
    stats: WebhookStats,
  ): Promise<{ failingSince?: string; isActive: boolean } | undefined>;
  /** Turns the webhook off (410, or failing too long); false if it was already off or is gone. */
  disable(tenant: string, webhookId: string, at: string): Promise<boolean>;
}

export interface WebhookStats {
  delivered: number;
  failed: number;
  /** Absent when nothing was sent (deliveries of a disabled webhook only). */
  lastAttemptAt?: string | undefined;
  lastSuccessAt?: string | undefined;
  lastFailureAt?: string | undefined;
  /** The failure that starts (or continues) an unbroken run of failures; absent when the batch ends in a success. */
  failingSince?: string | undefined;
  /** True when the batch's last attempt succeeded: the failure run is over. */
  recovered: boolean;
}

/** Where a batch's metrics go (CloudWatch embedded metric format, in the handler): once per batch. */
export interface DeliveryMetrics {
  publish(metrics: BatchMetrics): void;
}

export interface JobQueue {
  /** Sends jobs, each after its delay (at most 900 s), to its lane (standard by default); see QueueSendError. */
  send(jobs: readonly { job: DeliveryJob; delaySeconds: number; lane?: Lane }[]): Promise<void>;
  /** Copies abandoned deliveries to the dead-letter queue with their reason; see QueueSendError. */
  deadLetter(entries: readonly { job: DeliveryJob; reason: string }[]): Promise<void>;
}

/**
 * Some of the messages given to a JobQueue were not sent: `failed` lists
 * their positions, so only their jobs are tried again. Any other error from
 * a JobQueue means none may have been sent.
 */
export class QueueSendError extends Error {
  override readonly name = 'QueueSendError';
  readonly failed: readonly number[];
  constructor(message: string, failed: readonly number[]) {
    super(message);
    this.failed = failed;
  }
}

export interface RateLimiter {
  /**
   * Reserves a send time for each of `requested` sends to the webhook, within
   * its limit; answers them in order (ms epoch, the first ones possibly now).
   */
  reserve(
    webhookId: string,
    limit: { requests_per_minute: number; burst_limit: number },
    requested: number,
    nowMs: number,
  ): Promise<number[]>;
}

export interface Sender {
  send(
    request: OutgoingRequest,
    options: { timeoutMs: number; verifySsl: boolean },
  ): Promise<SendResult>;
}

export interface OAuth2TokenSource {
  token(
    security: {
      client_id: string;
      client_secret: string;
      token_url: string;
      scope?: string | undefined;
    },
    options: { timeoutMs: number; verifySsl: boolean },
  ): Promise<string>;
  invalidate(security: {
    client_id: string;
    client_secret: string;
    token_url: string;
    scope?: string | undefined;
  }): void;
}

/** The circuit breaker's and the lane's state, on the webhook item (circuit.ts). */
export interface CircuitStore {
  /** Wins the probe if `retry_at` is still what the worker read, and moves it on. */
  claimProbe(tenant: string, webhookId: string, claim: ProbeClaim): Promise<boolean>;
  /** One write; false when its condition no longer holds (another worker moved the state first). */
  updateCircuit(tenant: string, webhookId: string, update: CircuitUpdate): Promise<boolean>;
}

/** Marks in a delivery's history that its next attempt is held back, and why. */
export interface HoldRecorder {
  /** False when the delivery has moved on meanwhile (nothing to mark). */
  hold(job: DeliveryJob, held: Held, now: Date): Promise<boolean>;
}
