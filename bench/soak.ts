import { setTimeout as sleep } from 'node:timers/promises';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { QUEUES } from '../lib/resources.ts';
import { checkBooks } from '../test/faults/books.ts';
import { type FaultMix, startReceiverProcess } from '../test/faults/faulty-receiver.ts';
import {
  type BooksTarget,
  type Details,
  isDeadLetterQueue,
  type QueueDepth,
  queueDepths,
  readAllDeliveries,
  sqsClient,
  waitUntilSettled,
} from '../test/faults/observe.ts';
import { pairsByName, producerEvent, type RunWebhook } from '../test/faults/traffic.ts';
import {
  latencies,
  memorySummary,
  rssMiB,
  startSoakRuntime,
  throughputTimeline,
} from './soak-support.ts';
import { loadNow, machineInfo, machineLine, summarise, writeResults } from './support.ts';

/**
 * `npm run soak`: a sustained load through the local runtime, as deployed
 * settings have it (its own process, the stack's visibility timeouts), to a
 * receiver in another process that fails a share of requests at random; this
 * process sends the events on a fixed schedule. It samples the memory of all
 * three and the queue depth as it goes, waits for every delivery to end, and
 * checks the books of the fault suites (test/faults/books.ts): no loss, no
 * attempt twice, counters in step. All traffic stays on 127.0.0.1.
 *
 * SOAK_RATE events/s (20) for SOAK_SECONDS (30), SOAK_FAIL_PERCENT (20),
 * SOAK_SEED, SOAK_SETTLE_SECONDS (180), SOAK_SAMPLE_MS (5000), SOAK_DETAILS
 * (`all` to read every delivery's detail): the defaults are a smoke run; the
 * issue's run is SOAK_RATE=100 SOAK_SECONDS=600. Each event goes to exactly
 * one of four webhooks. Writes bench/results/soak.json.
 */

const LOAD_BEFORE = loadNow();
const RATE = Number(process.env.SOAK_RATE ?? 20);
const SECONDS = Number(process.env.SOAK_SECONDS ?? 30);
const FAIL_PERCENT = Number(process.env.SOAK_FAIL_PERCENT ?? 20);
const SEED = Number(process.env.SOAK_SEED ?? 20_260_601);
const SETTLE_SECONDS = Number(process.env.SOAK_SETTLE_SECONDS ?? 180);
const SAMPLE_MS = Number(process.env.SOAK_SAMPLE_MS ?? 5000);
/** SOAK_DETAILS=all reads every delivery's detail; by default single successes come from the list. */
const DETAILS: Details = process.env.SOAK_DETAILS === 'all' ? 'all' : 'beyond-one-success';
if (!(RATE > 0 && SECONDS > 0 && FAIL_PERCENT >= 0 && FAIL_PERCENT <= 100)) {
  throw new Error('SOAK_RATE and SOAK_SECONDS must be positive, SOAK_FAIL_PERCENT 0 to 100');
}

/** The failing share, spread over the faults that fail an attempt (retried, never 410). */
const failing: FaultMix = {
  'server-error': 55,
  throttled: 15,
  reset: 15,
  hang: 5,
  'not-http': 5,
  redirect: 5,
};
const MIX: FaultMix = {
  ok: 100 - FAIL_PERCENT,
  ...Object.fromEntries(
    Object.entries(failing).map(([fault, weight]) => [fault, (weight * FAIL_PERCENT) / 100]),
  ),
};

const WEBHOOKS: RunWebhook[] = [
  { name: 'tickets', event_types: ['ticket.created'] },
  { name: 'projects', event_types: ['project.created'] },
  { name: 'invoices', event_types: ['invoice.created'] },
  { name: 'clients', event_types: ['client.created'] },
];
const EVENT_TYPES = WEBHOOKS.flatMap((webhook) => webhook.event_types);

const wallClock = () => performance.timeOrigin + performance.now();

const runtime = await startSoakRuntime({
  PORT: '0',
  SQS_PORT: '0',
  DYNAMODB_PORT: '0',
  HOOKLINE_DATA_DIR: '',
  // The books read every delivery through the API at the end.
  API_RATE_LIMIT: '10000',
  API_BURST_LIMIT: '5000',
});
const receiver = await startReceiverProcess({ seed: SEED, defaultMix: MIX, hangMs: 5000 }).catch(
  async (error: unknown) => {
    await runtime.stop();
    throw error;
  },
);
const { endpoints } = runtime;
const sqs = sqsClient(endpoints);

/** A queue's dead-letter queue sits beside it, under the name the stack gives it. */
const beside = (url: string, name: string) => `${url.slice(0, url.lastIndexOf('/'))}/${name}`;
const target: BooksTarget = {
  apiUrl: endpoints.apiUrl,
  apiKey: endpoints.apiKey,
  sqsEndpoint: endpoints.sqsEndpoint,
  queues: {
    events: {
      url: endpoints.ingestUrl,
      deadLetterUrl: beside(endpoints.ingestUrl, QUEUES.events.deadLetterQueue),
    },
    deliveries: {
      url: endpoints.deliveriesUrl,
      deadLetterUrl: beside(endpoints.deliveriesUrl, QUEUES.deliveries.deadLetterQueue),
    },
  },
};

interface Sample {
  t_s: number;
  phase: 'sending' | 'settling';
  rss_mib: {
    runtime: number | undefined;
    receiver: number | undefined;
    driver: number | undefined;
  };
  /** Work queues (not dead-letter ones): visible, in flight, delayed. */
  queues: Record<string, QueueDepth>;
  receiver_requests: number;
  load_1m: number | undefined;
}

/** Every SAMPLE_MS until stopped: each process's memory, the backlog, the load. */
const startSampling = (startedAt: number) => {
  const samples: Sample[] = [];
  let phase: Sample['phase'] = 'sending';
  let stopped = false;
  const done = (async () => {
    while (!stopped) {
      const [runtimeRss, receiverRss, driverRss, depths, stats] = await Promise.all([
        rssMiB(runtime.pid),
        rssMiB(receiver.pid),
        rssMiB(process.pid),
        queueDepths(target),
        receiver.stats(),
      ]);
      samples.push({
        t_s: Math.round((wallClock() - startedAt) / 100) / 10,
        phase,
        rss_mib: { runtime: runtimeRss, receiver: receiverRss, driver: driverRss },
        queues: Object.fromEntries(
          Object.entries(depths).filter(([name]) => !isDeadLetterQueue(name)),
        ),
        receiver_requests: stats.requests,
        load_1m: loadNow(),
      });
      await sleep(SAMPLE_MS);
    }
  })();
  return {
    samples,
    settling: () => {
      phase = 'settling';
    },
    stop: async () => {
      stopped = true;
      await done;
    },
  };
};

const createWebhooks = async () => {
  const ids = new Map<string, string>();
  for (const webhook of WEBHOOKS) {
    const response = await fetch(`${endpoints.apiUrl}/api/v1/webhooks`, {
      method: 'POST',
      headers: { 'X-API-Key': endpoints.apiKey, 'Content-Type': 'application/json' },
      body: JSON.stringify({
        name: webhook.name,
        url: receiver.urlFor(webhook.name),
        event_types: webhook.event_types,
        retry_config: {
          strategy: 'custom',
          delays: [1000, 2000, 5000],
          max_attempts: 4,
          timeout: 2000,
        },
      }),
    });
    if (response.status !== 201) throw new Error(`creating a webhook: ${await response.text()}`);
    const { data } = (await response.json()) as { data: { webhook_id: string } };
    ids.set(webhook.name, data.webhook_id);
  }
  return ids;
};

/** Event i is due at start + i / rate; no send waits for another. */
const sendOnSchedule = async () => {
  const total = Math.round(RATE * SECONDS);
  const events = Array.from({ length: total }, (_, index) =>
    producerEvent(SEED, index, endpoints.tenant, EVENT_TYPES),
  );
  const scheduled = new Map<string, number>();
  const sentAt: number[] = [];
  const startLag: number[] = [];
  const errors: string[] = [];
  const sends: Promise<void>[] = [];
  const start = wallClock() + 100;
  for (const [index, event] of events.entries()) {
    const due = start + (index * 1000) / RATE;
    const wait = due - wallClock();
    if (wait > 1) await sleep(wait);
    scheduled.set(event.event_id, due);
    startLag.push(wallClock() - due);
    sentAt.push(due);
    sends.push(
      sqs
        .send(
          new SendMessageCommand({
            QueueUrl: endpoints.ingestUrl,
            MessageBody: JSON.stringify(event),
          }),
        )
        .then(
          () => undefined,
          (error: unknown) => {
            scheduled.delete(event.event_id);
            errors.push(error instanceof Error ? error.message : String(error));
          },
        ),
    );
  }
  await Promise.all(sends);
  const lastDue = start + ((total - 1) * 1000) / RATE;
  return { events, scheduled, sentAt, errors, start, lastDue, startLag: summarise(startLag) };
};

const measure = async () => {
  const ids = await createWebhooks();
  const sampling = startSampling(wallClock());
  const sent = await sendOnSchedule();
  const sendEndedAt = wallClock();
  sampling.settling();
  const settled = await waitUntilSettled(target, SETTLE_SECONDS * 1000);
  const settledAt = wallClock();
  await sampling.stop();

  const received = await receiver.log();
  const webhooks = WEBHOOKS.map(({ name }) => ({ name, webhook_id: ids.get(name) ?? '' }));
  const pairs = pairsByName(WEBHOOKS, sent.events);
  const booksStarted = wallClock();
  const books = await checkBooks(
    target,
    {
      webhooks,
      eventsByWebhook: new Map([...pairs].map(([name, set]) => [ids.get(name) ?? '', set])),
    },
    received,
    await readAllDeliveries(target, webhooks, DETAILS),
  );
  const booksReadS = Math.round((wallClock() - booksStarted) / 100) / 10;
  const delivered = books.by_status.delivered ?? 0;
  const lastDeliveredAt = received.reduce(
    (last, entry) =>
      (entry.status ?? 0) >= 200 && (entry.status ?? 0) < 300 ? Math.max(last, entry.at) : last,
    sent.start,
  );
  const { samples } = sampling;
  return {
    measured_at: new Date().toISOString(),
    machine: machineInfo(LOAD_BEFORE),
    layout:
      'runtime (node local/start.ts: fauxqs, dynalite, pollers, handlers; the stack’s settings) in one process, faulty receiver in another, this driver in a third; all on 127.0.0.1',
    settings: {
      rate_per_second: RATE,
      seconds: SECONDS,
      fail_percent: FAIL_PERCENT,
      mix: MIX,
      seed: SEED,
      webhooks: WEBHOOKS.length,
      retry_config: 'custom [1 s, 2 s, 5 s], 4 attempts, 2 s timeout',
    },
    sent: sent.scheduled.size,
    send_errors: sent.errors.length,
    achieved_send_rate_per_second:
      Math.round(((sent.events.length - 1) / ((sent.lastDue - sent.start) / 1000)) * 10) / 10,
    send_start_lag_ms: sent.startLag,
    settled,
    settled_after_send_s: Math.round((settledAt - sendEndedAt) / 100) / 10,
    throughput: {
      delivered,
      delivered_per_second_over_run:
        Math.round((delivered / ((lastDeliveredAt - sent.start) / 1000)) * 10) / 10,
      attempts: books.attempts,
      timeline_10s: throughputTimeline(sent.start, 10_000, sent.sentAt, received),
    },
    latency_from_scheduled_send: latencies(sent.scheduled, received),
    memory_rss_mib: {
      runtime: memorySummary(samples.map((sample) => sample.rss_mib.runtime)),
      receiver: memorySummary(samples.map((sample) => sample.rss_mib.receiver)),
      driver: memorySummary(samples.map((sample) => sample.rss_mib.driver)),
    },
    samples,
    runtime_batches: runtime.batches(),
    runtime_notable_lines: runtime.notable(),
    books_read_s: booksReadS,
    books,
  };
};

let report: Awaited<ReturnType<typeof measure>>;
try {
  report = await measure();
} finally {
  sqs.destroy();
  await receiver.stop();
  await runtime.stop();
}

const file = await writeResults('soak', report);
const { books, throughput, memory_rss_mib: memory } = report;
const lines = [
  machineLine(report.machine),
  `sent ${report.sent} events at ${report.achieved_send_rate_per_second}/s (target ${RATE}/s for ${SECONDS} s, ${FAIL_PERCENT}% failing answers; ${report.send_errors} send errors)`,
  `settled: ${report.settled}, ${report.settled_after_send_s} s after the last send; delivered ${throughput.delivered} at ${throughput.delivered_per_second_over_run}/s over the run; ${throughput.attempts} attempts`,
  ...Object.entries(report.latency_from_scheduled_send).map(
    ([name, q]) =>
      `latency ${name}: p50 ${q.p50} ms, p95 ${q.p95} ms, p99 ${q.p99} ms, max ${q.max} ms`,
  ),
  ...Object.entries(memory).map(
    ([name, m]) => `RSS ${name}: ${m.first} → ${m.middle} → ${m.last} MiB (peak ${m.peak})`,
  ),
  `books (read in ${report.books_read_s} s): ${books.pairs} pairs, ${JSON.stringify(books.by_status)}, ${books.dead_letters} dead letters`,
  books.problems.length === 0
    ? 'books balance: no problems'
    : `PROBLEMS:\n  ${books.problems.join('\n  ')}`,
];
console.log(lines.join('\n'));
console.log(`written to ${file}`);
if (!report.settled || books.problems.length > 0) process.exitCode = 1;
