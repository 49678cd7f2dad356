import { randomUUID } from 'node:crypto';
import * as v from 'valibot';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bucketOf,
  exactPercentile,
  percentileErrorBound,
} from '../../functions/domain/analytics/histogram.ts';
import {
  analyticsRange,
  webhookAnalyticsQuerySchema,
} from '../../functions/domain/analytics/report.ts';
import { AnalyticsService } from '../../functions/domain/analytics/service.ts';
import { deliveryIdFor } from '../../functions/domain/delivery/ids.ts';
import type { DeliveryJob } from '../../functions/domain/delivery/jobs.ts';
import type { AttemptRecord, DeliveryRecord } from '../../functions/domain/delivery/record.ts';
import { type WebhookRecord, webhookConfigSchema } from '../../functions/domain/webhooks/schema.ts';
import { newWebhook } from '../../functions/domain/webhooks/webhook.ts';
import { startReceiver, type TestReceiver } from '../support/receiver.ts';
import { type DynamoDbFixture, type Harness, harness, message, startFixture } from './harness.ts';

/**
 * Delivery analytics from what the worker really did, against the real
 * repositories on dynalite with the clock in the test's hands: retries
 * across an hour boundary, an abandoned and a failed delivery, a test-mode
 * webhook, a second tenant, and a delivery the next day, outside the range.
 * Every metric is checked exactly against the delivery records; the
 * percentiles within the histogram's documented bound.
 */

let fixture: DynamoDbFixture;
let stopFixture: () => Promise<void>;
let h: Harness;
const receivers: Record<'ok' | 'flaky' | 'failing' | 'gone', TestReceiver> = {} as never;
const hooks: Record<'a' | 'b' | 'x' | 'z' | 't' | 'g', WebhookRecord> = {} as never;
const jobs: Record<string, DeliveryJob> = {};

const at = (iso: string) => {
  h.clock.now = Date.parse(iso);
};

const create = async (
  tenant: string,
  receiver: TestReceiver,
  config: Record<string, unknown> = {},
): Promise<WebhookRecord> => {
  const webhook = newWebhook(
    tenant,
    v.parse(webhookConfigSchema, {
      name: 'hook',
      url: receiver.url,
      event_types: ['ticket.created'],
      ...config,
    }),
    { webhookId: randomUUID(), now: new Date(h.clock.now) },
  );
  await h.webhooks.create(webhook);
  return webhook;
};

const jobOf = (name: string, webhook: WebhookRecord, eventType: string): DeliveryJob => {
  const eventId = randomUUID();
  const job: DeliveryJob = {
    delivery_id: deliveryIdFor(webhook.tenant, eventId, webhook.webhook_id, h.clock.now),
    tenant: webhook.tenant,
    webhook_id: webhook.webhook_id,
    attempt: 1,
    event: {
      event_id: eventId,
      event_type: eventType,
      tenant_id: webhook.tenant,
      occurred_at: new Date(h.clock.now).toISOString(),
      entity_type: eventType.split('.')[0] ?? 'ticket',
      data: { id: name },
    },
  };
  jobs[name] = job;
  return job;
};

const recordOf = async (name: string): Promise<DeliveryRecord> => {
  const job = jobs[name];
  const record = job && (await h.deliveries.get(job.webhook_id, job.delivery_id));
  if (!record) throw new Error(`no record of ${name}`);
  return record;
};

/** When an attempt finished, as the worker dates it. */
const finishedAt = (attempt: AttemptRecord | undefined) =>
  new Date(Date.parse(attempt?.started_at ?? '') + (attempt?.duration_ms ?? 0)).toISOString();

const sumTenths = (values: readonly number[]) =>
  Math.round(values.reduce((sum, value) => sum + value * 10, 0)) / 10;

beforeAll(async () => {
  ({ fixture, stop: stopFixture } = await startFixture());
  h = await harness(fixture);
  receivers.ok = await startReceiver();
  receivers.flaky = await startReceiver();
  receivers.flaky.script({ status: 500, body: 'not yet' });
  receivers.failing = await startReceiver({ status: 503, body: 'down' });
  receivers.gone = await startReceiver({ status: 410, body: 'gone' });

  at('2026-03-01T12:00:00.000Z');
  hooks.a = await create('acme', receivers.flaky, {
    retry_config: { strategy: 'fixed_interval', initial_delay: 1000, max_attempts: 2 },
  });
  hooks.b = await create('acme', receivers.ok);
  hooks.x = await create('acme', receivers.failing, { retry_config: { max_attempts: 1 } });
  hooks.z = await create('acme', receivers.gone);
  hooks.t = await create('acme', receivers.gone, { is_test_mode: true });
  hooks.g = await create('globex', receivers.ok);

  // Hour 12: A fails (to be retried), B is delivered, X is abandoned, T (test mode) gets a
  // 410, and globex's G is delivered.
  at('2026-03-01T12:59:59.000Z');
  await h.processor.process([
    message(jobOf('a', hooks.a, 'ticket.created'), 'a-1'),
    message(jobOf('b1', hooks.b, 'ticket.created'), 'b1-1'),
    message(jobOf('x', hooks.x, 'invoice.paid'), 'x-1'),
    message(jobOf('t', hooks.t, 'ticket.created'), 't-1'),
    message(jobOf('g', hooks.g, 'ticket.created'), 'g-1'),
  ]);
  const retry = h.queue.take();
  expect(retry).toHaveLength(1);

  // Hour 13: A's retry succeeds; Z gets a 410 and is switched off.
  at('2026-03-01T13:00:00.500Z');
  await h.processor.process([...retry, message(jobOf('z', hooks.z, 'project.created'), 'z-1')]);

  // The next day, outside the range asked for below.
  at('2026-03-02T00:00:01.000Z');
  await h.processor.process([message(jobOf('b2', hooks.b, 'ticket.created'), 'b2-1')]);
});

afterAll(async () => {
  await Promise.all(Object.values(receivers).map((receiver) => receiver.close()));
  await stopFixture();
});

const read = (
  scope: { tenant: string; webhookId?: string },
  query: { date_from?: string; date_to?: string; granularity?: 'hour' | 'day' },
  nowIso = '2026-03-02T00:00:02.000Z',
) => {
  const now = new Date(nowIso);
  return new AnalyticsService(h.analytics, { now: () => now }).read(
    scope,
    analyticsRange(v.parse(webhookAnalyticsQuerySchema, query), now),
  );
};

const MARCH_1 = { date_from: '2026-03-01', date_to: '2026-03-01', granularity: 'day' } as const;

describe('a webhook retried across an hour boundary', () => {
  it('counts its failed attempt in the first hour, its success and delivery in the next', async () => {
    // Prepare
    const record = await recordOf('a');
    const [first, second] = record.attempts;
    expect(record.status).toBe('delivered');

    // Act
    const { report } = await read(
      { tenant: 'acme', webhookId: hooks.a.webhook_id },
      { date_from: '2026-03-01T12:00:00Z', date_to: '2026-03-01T13:00:00Z' },
    );

    // Assess
    expect(report.granularity).toBe('hour');
    expect(report.metrics).toEqual({
      total_deliveries: 1,
      successful_deliveries: 1,
      failed_deliveries: 0,
      success_rate: 100,
      average_response_time:
        Math.round(((first?.duration_ms ?? 0) + (second?.duration_ms ?? 0)) * 50) / 100,
      deliveries_by_status: { delivered: 1, failed: 0, abandoned: 0 },
      deliveries_by_event_type: { 'ticket.created': 1 },
      deliveries_timeline: [
        { date: '2026-03-01T12:00:00.000Z', successful: 0, failed: 0 },
        { date: '2026-03-01T13:00:00.000Z', successful: 1, failed: 0 },
      ],
      response_time_percentiles: expect.any(Object),
      attempts: { total: 2, successful: 1, failed: 1 },
      last_delivery_at: finishedAt(second),
      last_success_at: finishedAt(second),
      last_failure_at: finishedAt(first),
    });
    expect(finishedAt(first) < '2026-03-01T13').toBe(true);
  });

  it('shows the hour before the boundary alone: an attempt failed, no delivery yet', async () => {
    const { report } = await read(
      { tenant: 'acme', webhookId: hooks.a.webhook_id },
      { date_from: '2026-03-01T12:00:00Z', date_to: '2026-03-01T12:59:59Z' },
    );
    expect(report.metrics).toMatchObject({
      total_deliveries: 0,
      attempts: { total: 1, successful: 0, failed: 1 },
      last_success_at: null,
    });
  });
});

describe('a tenant', () => {
  it('sums every webhook, leaves out the test-mode one, other tenants and other days', async () => {
    // Prepare: what the records say, test deliveries aside.
    const names = ['a', 'b1', 'x', 'z'];
    const records = await Promise.all(names.map(recordOf));
    const attempts = records.flatMap((record) => record.attempts);
    const durations = attempts.map((attempt) => attempt.duration_ms);

    // Act
    const { report } = await read({ tenant: 'acme' }, MARCH_1);

    // Assess
    expect(records.map((record) => record.status)).toEqual([
      'delivered',
      'delivered',
      'abandoned',
      'failed',
    ]);
    const { metrics } = report;
    expect(metrics).toMatchObject({
      total_deliveries: 4,
      successful_deliveries: 2,
      failed_deliveries: 2,
      success_rate: 50,
      deliveries_by_status: { delivered: 2, failed: 1, abandoned: 1 },
      deliveries_by_event_type: { 'invoice.paid': 1, 'project.created': 1, 'ticket.created': 2 },
      attempts: { total: 5, successful: 2, failed: 3 },
      average_response_time: Math.round((sumTenths(durations) / 5) * 100) / 100,
      deliveries_timeline: [{ date: '2026-03-01', successful: 2, failed: 2 }],
      last_delivery_at: attempts.map(finishedAt).sort().at(-1),
    });
    for (const p of [50, 90, 95, 99] as const) {
      const exact = exactPercentile(durations, p) ?? Number.NaN;
      const reported = metrics.response_time_percentiles[`p${p}`];
      expect(Math.abs(reported - exact)).toBeLessThanOrEqual(percentileErrorBound(exact));
      expect(bucketOf(reported)).toBe(bucketOf(exact));
    }
  });

  it('keeps the next day’s delivery on its side of the range', async () => {
    const { report } = await read({ tenant: 'acme' }, { date_from: '2026-03-02' });
    expect(report.metrics).toMatchObject({
      total_deliveries: 1,
      deliveries_by_event_type: { 'ticket.created': 1 },
    });
  });

  it('reads the same from a closed day’s item, written once from its hours', async () => {
    // Act: a day after, March 1 is closed; the first read writes its item, the second reads it.
    const later = '2026-03-03T00:00:00.000Z';
    const first = await read({ tenant: 'acme' }, MARCH_1, later);
    const second = await read({ tenant: 'acme' }, MARCH_1, later);
    const open = await read({ tenant: 'acme' }, MARCH_1);

    // Assess
    expect(first.report).toEqual(open.report);
    expect(second.report).toEqual(open.report);
    expect(first.itemsRead).toBe(2);
    expect(second.itemsRead).toBe(1);
  });

  it('is another tenant’s own', async () => {
    const { report } = await read({ tenant: 'globex' }, MARCH_1);
    expect(report.metrics).toMatchObject({
      total_deliveries: 1,
      successful_deliveries: 1,
      attempts: { total: 1, successful: 1, failed: 0 },
    });
  });
});

describe('the webhooks’ own counters', () => {
  it('agree with their analytics over the same range', async () => {
    for (const webhook of [hooks.a, hooks.b, hooks.x, hooks.z, hooks.g]) {
      const stored = await h.webhooks.get(webhook.tenant, webhook.webhook_id);
      const { report } = await read(
        { tenant: webhook.tenant, webhookId: webhook.webhook_id },
        { date_from: '2026-03-01' },
      );
      expect(
        {
          total_deliveries: report.metrics.total_deliveries,
          successful_deliveries: report.metrics.successful_deliveries,
          failed_deliveries: report.metrics.failed_deliveries,
          last_delivery_at: report.metrics.last_delivery_at,
          last_success_at: report.metrics.last_success_at,
          last_failure_at: report.metrics.last_failure_at,
        },
        webhook.webhook_id,
      ).toEqual({
        total_deliveries: stored?.total_deliveries,
        successful_deliveries: stored?.successful_deliveries,
        failed_deliveries: stored?.failed_deliveries,
        last_delivery_at: stored?.last_delivery_at ?? null,
        last_success_at: stored?.last_success_at ?? null,
        last_failure_at: stored?.last_failure_at ?? null,
      });
    }
  });
});

describe('a webhook in test mode', () => {
  it('is sent real events marked as tests, recorded as tests, counted nowhere, never switched off', async () => {
    // Prepare
    const record = await recordOf('t');
    const stored = await h.webhooks.get('acme', hooks.t.webhook_id);

    // Act
    const { report } = await read(
      { tenant: 'acme', webhookId: hooks.t.webhook_id },
      { date_from: '2026-03-01' },
    );

    // Assess
    const sent = receivers.gone.requests.find(
      (request) => request.headers['x-alga-webhook-id'] === hooks.t.webhook_id,
    );
    expect(sent?.headers['x-alga-test']).toBe('true');
    expect(JSON.parse(sent?.body ?? '{}').data).toEqual({ id: 't' });
    expect(record).toMatchObject({ is_test: true, status: 'failed' });
    expect(record.attempts[0]?.request.headers['X-Alga-Test']).toBe('true');
    expect(stored).toMatchObject({
      is_active: true,
      total_deliveries: 0,
      successful_deliveries: 0,
      failed_deliveries: 0,
    });
    expect(stored?.last_delivery_at ?? null).toBeNull();
    expect(stored?.auto_disabled_at ?? null).toBeNull();
    expect(report.metrics.total_deliveries).toBe(0);
    expect(report.metrics.attempts.total).toBe(0);
  });

  it('is still in the batch’s metrics: it was a real send', () => {
    const first = h.metrics[0];
    expect(first?.deliveries).toEqual({ delivered: 2, failed: 1, abandoned: 1 });
    expect(first?.attempts).toEqual({ success: 2, failure: 3 });
    expect(first?.latencyMs).toHaveLength(5);
    expect(h.metrics[1]?.webhooksAutoDisabled).toBe(1);
  });

  it('leaves a real webhook’s receiver without the test header', () => {
    const sent = receivers.ok.requests.find(
      (request) => request.headers['x-alga-webhook-id'] === hooks.b.webhook_id,
    );
    expect(sent?.headers['x-alga-test']).toBeUndefined();
  });
});
