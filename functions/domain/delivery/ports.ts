import type { WebhookRecord } from '../webhooks/schema.ts';
import type { DeliveryJob } from './jobs.ts';
import type { OutgoingRequest, SendResult } from './model.ts';
import type { AttemptRecord, DeliveryRecord } from './record.ts';

/**
 * What delivery needs from the outside world. The repositories, the SQS
 * adapter and the HTTP sender implement these; tests and benchmarks pass
 * fakes. Nothing here knows of Lambda or the AWS SDK.
 */

export interface DeliveryStore {
  /** Writes the record of a delivery's first attempt if the delivery is new; false if it exists. */
  claimFirst(record: DeliveryRecord): Promise<boolean>;
  /**
   * Marks attempt `attempt` started (with the worker's `claim` token) if the
   * delivery's last attempt was `attempt - 1`, none is in flight and it is
   * still pending or retrying; answers the updated record, or undefined when
   * the condition failed.
   */
  claimNext(
    webhookId: string,
    deliveryId: string,
    attempt: number,
    startedAt: string,
    claim: string,
  ): Promise<DeliveryRecord | undefined>;
  get(webhookId: string, deliveryId: string): Promise<DeliveryRecord | undefined>;
  /**
   * Sets the outcome, appending the attempt when one was made, if attempt
   * `number` is still the one in flight.
   */
  recordAttempt(
    webhookId: string,
    deliveryId: string,
    number: number,
    attempt: AttemptRecord | undefined,
    outcome: DeliveryOutcome,
  ): Promise<boolean>;
  /**
   * Writes finished attempts' records whole, many to a request; answers the
   * ids of deliveries it could not write. Only for records whose attempt this
   * worker holds in flight: nobody else writes a delivery meanwhile (a stale
   * claim is taken over only after the function's timeout has passed).
   */
  saveFinished(records: readonly DeliveryRecord[]): Promise<Set<string>>;
  /** Notes that the job of attempt `attempt` is on the queue, so a redelivered job does not queue it again. */
  markFollowUp(webhookId: string, deliveryId: string, attempt: number): Promise<void>;
  /** Takes the right to copy the delivery to the dead-letter queue; false if it was taken already. */
  takeDeadLetter(webhookId: string, deliveryId: string): Promise<boolean>;
  /** Gives that right back when the copy could not be sent. */
  releaseDeadLetter(webhookId: string, deliveryId: string): Promise<void>;
}

export interface DeliveryOutcome {
  status: DeliveryRecord['status'];
  next_retry_at?: string | undefined;
  final_reason?: string | undefined;
  completed_at?: string | undefined;
  updated_at: string;
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

export interface JobQueue {
  /** Sends jobs, each after its delay (at most 900 s). */
  send(jobs: readonly { job: DeliveryJob; delaySeconds: number }[]): Promise<void>;
  /** Copies abandoned deliveries to the dead-letter queue with their reason. */
  deadLetter(entries: readonly { job: DeliveryJob; reason: string }[]): Promise<void>;
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
