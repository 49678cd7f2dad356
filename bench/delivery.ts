import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { Agent, request } from 'undici';
import * as v from 'valibot';
import { deliveryIdFor } from '../functions/domain/delivery/ids.ts';
import type { DeliveryJob } from '../functions/domain/delivery/jobs.ts';
import { renderPayload } from '../functions/domain/delivery/payload.ts';
import { type WebhookRecord, webhookConfigSchema } from '../functions/domain/webhooks/schema.ts';
import { newWebhook } from '../functions/domain/webhooks/webhook.ts';
import { BATCHING } from '../lib/resources.ts';
import { toSqsRecord } from '../local/sqs-poller.ts';
import { itemSize } from './dynamodb-expressions.ts';
import { type CommandCount, FakeDynamoDb, FakeSqs } from './fakes.ts';
import {
  loadNow,
  machineInfo,
  machineLine,
  startProcess,
  summarise,
  writeResults,
} from './support.ts';

/**
 * `npm run bench:delivery`: deliveries per second of the delivery handler,
 * wired as functions/handlers/delivery.ts wires it (real repositories, queue
 * adapter and HTTP sender; SDK clients answered by in-process fakes that
 * count requests and write units), against a keep-alive receiver in its own
 * process; next to plain undici POSTs of the same body to the same receiver,
 * ten at a time like the handler's batch, in the same run. Writes
 * bench/results/delivery.json. Each run also reports this process's CPU time
 * per delivery and per baseline POST, which other load on the machine does
 * not inflate as it does the rates; BENCH_CPU_PROFILE=<directory> writes a
 * V8 profile of each measured handler run (not the warm-up, not the baseline).
 */

const LOAD_BEFORE = loadNow();
const BATCHES = Number(process.env.BENCH_BATCHES ?? 1000);
const WARMUP_BATCHES = Number(process.env.BENCH_WARMUP_BATCHES ?? 50);
const WEBHOOKS = Number(process.env.BENCH_WEBHOOKS ?? 3);
const INSTANCES = Number(process.env.BENCH_INSTANCES ?? 4);
const FAILING_BATCHES = Number(process.env.BENCH_FAILING_BATCHES ?? 30);
/** A directory: the measured handler runs (not the warm-up, not the baseline) are CPU-profiled into it. */
const PROFILE_DIR = process.env.BENCH_CPU_PROFILE;
const BATCH_SIZE = BATCHING.deliveries.batchSize;
const TENANT = 'acme';
const QUEUE_URL = 'https://sqs.us-east-1.amazonaws.com/000000000000/webhook-deliveries';
const QUEUE_ARN = 'arn:aws:sqs:us-east-1:000000000000:webhook-deliveries';

// The handler module reads its configuration at import, as on Lambda.
Object.assign(process.env, {
  AWS_REGION: 'us-east-1',
  TABLE_NAME: 'hookline-config',
  DELIVERIES_TABLE_NAME: 'hookline-deliveries',
  ANALYTICS_TABLE_NAME: 'hookline-analytics',
  DELIVERIES_QUEUE_URL: QUEUE_URL,
  DELIVERIES_DLQ_URL: `${QUEUE_URL}-dlq`,
  ALLOW_PRIVATE_TARGETS: 'true',
  POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'WARN',
  // A batch's metrics are still counted and stored; only their EMF lines would flood the report.
  POWERTOOLS_METRICS_DISABLED: process.env.POWERTOOLS_METRICS_DISABLED ?? 'true',
});
const { newDeliveryInstance } = await import('./delivery-instance.ts');
type DeliveryInstance = ReturnType<typeof newDeliveryInstance>;

const RECEIVER = `
const http = require('node:http');
const counts = { ok: 0, failed: 0 };
http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/count') return res.end(JSON.stringify(counts));
  req.resume();
  req.on('end', () => {
    const fail = req.url === '/fail';
    counts[fail ? 'failed' : 'ok'] += 1;
    res.writeHead(fail ? 500 : 200, { 'content-type': 'text/plain' });
    res.end(fail ? 'unavailable' : 'ok');
  });
}).listen(0, '127.0.0.1', function () { console.log('listening ' + this.address().port); });
`;

const dynamo = new FakeDynamoDb();
const sqs = new FakeSqs();
const receiver = await startProcess(['-e', RECEIVER], {}, /listening (\d+)/);
const origin = `http://127.0.0.1:${receiver.match[1]}`;

const createWebhook = async (instance: DeliveryInstance, path: string) => {
  const webhook = newWebhook(
    TENANT,
    v.parse(webhookConfigSchema, {
      name: `bench ${path}`,
      url: `${origin}${path}`,
      event_types: ['ticket.created'],
      retry_config: { max_attempts: 3 },
    }),
    { webhookId: randomUUID(), now: new Date() },
  );
  await instance.webhooks.create(webhook);
  return webhook;
};

const jobFor = (webhook: WebhookRecord): DeliveryJob => {
  const eventId = randomUUID();
  const now = Date.now();
  return {
    delivery_id: deliveryIdFor(TENANT, eventId, webhook.webhook_id, now),
    tenant: TENANT,
    webhook_id: webhook.webhook_id,
    attempt: 1,
    event: {
      event_id: eventId,
      event_type: 'ticket.created',
      tenant_id: TENANT,
      occurred_at: new Date(now).toISOString(),
      entity_type: 'ticket',
      data: { id: 't-1', title: 'Printer on fire' },
    },
  };
};

const sqsEvent = (bodies: readonly string[]): SQSEvent => ({
  Records: bodies.map((body) =>
    toSqsRecord(
      { MessageId: randomUUID(), ReceiptHandle: randomUUID(), Body: body },
      QUEUE_ARN,
      Date.now(),
    ),
  ),
});

/** Batches of new deliveries, built before the clock starts (Lambda builds the event, not us). */
const newBatches = (count: number, webhooks: readonly WebhookRecord[]): SQSEvent[] => {
  let next = 0;
  return Array.from({ length: count }, () =>
    sqsEvent(
      Array.from({ length: BATCH_SIZE }, () =>
        JSON.stringify(jobFor(webhooks[next++ % webhooks.length] as WebhookRecord)),
      ),
    ),
  );
};

type Invoke = (event: SQSEvent) => Promise<SQSBatchResponse>;

/** `workers` invocations at a time, each taking the next batch when its last one is done. */
const runHandler = async (invokers: readonly Invoke[], batches: readonly SQSEvent[]) => {
  const latencies: number[] = [];
  let next = 0;
  let failed = 0;
  const began = performance.now();
  const cpuBefore = process.cpuUsage();
  await Promise.all(
    invokers.map(async (invoke) => {
      for (let batch = batches[next++]; batch; batch = batches[next++]) {
        const started = performance.now();
        const { batchItemFailures } = await invoke(batch);
        latencies.push(performance.now() - started);
        failed += batchItemFailures.length;
      }
    }),
  );
  const seconds = (performance.now() - began) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const deliveries = batches.length * BATCH_SIZE - failed;
  return {
    batches: batches.length,
    deliveries,
    reported_failures: failed,
    seconds: round(seconds),
    /** This process's CPU time (user + system), the fakes' included; other load cannot inflate it. */
    cpu_us_per_delivery: Math.round((cpu.user + cpu.system) / deliveries),
    deliveries_per_second: Math.round(deliveries / seconds),
    invocation_ms: summarise(latencies),
  };
};

/** The same rounds as plain POSTs: ten at once per round, one keep-alive agent per worker. */
const runBaseline = async (workers: number, rounds: number, body: string) => {
  const agents = Array.from({ length: workers }, () => new Agent({ connections: BATCH_SIZE }));
  const post = async (agent: Agent) => {
    const response = await request(`${origin}/ok`, {
      dispatcher: agent,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    await response.body.text();
    if (response.statusCode !== 200) throw new Error(`status ${response.statusCode}`);
  };
  const tenAtOnce = (agent: Agent) =>
    Promise.all(Array.from({ length: BATCH_SIZE }, () => post(agent)));
  for (const agent of agents) for (let i = 0; i < WARMUP_BATCHES; i++) await tenAtOnce(agent);
  const latencies: number[] = [];
  let next = 0;
  const began = performance.now();
  const cpuBefore = process.cpuUsage();
  await Promise.all(
    agents.map(async (agent) => {
      while (next++ < rounds) {
        const started = performance.now();
        await tenAtOnce(agent);
        latencies.push(performance.now() - started);
      }
    }),
  );
  const seconds = (performance.now() - began) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  await Promise.all(agents.map((agent) => agent.close()));
  return {
    requests: rounds * BATCH_SIZE,
    seconds: round(seconds),
    cpu_us_per_request: Math.round((cpu.user + cpu.system) / (rounds * BATCH_SIZE)),
    requests_per_second: Math.round((rounds * BATCH_SIZE) / seconds),
    round_ms: summarise(latencies),
  };
};

const round = (value: number, places = 3) => Math.round(value * 10 ** places) / 10 ** places;

/** Every count divided by `per`: requests and units per delivery (or per attempt). */
const perUnit = (per: number) => {
  const dynamoCounts = Object.entries(dynamo.counts());
  const sqsCounts = Object.entries(sqs.counts());
  // Nothing succeeded: a count per nothing is no number (the summary says what failed).
  const divide = (total: number) => (per > 0 ? round(total / per) : null);
  const sum = (pick: (count: CommandCount) => number, commands?: RegExp) =>
    divide(
      dynamoCounts
        .filter(([command]) => !commands || commands.test(command))
        .reduce((total, [, count]) => total + pick(count), 0),
    );
  return {
    dynamodb_write_requests: sum((count) => count.requests, /^(Put|Update|Delete|BatchWrite)/),
    dynamodb_items_written: sum((count) => count.itemsWritten),
    dynamodb_write_units: sum((count) => count.writeUnits),
    dynamodb_write_units_from_applied_update: sum((count) => count.writeUnitsApplied),
    dynamodb_read_requests: sum((count) => count.requests, /^(Get|BatchGet|Query)/),
    dynamodb_read_units: sum((count) => count.readUnits),
    sqs_requests: divide(sqsCounts.reduce((total, [, count]) => total + count.requests, 0)),
    by_command: {
      ...Object.fromEntries(
        dynamoCounts.map(([command, count]) => [
          command,
          {
            requests: divide(count.requests),
            items_written: divide(count.itemsWritten),
            write_units: divide(count.writeUnits),
            write_units_applied: divide(count.writeUnitsApplied),
            read_units: divide(count.readUnits),
            condition_failures: count.conditionFailures,
          },
        ]),
      ),
      ...Object.fromEntries(
        sqsCounts.map(([command, count]) => [
          command,
          { requests: divide(count.requests), messages: divide(count.messages) },
        ]),
      ),
    },
  };
};

const deliveryItems = (status: string) =>
  dynamo
    .items('hookline-deliveries')
    .filter((item) => String(item.SK).startsWith('DELIVERY#') && item.status === status);

const deliveryItemBytes = (status: string) => summarise(deliveryItems(status).map(itemSize));

/** Where a record's bytes go, attribute by attribute (name included), largest first. */
const itemBreakdown = (item: Record<string, unknown> | undefined) =>
  Object.fromEntries(
    Object.entries(item ?? {})
      .map(([name, value]) => [name, itemSize({ [name]: value })] as const)
      .sort(([, a], [, b]) => b - a),
  );

const receiverCounts = async (): Promise<{ ok: number; failed: number }> => {
  const response = await request(`${origin}/count`);
  return (await response.body.json()) as { ok: number; failed: number };
};

/** Runs `work` under the V8 profiler when BENCH_CPU_PROFILE names a directory. */
const profiled = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
  if (!PROFILE_DIR) return work();
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  try {
    return await work();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    await writeFile(`${PROFILE_DIR}/${name}.cpuprofile`, JSON.stringify(profile));
    session.disconnect();
  }
};

/** One configuration: warm-up, baseline, then the handler on new batches, counts reset between. */
const measure = async (invokers: Invoke[], webhooks: readonly WebhookRecord[], body: string) => {
  await runHandler(invokers, newBatches(WARMUP_BATCHES * invokers.length, webhooks));
  const baseline = await runBaseline(invokers.length, BATCHES, body);
  const batches = newBatches(BATCHES, webhooks);
  dynamo.resetCounts();
  sqs.resetCounts();
  const before = await receiverCounts();
  const handler = await profiled(`delivery-${invokers.length}`, () =>
    runHandler(invokers, batches),
  );
  const received = (await receiverCounts()).ok - before.ok;
  // One thread: the fakes' time is serial time the handler would have spent waiting on AWS instead.
  const fakeSeconds = (dynamo.busyMs() + sqs.busyMs()) / 1000;
  const fakeUsPerDelivery = Math.round((fakeSeconds * 1e6) / handler.deliveries);
  const withoutFakes = Math.round(handler.deliveries / (handler.seconds - fakeSeconds));
  return {
    concurrent_invocations: invokers.length,
    handler: {
      ...handler,
      received_by_receiver: received,
      seconds_inside_fakes: round(fakeSeconds),
      cpu_us_per_delivery_without_fakes: handler.cpu_us_per_delivery - fakeUsPerDelivery,
      deliveries_per_second_without_fake_time: withoutFakes,
    },
    baseline,
    ratio: round(handler.deliveries_per_second / baseline.requests_per_second, 2),
    ratio_without_fake_time: round(withoutFakes / baseline.requests_per_second, 2),
    per_successful_delivery: perUnit(handler.deliveries),
  };
};

/**
 * A receiver that always fails: each delivery takes max_attempts (3)
 * attempts, then goes to the dead-letter queue. What the handler queues for
 * later is handed straight back, as SQS would once the delay passed.
 */
const measureRetries = async (instance: DeliveryInstance, webhook: WebhookRecord) => {
  dynamo.resetCounts();
  sqs.resetCounts();
  const failedBefore = (await receiverCounts()).failed;
  let attempts = 0;
  const began = performance.now();
  for (const batch of newBatches(FAILING_BATCHES, [webhook])) {
    await instance.invoke(batch);
    attempts += batch.Records.length;
    for (let due = sqs.take(QUEUE_URL, BATCH_SIZE); due.length > 0; ) {
      await instance.invoke(sqsEvent(due.map((message) => message.body)));
      attempts += due.length;
      due = sqs.take(QUEUE_URL, BATCH_SIZE);
    }
  }
  const seconds = (performance.now() - began) / 1000;
  return {
    deliveries: FAILING_BATCHES * BATCH_SIZE,
    attempts,
    received_by_receiver: (await receiverCounts()).failed - failedBefore,
    dead_lettered: sqs.size(`${QUEUE_URL}-dlq`),
    attempts_per_second: Math.round(attempts / seconds),
    per_attempt: perUnit(attempts),
    abandoned_item_bytes: deliveryItemBytes('abandoned'),
    abandoned_item_breakdown: itemBreakdown(deliveryItems('abandoned')[0]),
  };
};

const describeCommands = (byCommand: ReturnType<typeof perUnit>['by_command']) =>
  Object.entries(byCommand).map(
    ([command, count]) =>
      `    ${command}: ${count.requests} requests${'write_units' in count && count.write_units ? `, ${count.items_written} items written, ${count.write_units} write units` : ''}${'messages' in count ? `, ${count.messages} messages` : ''}`,
  );

type Measured = Awaited<ReturnType<typeof measure>>;

const describeConfiguration = (name: string, result: Measured) => {
  const per = result.per_successful_delivery;
  return [
    `${name} (${result.concurrent_invocations} invocation(s) at a time, ${result.handler.batches} batches of ${BATCH_SIZE}):`,
    `  handler   ${result.handler.deliveries_per_second} deliveries/s (invocation p50 ${result.handler.invocation_ms.p50} ms, p99 ${result.handler.invocation_ms.p99} ms; ${result.handler.reported_failures} failed; receiver got ${result.handler.received_by_receiver})`,
    `  baseline  ${result.baseline.requests_per_second} POSTs/s (round p50 ${result.baseline.round_ms.p50} ms, p99 ${result.baseline.round_ms.p99} ms)`,
    `  CPU       ${result.handler.cpu_us_per_delivery} µs per delivery (${result.handler.cpu_us_per_delivery_without_fakes} without the fakes), ${result.baseline.cpu_us_per_request} µs per baseline POST`,
    `  ratio     ${result.ratio} (goal >= ${result.concurrent_invocations === 1 ? '0.5' : '0.4'}); ${result.ratio_without_fake_time} leaving out the ${result.handler.seconds_inside_fakes} s spent inside the fakes (${result.handler.deliveries_per_second_without_fake_time} deliveries/s)`,
    ...(result.handler.reported_failures > 0
      ? [`  WARNING: the handler reported ${result.handler.reported_failures} failed jobs`]
      : []),
    `  per delivery: DynamoDB write requests ${per.dynamodb_write_requests} (${per.dynamodb_items_written} items), write units ${per.dynamodb_write_units} (goal <= 2.3; ${per.dynamodb_write_units_from_applied_update} from the applied update), reads ${per.dynamodb_read_requests}, SQS requests ${per.sqs_requests} (goal <= 0.5)`,
    ...describeCommands(per.by_command),
  ];
};

/**
 * What the analytics aggregates add per delivery: their UpdateItems, one per
 * webhook and hour and one per tenant and hour of each batch. Billed by the
 * larger of the item's two images; `write_units` is the fake's bound from
 * the item before plus the values sent, `write_units_applied` the image after.
 */
const analyticsCost = (result: Measured) => {
  const command = result.per_successful_delivery.by_command['UpdateItemCommand hookline-analytics'];
  const writes = command && 'write_units' in command ? command : undefined;
  return {
    write_requests: writes?.requests ?? 0,
    write_units: writes?.write_units ?? 0,
    write_units_applied: writes?.write_units_applied ?? 0,
  };
};

const describeAnalytics = (name: string, cost: ReturnType<typeof analyticsCost>) => [
  `analytics aggregates, ${name}: ${cost.write_requests} updates per delivery, ${cost.write_units_applied} write units (${cost.write_units} at most) (goal <= 0.1 at 10 deliveries per webhook per batch; the floor is 2 updates per batch, its webhook's hour and its tenant's hour)`,
];

const instances = Array.from({ length: INSTANCES }, () => newDeliveryInstance(dynamo, sqs));
try {
  const [first] = instances;
  if (!first) throw new Error('BENCH_INSTANCES must be at least 1');
  const webhooks: WebhookRecord[] = [];
  for (let i = 0; i < WEBHOOKS; i++) webhooks.push(await createWebhook(first, '/ok'));
  const sample = webhooks[0] as WebhookRecord;
  const body = renderPayload(sample, jobFor(sample).event).body ?? '';

  const sequential = await measure([first.invoke], webhooks, body);
  const concurrent = await measure(
    instances.map((instance) => instance.invoke),
    webhooks,
    body,
  );
  const deliveredItemBytes = deliveryItemBytes('delivered');
  const delivered = deliveryItems('delivered')[0];
  const deliveredItemBreakdown = {
    ...itemBreakdown(delivered),
    'attempts[0]': itemBreakdown((delivered?.attempts as Record<string, unknown>[])?.[0]),
  };
  // Every job of a batch to one webhook: ten of its deliveries per batch, the analytics goal's case.
  const oneWebhook = await measure([first.invoke], [sample], body);
  const retries = await measureRetries(first, await createWebhook(first, '/fail'));

  const report = {
    measured_at: new Date().toISOString(),
    machine: machineInfo(LOAD_BEFORE),
    batch_size: BATCH_SIZE,
    webhooks: WEBHOOKS,
    body_bytes: Buffer.byteLength(body),
    sequential,
    concurrent,
    one_webhook: oneWebhook,
    analytics_per_delivery: {
      [`${WEBHOOKS}_webhooks`]: analyticsCost(sequential),
      one_webhook: analyticsCost(oneWebhook),
    },
    delivered_item_bytes: deliveredItemBytes,
    delivered_item_breakdown: deliveredItemBreakdown,
    retries,
  };
  const file = await writeResults('delivery', report);
  const lines = [
    `${machineLine(report.machine)}; ${WEBHOOKS} webhooks, jobs spread over them`,
    ...describeConfiguration('sequential', sequential),
    ...describeConfiguration('concurrent', concurrent),
    ...describeConfiguration('one webhook, 10 of its deliveries per batch', oneWebhook),
    ...describeAnalytics(`${WEBHOOKS} webhooks`, analyticsCost(sequential)),
    ...describeAnalytics('one webhook', analyticsCost(oneWebhook)),
    `delivery record after its attempt: ${deliveredItemBytes.mean} bytes mean (${deliveredItemBytes.p50} p50, ${deliveredItemBytes.max} max); body ${report.body_bytes} bytes`,
    `retries (receiver answers 500, max_attempts 3): ${retries.attempts} attempts for ${retries.deliveries} deliveries, ${retries.dead_lettered} dead-lettered, ${retries.attempts_per_second} attempts/s`,
    `  per attempt: SQS requests ${retries.per_attempt.sqs_requests}, DynamoDB write requests ${retries.per_attempt.dynamodb_write_requests} (${retries.per_attempt.dynamodb_items_written} items), write units ${retries.per_attempt.dynamodb_write_units} (goal <= 4.05, half of 8.1), reads ${retries.per_attempt.dynamodb_read_requests}; abandoned record ${retries.abandoned_item_bytes.mean} bytes mean`,
    ...describeCommands(retries.per_attempt.by_command),
  ];
  console.log(lines.join('\n'));
  console.log(`written to ${file}`);
} finally {
  await Promise.all(instances.map((instance) => instance.close()));
  await receiver.stop();
}
