import { randomUUID } from 'node:crypto';
import { ConflictError, NotFoundError } from '../errors.ts';
import { TEST_EVENT_TYPE } from '../events/catalog.ts';
import { assertCredentialsMayReach } from '../webhooks/credentials.ts';
import type { WebhookRecord } from '../webhooks/schema.ts';
import { type AttemptDependencies, performAttempt } from './attempt.ts';
import { newDeliveryId } from './ids.ts';
import { jobOf } from './jobs.ts';
import type { DeliveryEvent } from './model.ts';
import type { JobQueue } from './ports.ts';
import {
  type DeliveryPreview,
  type PreviewEventInput,
  previewDelivery,
  previewEvent,
} from './preview.ts';
import {
  type DeliveryRecord,
  MAX_ATTEMPTS_PER_DELIVERY,
  newDeliveryRecord,
  withOutcome,
} from './record.ts';

/**
 * What the API does with deliveries: read the history, retry one by hand,
 * and send a synchronous test. The webhook has been looked up (and so its
 * tenant checked) by the caller.
 */

/**
 * Starts a finished delivery's new attempt chain and queues its first job;
 * if the job cannot be queued the delivery is put back as it was. Shared by
 * the API's manual retry and the dead-letter CLI's redrive.
 */
export const restartDelivery = async (
  history: Pick<DeliveryHistory, 'restartChain' | 'revertChain'>,
  queue: Pick<JobQueue, 'send'>,
  record: DeliveryRecord,
  now: Date,
): Promise<DeliveryRecord> => {
  const at = now.toISOString();
  if (!(await history.restartChain(record, at))) {
    throw new ConflictError(`Delivery ${record.delivery_id} changed meanwhile; try again`);
  }
  try {
    await queue.send([{ job: jobOf(record, record.attempt_count + 1), delaySeconds: 0 }]);
  } catch (error) {
    // Without its job the delivery would stay pending for good.
    await history.revertChain(record);
    throw error;
  }
  return {
    ...record,
    status: 'pending',
    chain_start: record.attempt_count,
    next_retry_at: null,
    final_reason: null,
    completed_at: null,
    dead_lettered: false,
    updated_at: at,
  };
};

/** A synchronous test waits at most this long per request (see performAttempt). */
const TEST_TIMEOUT_MS = 6000;

export interface DeliveryHistory {
  get(webhookId: string, deliveryId: string): Promise<DeliveryRecord | undefined>;
  restartChain(record: DeliveryRecord, at: string): Promise<boolean>;
  revertChain(record: DeliveryRecord): Promise<void>;
  put(record: DeliveryRecord): Promise<void>;
}

export interface DeliveryServiceOptions {
  retentionMs: number;
  now?: () => Date;
  newId?: () => string;
}

export interface TestDeliveryResult {
  test_id: string;
  delivery_id: string;
  success: boolean;
  status_code: number | null;
  response_time_ms: number;
  response_body: string | null;
  error_message: string | null;
  tested_at: string;
}

export class DeliveryService {
  readonly #history: DeliveryHistory;
  readonly #queue: JobQueue;
  readonly #attempts: AttemptDependencies;
  readonly #retentionMs: number;
  readonly #now: () => Date;
  readonly #newId: () => string;

  constructor(
    history: DeliveryHistory,
    queue: JobQueue,
    attempts: AttemptDependencies,
    options: DeliveryServiceOptions,
  ) {
    this.#history = history;
    this.#queue = queue;
    this.#attempts = attempts;
    this.#retentionMs = options.retentionMs;
    this.#now = options.now ?? (() => new Date());
    this.#newId = options.newId ?? randomUUID;
  }

  async get(webhookId: string, deliveryId: string): Promise<DeliveryRecord> {
    const record = await this.#history.get(webhookId, deliveryId);
    if (!record) throw new NotFoundError(`Delivery ${deliveryId} not found`);
    return record;
  }

  /**
   * Sends the delivery again now as a new attempt chain: a fresh
   * `max_attempts`, attempt numbers going on from the last, the same delivery
   * id (the receiver's de-duplication key). Refused while it is still being
   * delivered, and for a disabled webhook, which would not send it.
   */
  async retry(webhook: WebhookRecord, deliveryId: string): Promise<DeliveryRecord> {
    const record = await this.get(webhook.webhook_id, deliveryId);
    if (!webhook.is_active) {
      throw new ConflictError('The webhook is disabled; enable it before retrying its deliveries');
    }
    if (record.in_flight || record.status === 'pending' || record.status === 'retrying') {
      throw new ConflictError(`Delivery ${deliveryId} is still being delivered`);
    }
    if (record.is_test)
      throw new ConflictError('Test deliveries cannot be retried; send a new test');
    if (record.attempt_count >= MAX_ATTEMPTS_PER_DELIVERY) {
      throw new ConflictError(
        `Delivery ${deliveryId} has had ${record.attempt_count} attempts, the most a delivery may have`,
      );
    }
    return restartDelivery(this.#history, this.#queue, record, this.#now());
  }

  /**
   * One attempt, now, answered in the response: no retries, no counters, but
   * kept in the history (marked as a test) like any delivery. With
   * `overrideUrl` it goes there instead of the webhook's url, under the same
   * SSRF guard; stored credentials follow it only for a key that may
   * redirect them (manage_security).
   */
  async test(
    webhook: WebhookRecord,
    input: {
      eventType?: string | undefined;
      payload?: Record<string, unknown> | undefined;
      overrideUrl?: string | undefined;
      mayRedirectCredentials?: boolean | undefined;
    },
  ): Promise<TestDeliveryResult> {
    if (input.overrideUrl !== undefined) {
      assertCredentialsMayReach(webhook, input.overrideUrl, input.mayRedirectCredentials ?? false);
    }
    const target =
      input.overrideUrl === undefined ? webhook : { ...webhook, url: input.overrideUrl };
    const now = this.#now();
    const eventType = input.eventType ?? TEST_EVENT_TYPE;
    const event: DeliveryEvent = {
      event_id: this.#newId(),
      event_type: eventType,
      tenant_id: webhook.tenant,
      occurred_at: now.toISOString(),
      entity_type: eventType.split('.')[0] ?? 'webhook',
      data: input.payload ?? {
        message: 'This is a test delivery from Hookline',
        webhook_id: webhook.webhook_id,
      },
    };
    const deliveryId = newDeliveryId(now.getTime());
    const { record: attempt, result } = await performAttempt(this.#attempts, {
      // A test delivery carries the test header (headers.ts TEST_HEADER), whatever the mode.
      webhook: { ...target, is_test_mode: true },
      event,
      deliveryId,
      attempt: 1,
      now,
      // The API answers within API Gateway's 29 s: two token requests and two sends at most.
      maxTimeoutMs: TEST_TIMEOUT_MS,
    });
    const finishedAt = new Date(now.getTime() + attempt.duration_ms).toISOString();
    const record = newDeliveryRecord({
      deliveryId,
      webhook,
      event,
      now,
      retentionMs: this.#retentionMs,
      isTest: true,
    });
    await this.#history.put(
      withOutcome(
        record,
        attempt,
        {
          status: result.ok ? 'delivered' : 'failed',
          final_reason: result.ok
            ? undefined
            : (result.error_message ?? 'The test delivery failed'),
          completed_at: finishedAt,
          updated_at: finishedAt,
        },
        this.#retentionMs,
      ),
    );
    return {
      test_id: event.event_id,
      delivery_id: deliveryId,
      success: result.ok,
      status_code: result.status_code ?? null,
      response_time_ms: result.duration_ms,
      response_body: result.status_code === undefined ? null : result.response_body,
      error_message: result.ok ? null : (result.error_message ?? null),
      tested_at: now.toISOString(),
    };
  }

  /**
   * The request the webhook's first attempt would send for this event (the
   * catalog's sample of its type without data), secrets and signatures
   * redacted. Sends nothing, stores nothing.
   */
  preview(webhook: WebhookRecord, input: PreviewEventInput = {}): DeliveryPreview {
    const context = { now: this.#now(), newId: this.#newId, userAgent: this.#attempts.userAgent };
    return previewDelivery(webhook, previewEvent(webhook, input, context), context);
  }
}
