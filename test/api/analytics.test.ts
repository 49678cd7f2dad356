import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deltasOf } from '../../functions/domain/analytics/aggregate.ts';
import {
  AnalyticsRepository,
  tenantAnalyticsPartition,
} from '../../functions/repositories/analytics.ts';
import { METRICS } from '../../lib/resources.ts';
import type { LocalRuntime } from '../../local/runtime.ts';
import { startReceiver, type TestReceiver } from '../support/receiver.ts';
import {
  type ApiClient,
  apiClient,
  createKey,
  documentClientFor,
  emitEvents,
  eventually,
  startDeliveryRuntime,
} from '../support/runtime.ts';

/**
 * Health, analytics, the list's delivery filters, test mode and the
 * delivery metrics, end to end through the local runtime: producers' events
 * fanned out and delivered to real receivers, then read back through the
 * API, and the EMF lines the delivery function wrote read from its log.
 */

const TENANT = 'analytics-acme';
const OTHER = 'analytics-globex';

let runtime: LocalRuntime;
let api: ApiClient;
let other: ApiClient;
const lines: string[] = [];
const receivers: Record<'ok' | 'failing' | 'gone', TestReceiver> = {} as never;
const ids: Record<'ok' | 'failing' | 'testMode' | 'gone' | 'limited', string> = {} as never;

interface WebhookAnswer {
  webhook_id: string;
  name: string;
  is_active: boolean;
  total_deliveries: number;
  successful_deliveries: number;
  failed_deliveries: number;
  last_delivery_at: string | null;
  last_success_at: string | null;
  last_failure_at: string | null;
  auto_disabled_at: string | null;
}

interface Analytics {
  webhook_id: string | null;
  date_from: string;
  date_to: string;
  granularity: string;
  metrics: {
    total_deliveries: number;
    successful_deliveries: number;
    failed_deliveries: number;
    success_rate: number;
    average_response_time: number;
    deliveries_by_status: Record<string, number>;
    deliveries_by_event_type: Record<string, number>;
    deliveries_timeline: { date: string; successful: number; failed: number }[];
    response_time_percentiles: Record<string, number>;
    attempts: { total: number; successful: number; failed: number };
    last_delivery_at: string | null;
    last_success_at: string | null;
    last_failure_at: string | null;
  };
}

const create = async (name: string, url: string, config: Record<string, unknown>) => {
  const created = await api.post<{ data: { webhook_id: string } }>('/webhooks', {
    name,
    url,
    ...config,
  });
  expect(created.status, created.text).toBe(201);
  return created.body.data.webhook_id;
};

const webhook = async (id: string) =>
  (await api.get<{ data: WebhookAnswer }>(`/webhooks/${id}`)).body.data;

const analyticsOf = async (path: string, client = api) => {
  const answer = await client.get<{ data: Analytics }>(path);
  expect(answer.status, answer.text).toBe(200);
  return answer.body.data;
};

beforeAll(async () => {
  runtime = await startDeliveryRuntime({ functionLog: (line) => lines.push(line) });
  api = apiClient(runtime, await createKey(runtime, TENANT));
  other = apiClient(runtime, await createKey(runtime, OTHER));
  receivers.ok = await startReceiver();
  receivers.failing = await startReceiver({ status: 500, body: 'down' });
  receivers.gone = await startReceiver({ status: 410, body: 'gone' });

  ids.ok = await create('ok', receivers.ok.url, {
    event_types: ['ticket.created', 'ticket.updated'],
  });
  ids.failing = await create('failing', receivers.failing.url, {
    event_types: ['ticket.created'],
    retry_config: { max_attempts: 1 },
  });
  ids.testMode = await create('test mode', receivers.gone.url, {
    event_types: ['ticket.created'],
    is_test_mode: true,
  });
  ids.gone = await create('gone', receivers.gone.url, { event_types: ['project.created'] });
  // One request every 3 s: the second of two events waits for its slot.
  ids.limited = await create('limited', receivers.ok.url, {
    event_types: ['invoice.paid'],
    rate_limit: { enabled: true, requests_per_minute: 20, burst_limit: 1 },
  });

  const event = (event_type: string, id: string) => ({
    event_type,
    tenant_id: TENANT,
    data: { id },
  });
  await emitEvents(runtime, [
    event('ticket.created', 't-1'),
    event('ticket.created', 't-2'),
    event('ticket.updated', 't-1'),
    event('project.created', 'p-1'),
    event('invoice.paid', 'i-1'),
    event('invoice.paid', 'i-2'),
  ]);
  await eventually(
    async () => {
      const [ok, failing, gone, limited] = await Promise.all(
        [ids.ok, ids.failing, ids.gone, ids.limited].map(webhook),
      );
      const tests = await api.get<{ data: { status: string }[] }>(
        `/webhooks/${ids.testMode}/deliveries`,
      );
      return (
        ok?.total_deliveries === 3 &&
        failing?.total_deliveries === 2 &&
        gone?.total_deliveries === 1 &&
        limited?.total_deliveries === 2 &&
        tests.body.data.filter((delivery) => delivery.status === 'failed').length === 2
      );
    },
    30_000,
    'every delivery to finish',
  );
}, 90_000);

afterAll(async () => {
  await Promise.all(Object.values(receivers).map((receiver) => receiver.close()));
  await runtime?.stop();
});

describe('GET /webhooks/{id}/analytics', () => {
  it('answers the last 30 days by day, from what was delivered', async () => {
    const report = await analyticsOf(`/webhooks/${ids.ok}/analytics`);
    const today = new Date().toISOString().slice(0, 10);
    expect(report).toMatchObject({ webhook_id: ids.ok, granularity: 'day' });
    expect(report.date_to.slice(0, 10)).toBe(today);
    expect(report.metrics).toMatchObject({
      total_deliveries: 3,
      successful_deliveries: 3,
      failed_deliveries: 0,
      success_rate: 100,
      deliveries_by_status: { delivered: 3, failed: 0, abandoned: 0 },
      deliveries_by_event_type: { 'ticket.created': 2, 'ticket.updated': 1 },
      attempts: { total: 3, successful: 3, failed: 0 },
    });
    expect(report.metrics.deliveries_timeline).toHaveLength(30);
    expect(report.metrics.deliveries_timeline.at(-1)?.date).toBe(today);
    const points = report.metrics.deliveries_timeline;
    expect(points.reduce((sum, point) => sum + point.successful, 0)).toBe(3);
    expect(report.metrics.average_response_time).toBeGreaterThan(0);
    expect(report.metrics.response_time_percentiles.p99).toBeGreaterThanOrEqual(
      report.metrics.response_time_percentiles.p50 ?? 0,
    );
  });

  it('agrees with each webhook’s own counters over the same range', async () => {
    for (const id of [ids.ok, ids.failing, ids.testMode, ids.gone, ids.limited]) {
      const counters = await webhook(id);
      const { metrics } = await analyticsOf(`/webhooks/${id}/analytics`);
      expect(
        {
          total_deliveries: metrics.total_deliveries,
          successful_deliveries: metrics.successful_deliveries,
          failed_deliveries: metrics.failed_deliveries,
          last_delivery_at: metrics.last_delivery_at,
          last_success_at: metrics.last_success_at,
          last_failure_at: metrics.last_failure_at,
        },
        counters.name,
      ).toEqual({
        total_deliveries: counters.total_deliveries,
        successful_deliveries: counters.successful_deliveries,
        failed_deliveries: counters.failed_deliveries,
        last_delivery_at: counters.last_delivery_at,
        last_success_at: counters.last_success_at,
        last_failure_at: counters.last_failure_at,
      });
    }
  });

  it('counts by the hour on a short range, and nothing outside the range', async () => {
    const hourAgo = new Date(Date.now() - 3_600_000).toISOString();
    const now = await analyticsOf(
      `/webhooks/${ids.failing}/analytics?date_from=${hourAgo}&date_to=${new Date().toISOString()}`,
    );
    expect(now.granularity).toBe('hour');
    expect(now.metrics).toMatchObject({
      total_deliveries: 2,
      deliveries_by_status: { delivered: 0, failed: 0, abandoned: 2 },
      success_rate: 0,
      attempts: { total: 2, successful: 0, failed: 2 },
    });
    const before = await analyticsOf(
      `/webhooks/${ids.failing}/analytics?date_from=2026-01-01&date_to=2026-01-31`,
    );
    expect(before.metrics.total_deliveries).toBe(0);
    expect(before.metrics.deliveries_timeline).toHaveLength(31);
  });

  it.each([
    ['date_from=2026-03-05&date_to=2026-03-04', 'date_from'],
    ['date_from=2024-01-01&date_to=2026-01-01', 'date_from'],
    ['date_from=2026-01-01&date_to=2026-03-01&granularity=hour', 'granularity'],
    ['granularity=minute', 'granularity'],
    ['date_from=yesterday', 'date_from'],
    ['webhook_id=x', 'webhook_id'],
  ])('refuses ?%s, naming %s', async (query, field) => {
    const answer = await api.get<{ error: { code: string; details: { field: string }[] } }>(
      `/webhooks/${ids.ok}/analytics?${query}`,
    );
    expect(answer.status, answer.text).toBe(400);
    expect(answer.body.error.code).toBe('VALIDATION_ERROR');
    expect(answer.body.error.details.map((detail) => detail.field)).toContain(field);
  });
});

describe('GET /webhooks/analytics', () => {
  it('sums the tenant’s webhooks, test deliveries left out', async () => {
    const report = await analyticsOf('/webhooks/analytics');
    expect(report.webhook_id).toBeNull();
    expect(report.metrics).toMatchObject({
      total_deliveries: 8,
      successful_deliveries: 5,
      failed_deliveries: 3,
      success_rate: 62.5,
      deliveries_by_status: { delivered: 5, failed: 1, abandoned: 2 },
      deliveries_by_event_type: {
        'invoice.paid': 2,
        'project.created': 1,
        'ticket.created': 4,
        'ticket.updated': 1,
      },
      attempts: { total: 8, successful: 5, failed: 3 },
    });
  });

  it('narrows to one webhook with webhook_id, the same as its own route', async () => {
    const narrowed = await analyticsOf(`/webhooks/analytics?webhook_id=${ids.limited}`);
    const own = await analyticsOf(`/webhooks/${ids.limited}/analytics`);
    expect(narrowed).toEqual(own);
    expect(narrowed.metrics.total_deliveries).toBe(2);
  });

  it('is another tenant’s own, and finds none of this tenant’s webhooks', async () => {
    expect((await analyticsOf('/webhooks/analytics', other)).metrics.total_deliveries).toBe(0);
    const foreign = await other.get(`/webhooks/analytics?webhook_id=${ids.ok}`);
    expect(foreign.status).toBe(404);
    expect((await other.get(`/webhooks/${ids.ok}/analytics`)).status).toBe(404);
  });
});

describe('GET /webhooks/{id}/health', () => {
  it.each([
    ['ok', 'healthy', 1, true],
    ['failing', 'failing', 0, true],
    ['gone', 'disabled', 0, false],
    ['testMode', 'healthy', 1, true],
  ] as const)('%s is %s', async (name, status, rate, active) => {
    const answer = await api.get<{ data: Record<string, unknown> }>(
      `/webhooks/${ids[name]}/health`,
    );
    const counters = await webhook(ids[name]);
    expect(answer.status, answer.text).toBe(200);
    expect(answer.body.data).toEqual({
      webhook_id: ids[name],
      status,
      is_active: active,
      auto_disabled_at: counters.auto_disabled_at,
      total_deliveries: counters.total_deliveries,
      successful_deliveries: counters.successful_deliveries,
      failed_deliveries: counters.failed_deliveries,
      success_rate: rate,
      last_delivery_at: counters.last_delivery_at,
      last_success_at: counters.last_success_at,
      last_failure_at: counters.last_failure_at,
      // The circuit breaker's own states: test/delivery/isolation.test.ts.
      circuit: expect.objectContaining({ state: expect.any(String) }),
      checked_at: expect.any(String),
    });
  });
});

describe('a webhook in test mode', () => {
  it('gets real events marked as tests, is recorded as tests, counted nowhere, never switched off', async () => {
    // Receivers
    const sent = receivers.gone.requests.filter(
      (request) => request.headers['x-alga-webhook-id'] === ids.testMode,
    );
    expect(sent).toHaveLength(2);
    for (const request of sent) {
      expect(request.headers['x-alga-test']).toBe('true');
      expect(JSON.parse(request.body)).toMatchObject({ event_type: 'ticket.created' });
    }
    for (const request of receivers.ok.requests) {
      expect(request.headers['x-alga-test']).toBeUndefined();
    }
    // History
    const history = await api.get<{ data: { delivery_id: string; is_test: boolean }[] }>(
      `/webhooks/${ids.testMode}/deliveries`,
    );
    expect(history.body.data.map((delivery) => delivery.is_test)).toEqual([true, true]);
    const detail = await api.get<{
      data: { attempts: { request: { headers: Record<string, string> } }[] };
    }>(`/webhooks/${ids.testMode}/deliveries/${history.body.data[0]?.delivery_id}`);
    expect(detail.body.data.attempts[0]?.request.headers['X-Alga-Test']).toBe('true');
    // Counters, analytics, switch-off
    expect(await webhook(ids.testMode)).toMatchObject({
      is_active: true,
      total_deliveries: 0,
      failed_deliveries: 0,
      last_delivery_at: null,
      auto_disabled_at: null,
    });
    const { metrics } = await analyticsOf(`/webhooks/${ids.testMode}/analytics`);
    expect(metrics.total_deliveries + metrics.attempts.total).toBe(0);
  });
});

describe('GET /webhooks, by delivery', () => {
  const names = async (query: string) => {
    const answer = await api.get<{ data: WebhookAnswer[]; meta: { filters: unknown } }>(
      `/webhooks?${query}`,
    );
    expect(answer.status, answer.text).toBe(200);
    return answer.body.data.map((item) => item.name);
  };

  it('filters by success rate, leaving out webhooks with no deliveries', async () => {
    expect(await names('delivery_rate_min=50&sort=name&order=asc')).toEqual(['limited', 'ok']);
    expect(await names('delivery_rate_max=0&sort=name&order=asc')).toEqual(['failing', 'gone']);
    const answer = await api.get<{ meta: { filters: unknown } }>('/webhooks?delivery_rate_min=50');
    expect(answer.body.meta.filters).toEqual({ delivery_rate_min: 50 });
  });

  it('sorts by success rate, webhooks with no deliveries last', async () => {
    const sorted = await names('sort=success_rate&order=asc');
    expect(sorted.slice(0, 2).sort()).toEqual(['failing', 'gone']);
    expect(sorted.slice(2, 4).sort()).toEqual(['limited', 'ok']);
    expect(sorted[4]).toBe('test mode');
  });

  it('filters by the time of the last delivery', async () => {
    const hourAgo = new Date(Date.now() - 3_600_000).toISOString();
    expect((await names(`last_delivery_from=${hourAgo}&sort=name&order=asc`)).length).toBe(4);
    expect(await names('last_delivery_to=2026-01-01')).toEqual([]);
    const refused = await api.get('/webhooks?delivery_rate_min=70&delivery_rate_max=20');
    expect(refused.status).toBe(400);
  });
});

/** The EMF lines the functions wrote: metric name, dimensions and values, summed by dimension value. */
const emf = () =>
  lines.flatMap((line) => {
    if (!line.includes('"_aws"')) return [];
    const parsed = JSON.parse(line) as Record<string, unknown> & {
      _aws: {
        CloudWatchMetrics: {
          Namespace: string;
          Dimensions: string[][];
          Metrics: { Name: string; Unit: string }[];
        }[];
      };
    };
    return parsed._aws.CloudWatchMetrics.flatMap((directive) =>
      directive.Metrics.map((metric) => ({
        namespace: directive.Namespace,
        dimensions: directive.Dimensions,
        name: metric.Name,
        unit: metric.Unit,
        labels: Object.fromEntries(
          (directive.Dimensions[0] ?? []).map((dimension) => [dimension, parsed[dimension]]),
        ),
        values: [parsed[metric.Name]].flat() as number[],
        line,
      })),
    );
  });

const sumBy = (name: string, dimension: string) => {
  const sums: Record<string, number> = {};
  for (const metric of emf().filter((entry) => entry.name === name)) {
    const key = String(metric.labels[dimension]);
    sums[key] = (sums[key] ?? 0) + metric.values.reduce((sum, value) => sum + value, 0);
  }
  return sums;
};

describe('the delivery function’s metrics', () => {
  it('are EMF lines under Hookline with bounded dimensions, never a tenant or webhook id', () => {
    const delivery = emf().filter((metric) => metric.name !== METRICS.fanOutMatches);
    expect(delivery.length).toBeGreaterThan(0);
    for (const metric of delivery) {
      expect(metric.namespace).toBe('Hookline');
      expect(metric.labels.service).toBe('hookline');
      for (const owned of [TENANT, ...Object.values(ids)]) expect(metric.line).not.toContain(owned);
    }
    const dimensionsOf = (name: string) =>
      new Set(
        emf()
          .filter((metric) => metric.name === name)
          .map((metric) => JSON.stringify(metric.dimensions)),
      );
    expect(dimensionsOf(METRICS.deliveries)).toEqual(new Set(['[["service","Outcome"]]']));
    expect(dimensionsOf(METRICS.attempts)).toEqual(new Set(['[["service","Result"]]']));
    expect(dimensionsOf(METRICS.attemptErrors)).toEqual(new Set(['[["service","ErrorClass"]]']));
    for (const name of [
      METRICS.deliveryLatency,
      METRICS.endToEndLag,
      METRICS.rateLimitWaits,
      METRICS.webhooksAutoDisabled,
    ]) {
      expect(dimensionsOf(name), name).toEqual(new Set(['[["service"]]']));
    }
  });

  it('count every delivery by outcome and every attempt by result and error class, test ones in', () => {
    expect(sumBy(METRICS.deliveries, 'Outcome')).toEqual({ delivered: 5, failed: 3, abandoned: 2 });
    expect(sumBy(METRICS.attempts, 'Result')).toEqual({ success: 5, failure: 5 });
    expect(sumBy(METRICS.attemptErrors, 'ErrorClass')).toEqual({ http: 5 });
  });

  it('time every attempt and every delivery from acceptance, and count waits and switch-offs', () => {
    const values = (name: string) =>
      emf()
        .filter((metric) => metric.name === name)
        .flatMap((metric) => {
          expect(metric.unit).toBe(
            name.endsWith('Lag') || name.endsWith('Latency') ? 'Milliseconds' : 'Count',
          );
          return metric.values;
        });
    const latencies = values(METRICS.deliveryLatency);
    expect(latencies).toHaveLength(10);
    for (const ms of latencies) expect(ms).toBeGreaterThanOrEqual(0);
    const lags = values(METRICS.endToEndLag);
    expect(lags).toHaveLength(5);
    for (const ms of lags) expect(ms).toBeGreaterThan(0);
    expect(values(METRICS.rateLimitWaits)).toEqual([1]);
    expect(values(METRICS.webhooksAutoDisabled)).toEqual([1]);
  });
});

describe('a day that is over', () => {
  it('is summed from its hours at its first read and written as one item, read from then on', async () => {
    // Prepare: a tenant's outcomes of ten days ago, through the aggregation the worker's flush uses.
    const tenant = 'analytics-initech';
    const client = apiClient(runtime, await createKey(runtime, tenant));
    const db = documentClientFor(runtime);
    const table = runtime.outputs.AnalyticsTableName ?? '';
    const day = new Date(Date.now() - 10 * 86_400_000).toISOString().slice(0, 10);
    const outcome = (hour: string, ok: boolean) => ({
      tenant,
      webhookId: '0195f1e2-0000-7000-8000-00000000a001',
      observation: {
        at: `${day}T${hour}:30:00.000Z`,
        eventType: 'ticket.closed',
        attempt: { ok, durationMs: 12.5 },
        final: ok ? ('delivered' as const) : ('abandoned' as const),
      },
    });
    await new AnalyticsRepository(db, table, 13).add(
      deltasOf([outcome('03', true), outcome('17', false)]),
    );
    const dayItems = async () =>
      (
        await db.send(
          new QueryCommand({
            TableName: table,
            KeyConditionExpression: 'PK = :pk AND begins_with(SK, :day)',
            ExpressionAttributeValues: { ':pk': tenantAnalyticsPartition(tenant), ':day': 'DAY#' },
          }),
        )
      ).Items ?? [];
    expect(await dayItems()).toEqual([]);

    // Act
    const first = await analyticsOf('/webhooks/analytics', client);
    const second = await analyticsOf('/webhooks/analytics', client);

    // Assess
    expect(first).toEqual(second);
    expect(first.metrics).toMatchObject({
      total_deliveries: 2,
      successful_deliveries: 1,
      deliveries_by_status: { delivered: 1, failed: 0, abandoned: 1 },
      average_response_time: 12.5,
    });
    expect(first.metrics.deliveries_timeline.find((point) => point.date === day)).toEqual({
      date: day,
      successful: 1,
      failed: 1,
    });
    const written = await dayItems();
    expect(written.find((item) => item.SK === `DAY#${day}`)).toMatchObject({
      delivered: 1,
      abandoned: 1,
      attempts_ok: 1,
      attempts_failed: 1,
      'e:ticket.closed': 2,
    });
    // Every closed day of the range has its item now, empty ones too: 29 (today is open;
    // yesterday too, for 15 minutes after midnight).
    expect([28, 29]).toContain(written.length);
  });
});
