import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DeliveryStore } from '../../functions/domain/delivery/ports.ts';
import { WebhookService } from '../../functions/domain/webhooks/service.ts';
import type { DeliveryRepository } from '../../functions/repositories/deliveries.ts';
import { startReceiver, type TestReceiver } from '../support/receiver.ts';
import {
  attemptHeaders as attemptHeadersOf,
  createWebhook as createWebhookOn,
  type DynamoDbFixture,
  type Harness,
  HOUR,
  harness as harnessOn,
  jobFor,
  message,
  startFixture,
  TENANT,
} from './harness.ts';

/**
 * The delivery worker's logic against the real repositories on dynalite and
 * a real HTTP receiver, with the queue and the clock in the test's hands:
 * each "redelivery" below is what SQS would do.
 */

let fixture: DynamoDbFixture;
let stopFixture: () => Promise<void>;
let receiver: TestReceiver;

beforeAll(async () => {
  ({ fixture, stop: stopFixture } = await startFixture());
});

afterAll(async () => {
  await stopFixture();
});

/**
 * The store losing the nth record of the first batch it writes, as a
 * function killed halfway through its write would.
 */
const losingNthRecord = (deliveries: DeliveryRepository, failing: number): DeliveryStore => {
  let writes = 0;
  return {
    claimFirst: (record) => deliveries.claimFirst(record),
    claimNext: (...args) => deliveries.claimNext(...args),
    get: (...args) => deliveries.get(...args),
    async record(batch) {
      writes += 1;
      if (writes > 1) return deliveries.record(batch);
      const lost = batch[failing - 1];
      const unwritten = await deliveries.record(batch.filter((write) => write !== lost));
      if (lost) unwritten.set(lost.record.delivery_id, 'failed');
      return unwritten;
    },
  };
};

const harness = (options: { failingRecordWrite?: number } = {}): Promise<Harness> => {
  const failing = options.failingRecordWrite;
  return harnessOn(
    fixture,
    failing ? { store: (deliveries) => losingNthRecord(deliveries, failing) } : {},
  );
};

const createWebhook = (h: Harness, config: Record<string, unknown> = {}) =>
  createWebhookOn(h, receiver, config);

const attemptHeaders = () => attemptHeadersOf(receiver);

beforeEach(async () => {
  receiver = await startReceiver();
});

afterEach(async () => {
  await receiver.close();
});

describe('a delivery that succeeds', () => {
  it('is sent once, recorded as delivered, and counted on the webhook', async () => {
    const h = await harness();
    const webhook = await createWebhook(h);
    const job = jobFor(webhook.webhook_id);

    const failures = await h.processor.process([message(job)]);

    expect(failures).toEqual([]);
    expect(receiver.requests).toHaveLength(1);
    const record = await h.deliveries.get(webhook.webhook_id, job.delivery_id);
    expect(record?.status).toBe('delivered');
    expect(record?.attempts).toHaveLength(1);
    expect(record?.attempts[0]?.status_code).toBe(200);
    expect(record?.in_flight ?? undefined).toBeUndefined();
    const stored = await h.webhooks.get(TENANT, webhook.webhook_id);
    expect(stored?.total_deliveries).toBe(1);
    expect(stored?.successful_deliveries).toBe(1);
    expect(stored?.last_success_at).toBeTruthy();
  });

  it('is not sent again when its job arrives twice, together or later', async () => {
    const h = await harness();
    const webhook = await createWebhook(h);
    const job = jobFor(webhook.webhook_id);

    await h.processor.process([message(job, 'a'), message(job, 'b')]);
    await h.processor.process([message(job, 'c')]);

    expect(receiver.requests).toHaveLength(1);
    expect(h.queue.sent).toEqual([]);
  });
});

describe('a failing receiver', () => {
  it('is retried on schedule, then the delivery is abandoned into the dead-letter queue', async () => {
    receiver.setDefault({ status: 500, body: 'down' });
    const h = await harness();
    const webhook = await createWebhook(h, {
      retry_config: { strategy: 'fixed_interval', initial_delay: 60_000, max_attempts: 3 },
    });
    const job = jobFor(webhook.webhook_id);

    await h.processor.process([message(job)]);
    const second = h.queue.sent.map(({ job: next, delaySeconds }) => ({
      attempt: next.attempt,
      // The wait runs from the end of the attempt, a moment after the fake clock's now.
      delaySeconds: Math.min(delaySeconds, 60),
    }));
    h.clock.now += 60_000;
    await h.processor.process(h.queue.take());
    h.clock.now += 60_000;
    await h.processor.process(h.queue.take());

    expect(second).toEqual([{ attempt: 2, delaySeconds: 60 }]);
    expect(attemptHeaders()).toEqual([1, 2, 3].map((n) => `${job.delivery_id}#${n}`));
    const record = await h.deliveries.get(webhook.webhook_id, job.delivery_id);
    expect(record?.status).toBe('abandoned');
    expect(record?.attempts.map((attempt) => attempt.status_code)).toEqual([500, 500, 500]);
    expect(record?.attempts[0]?.next_retry_at).toMatch(/^2026-03-01T12:01:00\.\d{3}Z$/);
    expect(record?.dead_lettered).toBe(true);
    expect(h.queue.deadLetters).toHaveLength(1);
    expect(h.queue.deadLetters[0]?.reason).toMatch(/3 attempts/);
    expect(h.queue.sent).toEqual([]);
    const stored = await h.webhooks.get(TENANT, webhook.webhook_id);
    expect(stored?.failed_deliveries).toBe(1);
    expect(stored?.last_failure_at).toBeTruthy();
  });

  it('waits longer than SQS can delay by chaining delays, without attempting early', async () => {
    receiver.setDefault({ status: 503 });
    const h = await harness();
    const webhook = await createWebhook(h, {
      retry_config: { strategy: 'custom', delays: [2 * HOUR], max_attempts: 2 },
    });
    const job = jobFor(webhook.webhook_id);

    await h.processor.process([message(job)]);
    const [first] = h.queue.sent;
    h.clock.now += 900_000;
    await h.processor.process(h.queue.take());
    const [second] = h.queue.sent;

    expect(first?.delaySeconds).toBe(900);
    const dueAt = h.clock.now - 900_000 + 2 * HOUR;
    expect(first?.job.not_before).toBeGreaterThanOrEqual(dueAt);
    expect(first?.job.not_before).toBeLessThan(dueAt + 1000);
    expect(second?.delaySeconds).toBe(900);
    expect(second?.job.attempt).toBe(2);
    expect(receiver.requests).toHaveLength(1);
  });

  it('honours Retry-After on 429 without spending more than one attempt', async () => {
    receiver.script({ status: 429, headers: { 'retry-after': '120' } });
    const h = await harness();
    const webhook = await createWebhook(h, {
      retry_config: { strategy: 'fixed_interval', initial_delay: 1000, max_attempts: 3 },
    });
    const job = jobFor(webhook.webhook_id);

    await h.processor.process([message(job)]);

    const delays = h.queue.sent.map((entry) => entry.delaySeconds);
    expect(delays).toHaveLength(1);
    expect(delays[0]).toBeGreaterThanOrEqual(120);
    expect(delays[0]).toBeLessThanOrEqual(121);
  });

  it('disables the webhook on 410 Gone and stops', async () => {
    receiver.setDefault({ status: 410 });
    const h = await harness();
    const webhook = await createWebhook(h);
    const job = jobFor(webhook.webhook_id);

    await h.processor.process([message(job)]);

    const record = await h.deliveries.get(webhook.webhook_id, job.delivery_id);
    expect(record?.status).toBe('failed');
    expect(h.queue.sent).toEqual([]);
    const stored = await h.webhooks.get(TENANT, webhook.webhook_id);
    expect(stored?.is_active).toBe(false);
    expect(stored?.auto_disabled_at).toBeTruthy();
  });

  it('disables a webhook failing without a break for 24 hours; a success resets the clock', async () => {
    const h = await harness();
    const webhook = await createWebhook(h, { retry_config: { max_attempts: 1 } });
    receiver.setDefault({ status: 500 });
    await h.processor.process([message(jobFor(webhook.webhook_id))]);
    h.clock.now += 20 * HOUR;
    receiver.setDefault({ status: 200 });
    await h.processor.process([message(jobFor(webhook.webhook_id))]);
    receiver.setDefault({ status: 500 });
    h.clock.now += 1 * HOUR;
    await h.processor.process([message(jobFor(webhook.webhook_id))]);
    h.clock.now += 20 * HOUR;
    await h.processor.process([message(jobFor(webhook.webhook_id))]);
    const stillOn = await h.webhooks.get(TENANT, webhook.webhook_id);

    h.clock.now += 5 * HOUR;
    await h.processor.process([message(jobFor(webhook.webhook_id))]);

    expect(stillOn?.is_active).toBe(true);
    const stored = await h.webhooks.get(TENANT, webhook.webhook_id);
    expect(stored?.is_active).toBe(false);
    expect(stored?.auto_disabled_at).toBe(new Date(h.clock.now).toISOString());
  });
});

describe('faults', () => {
  it('loses nothing when the worker dies mid-batch, and never repeats an attempt number', async () => {
    const h = await harness({ failingRecordWrite: 2 });
    // The attempt whose record is lost was made; the receiver saw it once.
    const webhook = await createWebhook(h);
    const jobs = [1, 2, 3].map(() => jobFor(webhook.webhook_id));
    const batch = jobs.map((job, index) => message(job, `m${index}`));

    const failures = await h.processor.process(batch);
    // SQS brings the failed message back after the visibility timeout.
    h.clock.now += 120_000;
    const redelivered = batch.filter((entry) => failures.includes(entry.id));
    await h.processor.process(redelivered);
    h.clock.now += 120_000;
    await h.processor.process(h.queue.take());

    expect(failures).toHaveLength(1);
    const statuses = await Promise.all(
      jobs.map(
        async (job) => (await h.deliveries.get(webhook.webhook_id, job.delivery_id))?.status,
      ),
    );
    expect(statuses).toEqual(['delivered', 'delivered', 'delivered']);
    const sent = attemptHeaders();
    expect(new Set(sent).size).toBe(sent.length);
    expect(receiver.requests.length).toBe(4);
  });

  it('answers a job whose delivery another worker holds with a redelivery, not a second send', async () => {
    const h = await harness();
    const webhook = await createWebhook(h);
    const job = jobFor(webhook.webhook_id);
    receiver.script({ status: 200, delayMs: 300 });

    const [first, second] = await Promise.all([
      h.processor.process([message(job, 'first')]),
      new Promise<string[]>((resolve) =>
        setTimeout(() => resolve(h.processor.process([message(job, 'second')])), 100),
      ),
    ]);

    expect(first).toEqual([]);
    expect(second).toEqual(['second']);
    expect(receiver.requests).toHaveLength(1);
  });

  it('stops the deliveries of a deleted webhook', async () => {
    const h = await harness();
    const webhook = await createWebhook(h);
    await h.webhooks.delete(TENANT, webhook.webhook_id);

    const failures = await h.processor.process([message(jobFor(webhook.webhook_id))]);

    expect(failures).toEqual([]);
    expect(receiver.requests).toHaveLength(0);
  });
});

describe('rate limits', () => {
  it('delay what is over the limit without spending attempts', async () => {
    const h = await harness();
    const webhook = await createWebhook(h, {
      rate_limit: { enabled: true, requests_per_minute: 60, burst_limit: 2 },
    });
    const jobs = [1, 2, 3, 4, 5].map(() => jobFor(webhook.webhook_id));

    await h.processor.process(jobs.map((job, index) => message(job, `m${index}`)));

    // The burst goes at once, the next slot (a second later) is waited for, the rest queued.
    expect(receiver.requests).toHaveLength(3);
    expect(h.queue.sent.map(({ job }) => [job.attempt, job.rate_slot])).toEqual([
      [1, true],
      [1, true],
    ]);
    expect(h.queue.sent.map(({ delaySeconds }) => delaySeconds)).toEqual([0, 1]);
    // Each waiting job holds its slot: when due it goes without asking again.
    h.clock.now += 5_000;
    await h.processor.process(h.queue.take());
    expect(receiver.requests).toHaveLength(5);
    expect(h.queue.sent).toEqual([]);
  });
});

describe('follow-ups', () => {
  it('are queued once, however often the job of a recorded attempt comes back', async () => {
    receiver.setDefault({ status: 500 });
    const h = await harness();
    const webhook = await createWebhook(h, {
      retry_config: { strategy: 'fixed_interval', initial_delay: 60_000, max_attempts: 3 },
    });
    const job = jobFor(webhook.webhook_id);

    await h.processor.process([message(job, 'first')]);
    await h.processor.process([message(job, 'again'), message(job, 'and again')]);

    expect(receiver.requests).toHaveLength(1);
    expect(h.queue.sent.map(({ job: next }) => next.attempt)).toEqual([2]);
  });

  it('queue the next attempt again when the first queueing was lost', async () => {
    receiver.setDefault({ status: 500 });
    const h = await harness();
    const webhook = await createWebhook(h, {
      retry_config: { strategy: 'fixed_interval', initial_delay: 60_000, max_attempts: 3 },
    });
    const job = jobFor(webhook.webhook_id);
    const send = h.queue.send.bind(h.queue);
    h.queue.send = () => Promise.reject(new Error('SQS is down'));

    const failures = await h.processor.process([message(job, 'first')]);
    h.queue.send = send;
    await h.processor.process([message(job, 'first')]);

    expect(failures).toEqual(['first']);
    expect(receiver.requests).toHaveLength(1);
    expect(h.queue.sent.map(({ job: next }) => next.attempt)).toEqual([2]);
  });

  it('copy an abandoned delivery to the dead-letter queue once', async () => {
    receiver.setDefault({ status: 500 });
    const h = await harness();
    const webhook = await createWebhook(h, { retry_config: { max_attempts: 1 } });
    const job = jobFor(webhook.webhook_id);

    await h.processor.process([message(job, 'first')]);
    await h.processor.process([message(job, 'again'), message(job, 'and again')]);

    expect(h.queue.deadLetters).toHaveLength(1);
  });
});

describe('interrupted attempts', () => {
  it('are recorded as cut off once stale, and the delivery goes on with the next number', async () => {
    const h = await harness();
    const webhook = await createWebhook(h, {
      retry_config: { strategy: 'fixed_interval', initial_delay: 1000, max_attempts: 3 },
    });
    const job = jobFor(webhook.webhook_id);
    // A worker claimed attempt 1 and died before recording anything.
    await h.deliveries.claimFirst({
      delivery_id: job.delivery_id,
      webhook_id: webhook.webhook_id,
      tenant: TENANT,
      event: job.event,
      event_type: job.event.event_type,
      status: 'pending',
      is_test: false,
      attempt_count: 1,
      chain_start: 0,
      in_flight: { attempt: 1, started_at: new Date(h.clock.now).toISOString(), claim: 'dead' },
      attempts: [],
      dead_lettered: false,
      created_at: new Date(h.clock.now).toISOString(),
      updated_at: new Date(h.clock.now).toISOString(),
      expires_at: Math.floor(h.clock.now / 1000) + 86_400,
    });

    const early = await h.processor.process([message(job, 'early')]);
    h.clock.now += 120_000;
    await h.processor.process([message(job, 'late')]);
    h.clock.now += 2_000;
    await h.processor.process(h.queue.take());

    expect(early).toEqual(['early']);
    const record = await h.deliveries.get(webhook.webhook_id, job.delivery_id);
    expect(
      record?.attempts.map((attempt) => [attempt.attempt, attempt.error_class ?? null]),
    ).toEqual([
      [1, 'timeout'],
      [2, null],
    ]);
    expect(record?.status).toBe('delivered');
    expect(attemptHeaders()).toEqual([`${job.delivery_id}#2`]);
  });
});

describe('webhooks switched off', () => {
  it('end their pending deliveries as failed without sending, and count them', async () => {
    const h = await harness();
    const webhook = await createWebhook(h, { is_active: false });
    const job = jobFor(webhook.webhook_id);

    await h.processor.process([message(job)]);

    expect(receiver.requests).toHaveLength(0);
    const record = await h.deliveries.get(webhook.webhook_id, job.delivery_id);
    expect(record?.status).toBe('failed');
    expect(record?.attempts).toEqual([]);
    expect(record?.final_reason).toMatch(/disabled/);
    const stored = await h.webhooks.get(TENANT, webhook.webhook_id);
    expect(stored?.failed_deliveries).toBe(1);
    expect(stored?.last_delivery_at ?? null).toBeNull();
  });

  it('start afresh when switched back on: an old run of failures does not disable them again', async () => {
    const h = await harness();
    const webhook = await createWebhook(h, { retry_config: { max_attempts: 1 } });
    receiver.setDefault({ status: 500 });
    await h.processor.process([message(jobFor(webhook.webhook_id))]);
    h.clock.now += 25 * HOUR;
    await h.processor.process([message(jobFor(webhook.webhook_id))]);
    const disabled = await h.webhooks.get(TENANT, webhook.webhook_id);
    const service = new WebhookService(h.webhooks, {
      maxWebhooksPerTenant: 10,
      now: () => new Date(h.clock.now),
    });

    await service.update(TENANT, webhook.webhook_id, { is_active: true });
    h.clock.now += HOUR;
    await h.processor.process([message(jobFor(webhook.webhook_id))]);

    expect(disabled?.is_active).toBe(false);
    const stored = await h.webhooks.get(TENANT, webhook.webhook_id);
    expect(stored?.is_active).toBe(true);
    expect(stored?.auto_disabled_at ?? null).toBeNull();
  });
});
