import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { startProcess, summarise, writeResults } from './support.ts';

/**
 * `npm run bench:api`: latency of GET /api/v1/webhooks/{id} on the local
 * runtime (`node local/start.ts`, its own process), next to a bare node:http
 * server answering the same bytes in the same run, through the same
 * keep-alive client. Writes bench/results/api.json.
 */

const SEQUENTIAL = Number(process.env.BENCH_REQUESTS ?? 3000);
const CONCURRENT = Number(process.env.BENCH_CONCURRENT_REQUESTS ?? 6000);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 8);
const WARMUP = 300;

const BASELINE_SERVER = `
const http = require('node:http');
const body = Buffer.from(process.env.BODY);
http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
  res.end(body);
}).listen(0, '127.0.0.1', function () { console.log('listening ' + this.address().port); });
`;

interface Target {
  origin: string;
  path: string;
  headers: Record<string, string>;
}

const measure = async (target: Target, requests: number, connections: number) => {
  const pool = new Pool(target.origin, { connections, pipelining: 1 });
  const once = async () => {
    const started = performance.now();
    const response = await pool.request({
      method: 'GET',
      path: target.path,
      headers: target.headers,
    });
    await response.body.text();
    if (response.statusCode !== 200) throw new Error(`status ${response.statusCode}`);
    return performance.now() - started;
  };
  for (let i = 0; i < WARMUP; i++) await once();
  const latencies: number[] = [];
  let next = 0;
  const began = performance.now();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (next++ < requests) latencies.push(await once());
    }),
  );
  const seconds = (performance.now() - began) / 1000;
  await pool.close();
  return { ...summarise(latencies), requests_per_second: Math.round(latencies.length / seconds) };
};

const dataDir = await mkdtemp(join(tmpdir(), 'hookline-bench-'));
const runtime = await startProcess(
  ['local/start.ts'],
  {
    PORT: '0',
    SQS_PORT: '0',
    DYNAMODB_PORT: '0',
    HOOKLINE_DATA_DIR: dataDir,
    API_RATE_LIMIT: '1000000',
    API_BURST_LIMIT: '1000000',
  },
  /API\s+(http:\/\/127\.0\.0\.1:\d+)\/api\/v1\/webhooks\n\s+API key\s+(\S+)/,
);
const [, apiOrigin = '', apiKey = ''] = runtime.match;

try {
  const created = await fetch(`${apiOrigin}/api/v1/webhooks`, {
    method: 'POST',
    headers: { 'X-API-Key': apiKey, 'Content-Type': 'application/json' },
    body: JSON.stringify({
      name: 'Ticket notifications',
      url: 'https://example.com/webhooks/alga',
      event_types: ['ticket.created', 'ticket.updated'],
      security: { type: 'hmac_signature', secret: 'replace-me' },
    }),
  });
  const { data } = (await created.json()) as { data: { webhook_id: string } };
  const path = `/api/v1/webhooks/${data.webhook_id}`;
  const body = await (
    await fetch(`${apiOrigin}${path}`, { headers: { 'X-API-Key': apiKey } })
  ).text();

  const baseline = await startProcess(['-e', BASELINE_SERVER], { BODY: body }, /listening (\d+)/);
  const baselineTarget = { origin: `http://127.0.0.1:${baseline.match[1]}`, path, headers: {} };
  const hooklineTarget = { origin: apiOrigin, path, headers: { 'X-API-Key': apiKey } };

  try {
    const results = {
      measured_at: new Date().toISOString(),
      machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
      route: 'GET /api/v1/webhooks/{id}',
      response_bytes: Buffer.byteLength(body),
      sequential: {
        connections: 1,
        hookline_ms: await measure(hooklineTarget, SEQUENTIAL, 1),
        baseline_ms: await measure(baselineTarget, SEQUENTIAL, 1),
      },
      concurrent: {
        connections: CONNECTIONS,
        hookline_ms: await measure(hooklineTarget, CONCURRENT, CONNECTIONS),
        baseline_ms: await measure(baselineTarget, CONCURRENT, CONNECTIONS),
      },
    };
    const ratio = (part: {
      hookline_ms: { p50: number; p99: number };
      baseline_ms: { p50: number; p99: number };
    }) => ({
      p50_vs_baseline: Math.round((part.hookline_ms.p50 / part.baseline_ms.p50) * 10) / 10,
      p99_vs_baseline: Math.round((part.hookline_ms.p99 / part.baseline_ms.p99) * 10) / 10,
    });
    const report = {
      ...results,
      ratios: { sequential: ratio(results.sequential), concurrent: ratio(results.concurrent) },
    };
    const file = await writeResults('api', report);
    console.log(JSON.stringify(report, null, 2));
    console.log(`written to ${file}`);
  } finally {
    await baseline.stop();
  }
} finally {
  await runtime.stop();
  await rm(dataDir, { recursive: true, force: true });
}
