import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  BatchWriteCommand,
  type DynamoDBDocumentClient,
  paginateQuery,
} from '@aws-sdk/lib-dynamodb';
import { createDocumentClient } from '../functions/commons/clients.ts';
import { deliverySort, webhookPartition } from '../functions/commons/table.ts';
import {
  type Aggregate,
  deltasOf,
  emptyAggregate,
  type FinalStatus,
  hourOf,
  type Observation,
  observe,
} from '../functions/domain/analytics/aggregate.ts';
import {
  analyticsRange,
  analyticsReport,
  type Bucketed,
} from '../functions/domain/analytics/report.ts';
import { AnalyticsService } from '../functions/domain/analytics/service.ts';
import { deliveryIdBounds, deliveryIdFor } from '../functions/domain/delivery/ids.ts';
import type { AttemptRecord, DeliveryRecord } from '../functions/domain/delivery/record.ts';
import {
  AnalyticsRepository,
  tenantAnalyticsPartition,
  webhookAnalyticsPartition,
} from '../functions/repositories/analytics.ts';
import { fromDeliveryItem, toDeliveryItem } from '../functions/repositories/delivery-item.ts';
import { ANALYTICS_TABLE, DELIVERIES_TABLE } from '../lib/resources.ts';
import { startInWorker } from '../local/emulators.ts';
import { ensureTables } from '../local/provision.ts';
import { readStackModel } from '../local/stack-model.ts';
import { synthesizeStack } from '../local/template.ts';
import { itemSize } from './dynamodb-expressions.ts';
import { loadNow, machineInfo, machineLine, summarise, writeResults } from './support.ts';

/**
 * `npm run bench:analytics`: what a 30-day analytics query costs as history
 * grows. Delivery outcomes (1,000, then 100,000, over 50 webhooks and the
 * 30 days ending now; retries and abandoned deliveries among them) go
 * through the worker's aggregation (deltasOf, AnalyticsRepository.add, ten
 * deliveries a batch in time order, as a batch's flush writes them) into
 * the local runtime's DynamoDB (dynalite on its own thread, the stack's
 * tables); their delivery records go into the deliveries table beside them.
 * For a 30-day per-webhook and a tenant-wide query it reports the items
 * read and the latency (p50, p99), next to a naive query that reads the
 * delivery records and sums them. A third load (1,000 over 500 webhooks)
 * shows the tenant-wide query does not read more for more webhooks.
 * Writes bench/results/analytics.json.
 */

const LOAD_BEFORE = loadNow();
const REPEATS = Number(process.env.BENCH_REPEATS ?? 40);
const NAIVE_REPEATS = Number(process.env.BENCH_NAIVE_REPEATS ?? 5);
/** The larger load; BENCH_LARGE makes a quick run smaller. */
const LARGE = Number(process.env.BENCH_LARGE ?? 100_000);
const BATCH = 10;
const PARALLEL_WRITES = 8;
const DAY_MS = 86_400_000;
const EVENT_TYPES = [
  'ticket.created',
  'ticket.updated',
  'ticket.closed',
  'invoice.paid',
  'project.created',
];

/** mulberry32: the same data on every run. */
const seeded = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};

interface Outcome {
  tenant: string;
  webhookId: string;
  record: DeliveryRecord;
  observations: Observation[];
}

const NOW = Date.now();
const FIRST_DAY = Date.parse(`${new Date(NOW).toISOString().slice(0, 10)}T00:00:00Z`) - 29 * DAY_MS;

/** One delivery: 1 to 3 attempts of 5 ms to about 2 s, ending delivered, failed or abandoned. */
const outcomeOf = (tenant: string, webhookId: string, random: () => number): Outcome => {
  const endMs = FIRST_DAY + Math.floor(random() * (NOW - FIRST_DAY - 60_000));
  const roll = random();
  const attempts = roll < 0.85 ? 1 : roll < 0.95 ? 2 : 3;
  const final: FinalStatus =
    attempts === 3
      ? random() < 0.6
        ? 'abandoned'
        : 'delivered'
      : random() < 0.04
        ? 'failed'
        : 'delivered';
  const eventType = EVENT_TYPES[Math.floor(random() * EVENT_TYPES.length)] ?? 'ticket.created';
  const made: AttemptRecord[] = [];
  const observations: Observation[] = [];
  for (let n = 1; n <= attempts; n++) {
    const durationMs = Math.round((5 + random() ** 3 * 2000) * 10) / 10;
    const finishedMs = endMs - (attempts - n) * 120_000;
    const ok = n === attempts && final === 'delivered';
    made.push({
      attempt: n,
      started_at: new Date(finishedMs - Math.ceil(durationMs)).toISOString(),
      duration_ms: durationMs,
      request: { url: 'https://receiver.example/hook', method: 'POST', headers: {} },
      status_code: ok ? 200 : final === 'failed' && n === attempts ? 410 : 503,
      response_headers: {},
      response_body: '',
      error_class: ok ? null : 'http',
      error_message: ok ? null : 'HTTP 503',
    });
    observations.push({
      at: new Date(finishedMs).toISOString(),
      eventType,
      attempt: { ok, durationMs },
      final: n === attempts ? final : undefined,
    });
  }
  const acceptedMs = Date.parse(made[0]?.started_at ?? '') - 1000;
  const eventId = randomUUID();
  const at = new Date(endMs).toISOString();
  const record: DeliveryRecord = {
    delivery_id: deliveryIdFor(tenant, eventId, webhookId, acceptedMs),
    webhook_id: webhookId,
    tenant,
    event: {
      event_id: eventId,
      event_type: eventType,
      tenant_id: tenant,
      occurred_at: new Date(acceptedMs).toISOString(),
      entity_type: eventType.split('.')[0] ?? 'ticket',
      data: { id: eventId.slice(0, 8) },
    },
    event_type: eventType,
    status: final,
    is_test: false,
    attempt_count: attempts,
    chain_start: 0,
    attempts: made,
    next_retry_at: null,
    final_reason: final === 'delivered' ? null : 'gave up',
    dead_lettered: final === 'abandoned',
    created_at: new Date(acceptedMs).toISOString(),
    updated_at: at,
    completed_at: at,
    expires_at: Math.floor((endMs + 30 * DAY_MS) / 1000),
  };
  return { tenant, webhookId, record, observations };
};

const inParallel = async <T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<unknown>,
) => {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      for (let index = next++; index < items.length; index = next++) {
        await work(items[index] as T);
      }
    }),
  );
};

interface Load {
  name: string;
  tenant: string;
  webhooks: string[];
  deliveries: number;
}

const load = async (
  db: DynamoDBDocumentClient,
  analytics: AnalyticsRepository,
  deliveriesTable: string,
  { tenant, webhooks, deliveries }: Load,
) => {
  const random = seeded(deliveries + webhooks.length);
  const outcomes = Array.from({ length: deliveries }, (_, index) =>
    outcomeOf(tenant, webhooks[index % webhooks.length] ?? '', random),
  );
  // The worker's flush: a batch of ten deliveries' steps, in time order, summed per webhook and hour.
  const steps = outcomes
    .flatMap(({ webhookId, observations }) =>
      observations.map((observation) => ({ tenant, webhookId, observation })),
    )
    .sort((a, b) => a.observation.at.localeCompare(b.observation.at));
  const batches: (typeof steps)[] = [];
  for (let start = 0; start < steps.length; start += BATCH)
    batches.push(steps.slice(start, start + BATCH));
  let updates = 0;
  const began = performance.now();
  await inParallel(batches, PARALLEL_WRITES, async (batch) => {
    const deltas = deltasOf(batch);
    updates += deltas.length;
    const unwritten = await analytics.add(deltas);
    if (unwritten.length > 0) throw new Error('aggregates left unwritten');
  });
  const aggregateSeconds = (performance.now() - began) / 1000;
  const items = outcomes.map(({ record }) => toDeliveryItem(record));
  const recordsBegan = performance.now();
  const chunks: (typeof items)[] = [];
  for (let start = 0; start < items.length; start += 25)
    chunks.push(items.slice(start, start + 25));
  await inParallel(chunks, PARALLEL_WRITES, async (chunk) => {
    let pending = chunk.map((Item) => ({ PutRequest: { Item } }));
    while (pending.length > 0) {
      const answer = await db.send(
        new BatchWriteCommand({ RequestItems: { [deliveriesTable]: pending } }),
      );
      pending = (answer.UnprocessedItems?.[deliveriesTable] ?? []) as typeof pending;
    }
  });
  return {
    steps: steps.length,
    flushes: batches.length,
    aggregate_updates: updates,
    aggregate_load_seconds: Math.round(aggregateSeconds * 10) / 10,
    record_load_seconds: Math.round(((performance.now() - recordsBegan) / 1000) * 10) / 10,
  };
};

/** The naive answer: every delivery record of the range, read and summed per hour. */
const naiveRead = async (
  db: DynamoDBDocumentClient,
  deliveriesTable: string,
  webhooks: readonly string[],
) => {
  const range = analyticsRange({}, new Date(NOW));
  const fromMs = Date.parse(`${range.fromHour}:00:00.000Z`);
  const byHour = new Map<string, Aggregate>();
  let itemsRead = 0;
  await Promise.all(
    webhooks.map(async (webhookId) => {
      for await (const page of paginateQuery(
        { client: db },
        {
          TableName: deliveriesTable,
          KeyConditionExpression: 'PK = :pk AND SK BETWEEN :from AND :to',
          ExpressionAttributeValues: {
            ':pk': webhookPartition(webhookId),
            ':from': deliverySort(deliveryIdBounds(fromMs).first),
            ':to': deliverySort(deliveryIdBounds(NOW).last),
          },
        },
      )) {
        for (const item of page.Items ?? []) {
          itemsRead += 1;
          const record = fromDeliveryItem(item);
          record.attempts.forEach((attempt, index) => {
            const at = new Date(Date.parse(attempt.started_at) + attempt.duration_ms).toISOString();
            const hour = hourOf(at);
            const aggregate = byHour.get(hour) ?? emptyAggregate();
            observe(aggregate, {
              at,
              eventType: record.event_type,
              attempt: { ok: (attempt.status_code ?? 0) < 300, durationMs: attempt.duration_ms },
              final:
                index === record.attempts.length - 1 &&
                record.status !== 'pending' &&
                record.status !== 'retrying'
                  ? record.status
                  : undefined,
            });
            byHour.set(hour, aggregate);
          });
        }
      }
    }),
  );
  const buckets: Bucketed[] = [...byHour].map(([bucket, aggregate]) => ({ bucket, aggregate }));
  return { report: analyticsReport(range, buckets, null), itemsRead };
};

/** The sizes of a partition's items of one kind (`HOUR#`, `DAY#`), as DynamoDB bills them. */
const itemBytes = async (
  db: DynamoDBDocumentClient,
  table: string,
  partition: string,
  kind: string,
) => {
  const sizes: number[] = [];
  for await (const page of paginateQuery(
    { client: db },
    {
      TableName: table,
      KeyConditionExpression: 'PK = :pk AND begins_with(SK, :kind)',
      ExpressionAttributeValues: { ':pk': partition, ':kind': kind },
    },
  )) {
    for (const item of page.Items ?? []) sizes.push(itemSize(item));
  }
  const { count, p50, max, mean } = summarise(sizes);
  return { count, p50, max, mean: Math.round(mean) };
};

const timed = async <T>(repeats: number, run: () => Promise<T>) => {
  const latencies: number[] = [];
  let last: T | undefined;
  for (let i = 0; i < repeats; i++) {
    const began = performance.now();
    last = await run();
    latencies.push(performance.now() - began);
  }
  return { latency_ms: summarise(latencies), last: last as T };
};

const emulator = await startInWorker({ kind: 'dynamodb', port: 0, host: '127.0.0.1' });
try {
  const { stackName, template } = await synthesizeStack({});
  const stack = readStackModel(stackName, template, { region: 'us-east-1' });
  const raw = new DynamoDBClient({
    endpoint: emulator.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
  });
  await ensureTables(raw, stack);
  const db = createDocumentClient(raw);
  const analyticsTable = ANALYTICS_TABLE.localName;
  const deliveriesTable = DELIVERIES_TABLE.localName;
  const repository = new AnalyticsRepository(
    db,
    analyticsTable,
    ANALYTICS_TABLE.retentionMonths.default,
  );
  const service = new AnalyticsService(repository, { now: () => new Date(NOW) });
  const range = analyticsRange({}, new Date(NOW));
  const webhooksOf = (count: number) => Array.from({ length: count }, () => randomUUID());

  const loads: Load[] = [
    { name: '1k', tenant: 'bench-1k', webhooks: webhooksOf(50), deliveries: 1000 },
    { name: '100k', tenant: 'bench-100k', webhooks: webhooksOf(50), deliveries: LARGE },
    {
      name: '1k-500-webhooks',
      tenant: 'bench-1k-500',
      webhooks: webhooksOf(500),
      deliveries: 1000,
    },
  ];
  const results: Record<string, unknown> = {};
  for (const entry of loads) {
    const loaded = await load(db, repository, deliveriesTable, entry);
    const [webhookId] = entry.webhooks;
    const perWebhook = { tenant: entry.tenant, webhookId };
    const tenantWide = { tenant: entry.tenant };
    // The first read of a range sums each closed day from its hours and writes its item.
    const firstWebhook = await timed(1, () => service.read(perWebhook, range));
    const firstTenant = await timed(1, () => service.read(tenantWide, range));
    const webhook = await timed(REPEATS, () => service.read(perWebhook, range));
    const tenant = await timed(REPEATS, () => service.read(tenantWide, range));
    const naiveWebhook = await timed(NAIVE_REPEATS, () =>
      naiveRead(db, deliveriesTable, [webhookId ?? '']),
    );
    const naiveTenant = await timed(entry.webhooks.length > 50 ? 1 : NAIVE_REPEATS, () =>
      naiveRead(db, deliveriesTable, entry.webhooks),
    );
    if (
      tenant.last.report.metrics.total_deliveries !==
      naiveTenant.last.report.metrics.total_deliveries
    ) {
      console.warn(
        `${entry.name}: the aggregates count ${tenant.last.report.metrics.total_deliveries} deliveries, the records ${naiveTenant.last.report.metrics.total_deliveries} (records are ranged by acceptance, aggregates by outcome)`,
      );
    }
    const partitions = {
      webhook: webhookAnalyticsPartition(entry.tenant, webhookId ?? ''),
      tenant: tenantAnalyticsPartition(entry.tenant),
    };
    results[entry.name] = {
      deliveries: entry.deliveries,
      webhooks: entry.webhooks.length,
      load: loaded,
      item_bytes: {
        webhook_hour: await itemBytes(db, analyticsTable, partitions.webhook, 'HOUR#'),
        webhook_day: await itemBytes(db, analyticsTable, partitions.webhook, 'DAY#'),
        tenant_hour: await itemBytes(db, analyticsTable, partitions.tenant, 'HOUR#'),
        tenant_day: await itemBytes(db, analyticsTable, partitions.tenant, 'DAY#'),
      },
      per_webhook: {
        first_read: { items_read: firstWebhook.last.itemsRead, ms: firstWebhook.latency_ms.max },
        items_read: webhook.last.itemsRead,
        latency_ms: webhook.latency_ms,
        deliveries_counted: webhook.last.report.metrics.total_deliveries,
        naive: { items_read: naiveWebhook.last.itemsRead, latency_ms: naiveWebhook.latency_ms },
      },
      tenant_wide: {
        first_read: { items_read: firstTenant.last.itemsRead, ms: firstTenant.latency_ms.max },
        items_read: tenant.last.itemsRead,
        latency_ms: tenant.latency_ms,
        deliveries_counted: tenant.last.report.metrics.total_deliveries,
        naive: { items_read: naiveTenant.last.itemsRead, latency_ms: naiveTenant.latency_ms },
      },
    };
  }
  type Result = {
    per_webhook: { items_read: number; latency_ms: { p50: number; p99: number } };
    tenant_wide: { items_read: number; latency_ms: { p50: number; p99: number } };
  };
  const small = results['1k'] as Result;
  const large = results['100k'] as Result;
  const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;
  const report = {
    measured_at: new Date().toISOString(),
    machine: machineInfo(LOAD_BEFORE),
    range: { from_hour: range.fromHour, to_hour: range.toHour, granularity: range.granularity },
    repeats: REPEATS,
    ...results,
    latency_100k_over_1k: {
      per_webhook_p50: ratio(large.per_webhook.latency_ms.p50, small.per_webhook.latency_ms.p50),
      per_webhook_p99: ratio(large.per_webhook.latency_ms.p99, small.per_webhook.latency_ms.p99),
      tenant_wide_p50: ratio(large.tenant_wide.latency_ms.p50, small.tenant_wide.latency_ms.p50),
      tenant_wide_p99: ratio(large.tenant_wide.latency_ms.p99, small.tenant_wide.latency_ms.p99),
    },
  };
  const file = await writeResults('analytics', report);
  const describe = (name: string) => {
    const result = results[name] as Result & {
      deliveries: number;
      webhooks: number;
      per_webhook: {
        first_read: { items_read: number };
        naive: { items_read: number; latency_ms: { p50: number; p99: number } };
      };
      tenant_wide: {
        first_read: { items_read: number };
        naive: { items_read: number; latency_ms: { p50: number; p99: number } };
      };
    };
    const line = (what: string, part: (typeof result)['per_webhook']) =>
      `  ${what}: ${part.items_read} items, p50 ${part.latency_ms.p50} ms, p99 ${part.latency_ms.p99} ms (first read ${part.first_read.items_read} items); naive ${part.naive.items_read} items, p50 ${part.naive.latency_ms.p50} ms, p99 ${part.naive.latency_ms.p99} ms`;
    const sizes = (results[name] as { item_bytes: Record<string, { mean: number; max: number }> })
      .item_bytes;
    return [
      `${result.deliveries} deliveries over ${result.webhooks} webhooks: items of ${Object.entries(
        sizes,
      )
        .map(([kind, size]) => `${kind} ${size.mean} B mean, ${size.max} max`)
        .join('; ')}`,
      line('per webhook', result.per_webhook),
      line('tenant-wide', result.tenant_wide),
    ];
  };
  console.log(
    [
      machineLine(report.machine),
      `30-day query: ${range.fromHour} to ${range.toHour}, by ${range.granularity}; ${REPEATS} reads each (naive: ${NAIVE_REPEATS})`,
      ...loads.flatMap(({ name }) => describe(name)),
      `latency at 100k over 1k (goal <= 2): per webhook p50 ${report.latency_100k_over_1k.per_webhook_p50}, p99 ${report.latency_100k_over_1k.per_webhook_p99}; tenant-wide p50 ${report.latency_100k_over_1k.tenant_wide_p50}, p99 ${report.latency_100k_over_1k.tenant_wide_p99}`,
    ].join('\n'),
  );
  console.log(`written to ${file}`);
  raw.destroy();
} finally {
  await emulator.stop();
}
