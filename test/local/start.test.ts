import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Child, run } from '../support/process.ts';

/**
 * `npm start` as a user runs it: a child process on free ports, stopped with
 * Ctrl-C (SIGINT) and started again over the same data folder.
 */
let dataDir: string;
const children: Child[] = [];

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'hookline-start-'));
});
afterAll(async () => {
  for (const child of children) child.process.kill('SIGKILL');
  await rm(dataDir, { recursive: true, force: true });
});

const start = async (env: Record<string, string> = {}) => {
  const child = run(['local/start.ts'], {
    PORT: '0',
    SQS_PORT: '0',
    DYNAMODB_PORT: '0',
    HOOKLINE_DATA_DIR: dataDir,
    ...env,
  });
  children.push(child);
  await child.waitFor(/Ready in \d+ ms/);
  const [, apiUrl] =
    child.output().match(/API\s+(http:\/\/127\.0\.0\.1:\d+\/api\/v1\/webhooks)/) ?? [];
  const [, apiKey] = child.output().match(/API key\s+(\S+)/) ?? [];
  if (!apiUrl || !apiKey) throw new Error(`No API URL or key in:\n${child.output()}`);
  return { child, apiUrl, apiKey };
};

const stop = async (child: Child) => {
  child.process.kill('SIGINT');
  expect(await child.exited).toBe(0);
  expect(child.output()).toMatch(/SIGINT: stopping\n.*stopped\n/);
};

describe('npm start', () => {
  it('prints where everything is, serves the API, logs each request on one line, stops on Ctrl-C', async () => {
    const { child, apiUrl, apiKey } = await start({
      WEBHOOKS_DEV_API_KEY: 'hl_local-development-key-0001',
    });

    expect(apiKey).toBe('hl_local-development-key-0001');
    expect(child.output()).toMatch(/SQS\s+http:\/\/127\.0\.0\.1:\d+ \(fauxqs\)/);
    expect(child.output()).toMatch(
      /ingest\s+http:\/\/127\.0\.0\.1:\d+\/000000000000\/webhook-events\n/,
    );
    expect(child.output()).toMatch(
      /deliveries\s+http:\/\/127\.0\.0\.1:\d+\/000000000000\/webhook-deliveries\n/,
    );
    expect(child.output()).toMatch(
      /DynamoDB\s+http:\/\/127\.0\.0\.1:\d+ \(dynalite\)\s+table hookline-config/,
    );
    const response = await fetch(`${apiUrl}/events`, { headers: { 'X-API-Key': apiKey } });
    expect(response.status).toBe(200);
    await child.waitFor(/GET \/api\/v1\/webhooks\/events → 200 [\d.]+ ms key_[0-9a-f]{16}\n/);

    await stop(child);
  });

  it('keeps webhooks and the generated dev key across a restart', async () => {
    const first = await start();
    expect(first.apiKey).toMatch(/^hl_[A-Za-z0-9_-]{43}$/);
    const created = await fetch(first.apiUrl, {
      method: 'POST',
      headers: { 'X-API-Key': first.apiKey, 'Content-Type': 'application/json' },
      body: JSON.stringify({
        name: 'Survives restarts',
        url: 'https://example.com/hook',
        event_types: ['ticket.created'],
      }),
    });
    expect(created.status).toBe(201);
    const { data } = (await created.json()) as { data: { webhook_id: string } };
    await stop(first.child);

    const second = await start();

    expect(second.apiKey).toBe(first.apiKey);
    const fetched = await fetch(`${second.apiUrl}/${data.webhook_id}`, {
      headers: { 'X-API-Key': second.apiKey },
    });
    expect(fetched.status).toBe(200);
    expect(((await fetched.json()) as { data: { name: string } }).data.name).toBe(
      'Survives restarts',
    );
    await stop(second.child);
  });

  it('refuses to start with a dev key too short to be safe', async () => {
    const child = run(['local/start.ts'], {
      PORT: '0',
      SQS_PORT: '0',
      DYNAMODB_PORT: '0',
      HOOKLINE_DATA_DIR: dataDir,
      WEBHOOKS_DEV_API_KEY: 'dev',
    });
    children.push(child);

    expect(await child.exited).toBe(1);
    expect(child.output()).toMatch(
      /could not start: WEBHOOKS_DEV_API_KEY must be 16 to 256 characters long/,
    );
  });

  it.each([
    ['PORT', 'abc', 'PORT must be an integer from 0 to 65535; got "abc"'],
    // Settings of the stack are checked by the stack, at synth, as `cdk deploy` checks them.
    [
      'API_RATE_LIMIT',
      '0',
      'the stack refused its settings: throttle.rateLimit must be a number from 0.001 to 10000; got 0',
    ],
    [
      'API_BURST_LIMIT',
      '2.5',
      'the stack refused its settings: throttle.burstLimit must be an integer from 0 to 5000; got 2.5',
    ],
    ['WEBHOOKS_DEV_TENANT', 'a b', 'WEBHOOKS_DEV_TENANT "a b" is not a valid tenant id'],
  ])('refuses a malformed %s with a clear message', async (name, value, message) => {
    const child = run(['local/start.ts'], { HOOKLINE_DATA_DIR: '', [name]: value });
    children.push(child);

    expect(await child.exited).toBe(1);
    expect(child.output()).toContain(`hookline: could not start: ${message}`);
  });
});
