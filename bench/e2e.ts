import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { request } from 'undici';
import { phasesOf, quantiles } from './e2e-phases.ts';
import { batchStats, startRuntime, summariseProbe, summariseProfile } from './e2e-runtime.ts';
import {
  loadNow,
  machineInfo,
  machineLine,
  startProcess,
  summarise,
  writeResults,
} from './support.ts';

/**
 * `npm run bench:e2e`: events sent to the local runtime's ingest queue at a
 * fixed rate until a receiver gets them. The runtime (`node local/start.ts`)
 * and the receiver run in processes of their own, so neither the send
 * schedule nor the arrival stamps wait on anyone else's work. Latency is
 * arrival minus the event's scheduled send time. BENCH_PROFILE=1 runs the
 * runtime under the CPU profiler. Writes bench/results/e2e.json.
 */

const LOAD_BEFORE = loadNow();
const RATE = Number(process.env.BENCH_RATE ?? 50);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 60);
const STRAGGLER_WAIT_MS = 30_000;
const PROFILE = process.env.BENCH_PROFILE === '1';

/** Wall-clock milliseconds with sub-millisecond precision, comparable across processes. */
const wallClock = () => performance.timeOrigin + performance.now();

const RECEIVER = `
const http = require('node:http');
const arrivals = [];
http.createServer((req, res) => {
  if (req.method === 'GET') {
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(JSON.stringify(req.url === '/count' ? { count: arrivals.length } : arrivals));
  }
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    const at = performance.timeOrigin + performance.now();
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok');
    try { arrivals.push([JSON.parse(Buffer.concat(chunks).toString('utf8')).event_id, at]); }
    catch { arrivals.push(['(unreadable)', at]); }
  });
}).listen(0, '127.0.0.1', function () { console.log('listening ' + this.address().port); });
`;

const READY =
  /API\s+(http:\/\/\S+?)\/api\/v1\/webhooks\n\s+API key\s+(\S+)\s+\(tenant ([^;]+);[\s\S]*?SQS\s+(http:\/\/\S+)[\s\S]*?ingest\s+(\S+)[\s\S]*?DynamoDB\s+(http:\/\/\S+)[\s\S]*?Ready in/;

const runtime = await startRuntime(
  { PORT: '0', SQS_PORT: '0', DYNAMODB_PORT: '0', HOOKLINE_DATA_DIR: '' },
  READY,
  PROFILE,
);
const [
  ,
  apiOrigin = '',
  apiKey = '',
  tenant = '',
  sqsEndpoint = '',
  ingestUrl = '',
  dynamoDb = '',
] = runtime.match;

const createWebhook = async (url: string): Promise<string> => {
  const created = await fetch(`${apiOrigin}/api/v1/webhooks`, {
    method: 'POST',
    headers: { 'X-API-Key': apiKey, 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: 'e2e bench', url, event_types: ['ticket.created'] }),
  });
  if (created.status !== 201) throw new Error(`creating the webhook: ${await created.text()}`);
  const { data } = (await created.json()) as { data: { webhook_id: string } };
  return data.webhook_id;
};

/** Event i is due at start + i / rate however long earlier sends take; none waits for another. */
const sendOnSchedule = async (sqs: SQSClient) => {
  const total = Math.round(RATE * SECONDS);
  const intervalMs = 1000 / RATE;
  const scheduled = new Map<string, number>();
  const startLag: number[] = [];
  const sendMs: number[] = [];
  const errors: string[] = [];
  const sends: Promise<void>[] = [];
  const start = wallClock() + 100;
  let lastCall = start;
  for (let i = 0; i < total; i++) {
    const due = start + i * intervalMs;
    const wait = due - wallClock();
    if (wait > 1) await sleep(wait);
    const eventId = randomUUID();
    scheduled.set(eventId, due);
    const calledAt = wallClock();
    lastCall = calledAt;
    startLag.push(calledAt - due);
    const event = {
      event_id: eventId,
      event_type: 'ticket.created',
      tenant_id: tenant,
      entity_type: 'ticket',
      data: { id: `t-${i}`, title: 'Printer on fire', scheduled_send_at_ms: due },
    };
    sends.push(
      sqs
        .send(new SendMessageCommand({ QueueUrl: ingestUrl, MessageBody: JSON.stringify(event) }))
        .then(
          () => void sendMs.push(wallClock() - calledAt),
          (error: unknown) => {
            scheduled.delete(eventId);
            errors.push(error instanceof Error ? error.message : String(error));
          },
        ),
    );
  }
  await Promise.all(sends);
  return {
    total,
    scheduled,
    errors,
    start,
    lastCall,
    achievedRate: total > 1 ? (total - 1) / ((lastCall - start) / 1000) : total,
    startLag: summarise(startLag),
    sendMs: summarise(sendMs),
  };
};

const receiver = await startProcess(['-e', RECEIVER], {}, /listening (\d+)/);
const receiverOrigin = `http://127.0.0.1:${receiver.match[1]}`;
const receiverGet = async <T>(path: string): Promise<T> => {
  const response = await request(`${receiverOrigin}${path}`);
  return (await response.body.json()) as T;
};
const sqs = new SQSClient({
  endpoint: sqsEndpoint,
  region: 'us-east-1',
  credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
});

const measure = async () => {
  const webhookId = await createWebhook(`${receiverOrigin}/hook`);
  const sent = await sendOnSchedule(sqs);
  const waitUntil = wallClock() + STRAGGLER_WAIT_MS;
  while (wallClock() < waitUntil) {
    const { count } = await receiverGet<{ count: number }>('/count');
    if (count >= sent.scheduled.size) break;
    await sleep(200);
  }
  const arrivals = await receiverGet<[string, number][]>('/arrivals');
  const firstArrival = new Map<string, number>();
  for (const [eventId, at] of arrivals) {
    if (sent.scheduled.has(eventId) && !firstArrival.has(eventId)) firstArrival.set(eventId, at);
  }
  const latencies = [...firstArrival].map(
    ([eventId, at]) => at - (sent.scheduled.get(eventId) ?? at),
  );
  const phases = await phasesOf({
    dynamoDbEndpoint: dynamoDb,
    webhookId,
    scheduled: sent.scheduled,
    arrivals: firstArrival,
  });
  return {
    sent,
    arrivals,
    firstArrival,
    latency: { ...summarise(latencies), ...quantiles(latencies) },
    phases,
  };
};

let measured: Awaited<ReturnType<typeof measure>>;
let profile: Awaited<ReturnType<typeof runtime.stop>>;
try {
  measured = await measure();
} finally {
  sqs.destroy();
  await receiver.stop();
  profile = await runtime.stop();
}

const { sent, arrivals, firstArrival, latency, phases } = measured;
const batches = batchStats(runtime.lines());
const report = {
  measured_at: new Date().toISOString(),
  machine: machineInfo(LOAD_BEFORE),
  layout:
    'runtime (node local/start.ts: fauxqs, dynalite, pollers, handlers) in one process, receiver in another, sender in this one',
  profiled: PROFILE,
  target_rate_per_second: RATE,
  seconds: SECONDS,
  scheduled: sent.total,
  sent: sent.scheduled.size,
  send_errors: sent.errors.length,
  achieved_send_rate_per_second: Math.round(sent.achievedRate * 10) / 10,
  send_start_lag_ms: sent.startLag,
  send_message_ms: sent.sendMs,
  received_unique: firstArrival.size,
  lost: sent.scheduled.size - firstArrival.size,
  duplicates: arrivals.length - new Set(arrivals.map(([eventId]) => eventId)).size,
  latency_ms: latency,
  phases_ms: phases,
  runtime_batches: batches,
  ...(profile
    ? {
        runtime_cpu_profile: summariseProfile(
          profile.cpu,
          sent.start - runtime.spawnedAt,
          sent.lastCall - runtime.spawnedAt,
        ),
        runtime_probe: summariseProbe(
          profile.probe,
          sent.start,
          sent.lastCall,
          sent.scheduled.size,
        ),
      }
    : {}),
};
const file = await writeResults(PROFILE ? 'e2e-profiled' : 'e2e', report);
const lines = [
  `${machineLine(report.machine)}${PROFILE ? '; runtime under --cpu-prof' : ''}`,
  `sent ${report.sent} of ${report.scheduled} events at ${report.achieved_send_rate_per_second}/s (target ${RATE}/s for ${SECONDS} s; ${report.send_errors} send errors; SendMessage p50 ${sent.sendMs.p50} ms, p99 ${sent.sendMs.p99} ms)`,
  `received ${report.received_unique} unique, lost ${report.lost}, duplicates ${report.duplicates}`,
  `latency scheduled send -> receiver: p50 ${latency.p50} ms, p95 ${latency.p95} ms, p99 ${latency.p99} ms, max ${latency.max} ms (goal p95 < 100 ms)`,
  'where the time goes (p50 / p95 / p99 ms):',
  ...Object.entries(phases.summaries).map(
    ([name, s]) => `  ${name.padEnd(34)} ${s.p50} / ${s.p95} / ${s.p99}`,
  ),
  'runtime batches (messages per batch mean; handler p50 / p95 / p99 ms):',
  ...Object.entries(batches).map(
    ([name, b]) =>
      `  ${name.padEnd(10)} ${b.batches} batches, ${b.messages_per_batch.mean} per batch; ${b.handler_ms.p50} / ${b.handler_ms.p95} / ${b.handler_ms.p99}`,
  ),
  ...(report.runtime_cpu_profile && report.runtime_probe
    ? [
        `runtime event loop: busy ${report.runtime_probe.event_loop.busy_percent_mean}% of the send window (profiler: ${report.runtime_cpu_profile.event_loop_busy_percent}%), timers late by up to ${Math.round(report.runtime_probe.event_loop.timer_delay_max_ms)} ms`,
        'runtime CPU by owner (% of the send window):',
        ...Object.entries(report.runtime_cpu_profile.percent_of_window_by_owner).map(
          ([name, percent]) => `  ${name.padEnd(34)} ${percent}`,
        ),
        'HTTP exchanges in the runtime process (per event; p50 / p95 / p99 ms):',
        ...Object.entries(report.runtime_probe.exchanges).map(
          ([name, e]) =>
            `  ${name.padEnd(34)} ${e.per_event}; ${e.ms.p50} / ${e.ms.p95} / ${e.ms.p99}`,
        ),
      ]
    : []),
];
console.log(lines.join('\n'));
console.log(`written to ${file}`);
