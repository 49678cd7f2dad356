import { subscribe } from 'node:diagnostics_channel';
import { writeFileSync } from 'node:fs';
import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';

/**
 * Loaded into the local runtime's process with `--import` by the end-to-end
 * bench when profiling (the runtime's code is not touched): every second it
 * notes how busy the event loop was and how late its timers ran, and it
 * times every HTTP exchange the process serves (the emulators, the API) and
 * makes (the SDK, deliveries), keyed by the AWS operation when there is
 * one. At exit it writes all of it to BENCH_PROBE_FILE.
 */

const file = process.env.BENCH_PROBE_FILE;
const wallClock = () => performance.timeOrigin + performance.now();

export interface ProbeSecond {
  at: number;
  busy: number;
  delayP50Ms: number;
  delayP99Ms: number;
  delayMaxMs: number;
}

/** [wall-clock start ms, duration ms] per exchange, by side and operation. */
export type ProbeExchanges = Record<string, [number, number][]>;

const seconds: ProbeSecond[] = [];
const exchanges: ProbeExchanges = {};

const note = (key: string, startedAt: number) => {
  const list = exchanges[key] ?? [];
  list.push([startedAt, wallClock() - startedAt]);
  exchanges[key] = list;
};

/** "DynamoDB_20120810.PutItem" → "DynamoDB PutItem"; "AmazonSQS.ReceiveMessage" → "SQS ReceiveMessage". */
const operationOf = (target: unknown, fallback: string): string => {
  if (typeof target !== 'string') return fallback;
  const [service = '', operation = ''] = target.split('.');
  return `${service.startsWith('DynamoDB') ? 'DynamoDB' : service.replace('Amazon', '')} ${operation}`;
};

if (file) {
  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  let last = performance.eventLoopUtilization();
  setInterval(() => {
    const now = performance.eventLoopUtilization();
    seconds.push({
      at: wallClock(),
      busy: performance.eventLoopUtilization(now, last).utilization,
      delayP50Ms: delay.percentile(50) / 1e6,
      delayP99Ms: delay.percentile(99) / 1e6,
      delayMaxMs: delay.max / 1e6,
    });
    last = now;
    delay.reset();
  }, 1000).unref();

  const serverStarts = new WeakMap<IncomingMessage, number>();
  subscribe('http.server.request.start', (message) => {
    serverStarts.set((message as { request: IncomingMessage }).request, wallClock());
  });
  subscribe('http.server.response.finish', (message) => {
    const { request } = message as { request: IncomingMessage; response: ServerResponse };
    const startedAt = serverStarts.get(request);
    if (startedAt === undefined) return;
    note(`served ${operationOf(request.headers['x-amz-target'], 'HTTP (API)')}`, startedAt);
  });

  const clientStarts = new WeakMap<ClientRequest, number>();
  subscribe('http.client.request.start', (message) => {
    clientStarts.set((message as { request: ClientRequest }).request, wallClock());
  });
  subscribe('http.client.response.finish', (message) => {
    const { request } = message as { request: ClientRequest };
    const startedAt = clientStarts.get(request);
    if (startedAt === undefined) return;
    note(`sent ${operationOf(request.getHeader('x-amz-target'), 'HTTP')}`, startedAt);
  });

  process.on('exit', () => writeFileSync(file, JSON.stringify({ seconds, exchanges })));
}
