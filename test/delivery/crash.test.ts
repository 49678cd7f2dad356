import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { WorkerDependencies } from '../../functions/domain/delivery/worker.ts';
import { startReceiver, type TestReceiver } from '../support/receiver.ts';
import {
  attemptHeaders,
  createWebhook,
  type DynamoDbFixture,
  type Harness,
  harness,
  jobFor,
  message,
  startFixture,
  TENANT,
} from './harness.ts';

/**
 * The executor's three steps (records; follow-ups and dead letters; webhook
 * state and counters), each made to fail, and each made to die with the
 * function, in one batch that exercises them all: retries, an abandonment,
 * a 410 and successes. Then SQS's part is played: the messages answered as
 * failed come back, or, when the function died, the whole batch does once
 * the visibility timeout has passed; the queue is then drained. Whatever the
 * step, no attempt number is sent twice, nothing is lost, and every
 * follow-up attempt happens once.
 */

type Ports = Pick<WorkerDependencies, 'store' | 'queue' | 'webhooks'>;

/**
 * The ports of one step, each call failing (`fails`) or never answering
 * (`dies`: the function died waiting on it); `reached` resolves at the first.
 */
const breakStep = (step: 1 | 2 | 3, how: 'fails' | 'dies') => {
  let reach: () => void = () => undefined;
  const reached = new Promise<void>((resolve) => {
    reach = resolve;
  });
  const broken = () => {
    reach();
    return how === 'fails'
      ? Promise.reject(new Error('injected failure'))
      : new Promise<never>(() => undefined);
  };
  const replace = (ports: Ports): Partial<Ports> => {
    switch (step) {
      case 1:
        return { store: { ...bound(ports.store), record: broken } };
      case 2:
        return { queue: { send: broken, deadLetter: broken } };
      case 3:
        return { webhooks: { ...bound(ports.webhooks), recordStats: broken, disable: broken } };
    }
  };
  return { replace, reached };
};

/** An object's methods bound to it, so they survive being spread. */
const bound = <T extends object>(target: T): T => {
  const methods = Object.getOwnPropertyNames(Object.getPrototypeOf(target)).filter(
    (name) => name !== 'constructor',
  );
  return Object.fromEntries(
    methods.map((name) => [
      name,
      (target as Record<string, (...args: unknown[]) => unknown>)[name]?.bind(target),
    ]),
  ) as T;
};

let fixture: DynamoDbFixture;
let stopFixture: () => Promise<void>;
const receivers: Record<'failing' | 'gone' | 'ok', TestReceiver | undefined> = {
  failing: undefined,
  gone: undefined,
  ok: undefined,
};

beforeAll(async () => {
  ({ fixture, stop: stopFixture } = await startFixture());
});

afterAll(async () => {
  await stopFixture();
});

beforeEach(async () => {
  receivers.failing = await startReceiver({ status: 500, body: 'down' });
  receivers.gone = await startReceiver({ status: 410 });
  receivers.ok = await startReceiver({ status: 200, body: 'ok' });
  return async () => {
    await Promise.all(Object.values(receivers).map((receiver) => receiver?.close()));
  };
});

const receiver = (name: keyof typeof receivers): TestReceiver => {
  const found = receivers[name];
  if (!found) throw new Error(`no ${name} receiver`);
  return found;
};

/** Six deliveries over four webhooks: every kind of effect in one batch. */
const setUp = async (h: Harness) => {
  const retry = {
    retry_config: { strategy: 'fixed_interval', initial_delay: 60_000, max_attempts: 2 },
  };
  const webhooks = {
    retry: await createWebhook(h, receiver('failing'), retry),
    abandon: await createWebhook(h, receiver('failing'), { retry_config: { max_attempts: 1 } }),
    gone: await createWebhook(h, receiver('gone')),
    ok: await createWebhook(h, receiver('ok')),
  };
  const jobs = [
    { kind: 'retry', job: jobFor(webhooks.retry.webhook_id) },
    { kind: 'retry', job: jobFor(webhooks.retry.webhook_id) },
    { kind: 'abandon', job: jobFor(webhooks.abandon.webhook_id) },
    { kind: 'gone', job: jobFor(webhooks.gone.webhook_id) },
    { kind: 'ok', job: jobFor(webhooks.ok.webhook_id) },
    { kind: 'ok', job: jobFor(webhooks.ok.webhook_id) },
  ] as const;
  return { webhooks, jobs, batch: jobs.map(({ job }, index) => message(job, `m${index}`)) };
};

/** SQS brings messages back after the visibility timeout, past the stale-claim limit. */
const VISIBILITY_MS = 120_000;

/** Plays the queue out: every job sent is received once its delay has passed. */
const drain = async (h: Harness) => {
  for (let round = 0; round < 10 && h.queue.sent.length > 0; round++) {
    h.clock.now += 61_000;
    await h.newWorker().process(h.queue.take());
  }
  expect(h.queue.sent).toEqual([]);
};

const FINAL = { retry: 'abandoned', abandon: 'abandoned', gone: 'failed', ok: 'delivered' };

describe.each([1, 2, 3] as const)('step %i of the executor', (step) => {
  it.each([
    // [how, copies of the in-batch follow-up jobs and dead letter, counters exact]
    ['fails', 1, step !== 3],
    ['dies', step === 3 ? 2 : 1, step === 1],
  ] as const)(
    '%s: redelivered, nothing lost, no attempt number twice, follow-ups once',
    async (how, copies, exactCounters) => {
      // Prepare
      const h = await harness(fixture);
      const { webhooks, jobs, batch } = await setUp(h);

      // Act: the first invocation breaks at the step; SQS then does its part.
      const broken = breakStep(step, how);
      const first = h.newWorker(broken.replace).process(batch);
      let redelivered = batch;
      if (how === 'fails') {
        const failures = await first;
        redelivered = batch.filter(({ id }) => failures.includes(id));
      } else {
        // The invocation never returns; its other calls of the step were made with the first.
        await broken.reached;
      }
      h.clock.now += VISIBILITY_MS;
      await h.newWorker().process(redelivered);
      await drain(h);

      // Assess: each attempt number went out once.
      const sent = Object.values(receivers).flatMap((r) => (r ? attemptHeaders(r) : []));
      expect(new Set(sent).size).toBe(sent.length);

      // Nothing lost: every delivery ended as it should, each attempt sent is recorded.
      for (const { kind, job } of jobs) {
        const record = await h.deliveries.get(job.webhook_id, job.delivery_id);
        expect(record?.status, `${kind} ${job.delivery_id}`).toBe(FINAL[kind]);
        expect(record?.in_flight ?? null).toBeNull();
        const recorded = record?.attempts.map((attempt) => attempt.attempt) ?? [];
        expect(recorded).toEqual(recorded.map((_, index) => index + 1));
        const numbers = sent
          .filter((entry) => entry.startsWith(`${job.delivery_id}#`))
          .map((entry) => Number(entry.split('#')[1]));
        expect(recorded).toEqual(expect.arrayContaining(numbers));
      }
      expect((await h.webhooks.get(TENANT, webhooks.gone.webhook_id))?.is_active).toBe(false);

      // Follow-ups once: each follow-up attempt was sent once (above); its job was
      // queued once, or twice when the function died after queueing it, and then
      // the copy was dropped without a send.
      const retried = jobs.filter(({ kind }) => kind === 'retry');
      for (const { job } of retried) {
        const queued = h.queue.log.filter(
          (next) => next.delivery_id === job.delivery_id && next.attempt === 2,
        );
        expect(queued).toHaveLength(copies);
      }
      const deadLetters = (id: string) =>
        h.queue.deadLetters.filter(({ job }) => job.delivery_id === id).length;
      for (const { kind, job } of jobs) {
        const expected = kind === 'retry' ? 1 : kind === 'abandon' ? copies : 0;
        expect(deadLetters(job.delivery_id), `${kind} dead letters`).toBe(expected);
      }

      // Counters: never counted twice; exact unless the batch's update was lost.
      const ok = await h.webhooks.get(TENANT, webhooks.ok.webhook_id);
      if (exactCounters) expect(ok?.successful_deliveries).toBe(2);
      else expect(ok?.successful_deliveries ?? 0).toBeLessThanOrEqual(2);
    },
  );
});

describe('after step 3, before the batch is answered', () => {
  it('a batch redelivered whole sends nothing again and counts nothing twice', async () => {
    // Prepare
    const h = await harness(fixture);
    const { webhooks, jobs, batch } = await setUp(h);
    await h.newWorker().process(batch);
    const before = Object.values(receivers).flatMap((r) => (r ? attemptHeaders(r) : []));

    // Act: the answer was lost; SQS brings the whole batch back.
    h.clock.now += VISIBILITY_MS;
    await h.newWorker().process(batch);

    // Assess
    const after = Object.values(receivers).flatMap((r) => (r ? attemptHeaders(r) : []));
    expect(after).toEqual(before);
    const ok = await h.webhooks.get(TENANT, webhooks.ok.webhook_id);
    expect(ok?.successful_deliveries).toBe(2);
    for (const { kind, job } of jobs.filter(({ kind }) => kind === 'retry')) {
      const queued = h.queue.log.filter(
        (next) => next.delivery_id === job.delivery_id && next.attempt === 2,
      );
      expect(queued, kind).toHaveLength(2);
    }
    await drain(h);
    const sent = Object.values(receivers).flatMap((r) => (r ? attemptHeaders(r) : []));
    expect(new Set(sent).size).toBe(sent.length);
  });
});
