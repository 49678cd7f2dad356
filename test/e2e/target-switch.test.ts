import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { LocalRuntime } from '../../local/runtime.ts';
import { startDeliveryRuntime } from '../support/runtime.ts';

/**
 * The remote path of the end-to-end suite, proven without a deployment: the
 * embedded runtime started here stands in for one, and the suite runs in a
 * process of its own as `npm run test:e2e` would against LocalStack or AWS,
 * knowing it only through the HOOKLINE_E2E_* variables and the SDK's
 * AWS_ENDPOINT_URL_SQS.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SUITE = 'test/e2e/delivery.e2e.test.ts';

let runtime: LocalRuntime;

beforeAll(async () => {
  runtime = await startDeliveryRuntime();
}, 60_000);

afterAll(async () => {
  await runtime?.stop();
});

/** This process's environment without the variables of the vitest run it is part of; no colours. */
const childEnvironment = (extra: Record<string, string>): NodeJS.ProcessEnv => {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) => !/^(VITEST|HOOKLINE_E2E_)|^FORCE_COLOR$/.test(name),
    ),
  );
  return { ...env, NO_COLOR: '1', ...extra };
};

const runSuite = (env: NodeJS.ProcessEnv) =>
  new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        'node_modules/vitest/vitest.mjs',
        'run',
        '--config',
        'test/e2e/vitest.config.ts',
        '--reporter',
        'verbose',
        SUITE,
      ],
      { cwd: ROOT, env },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, output }));
  });

it('runs the end-to-end suite against a deployment named by variables alone', async () => {
  const apiUrl = `${runtime.apiUrl}/api/v1/webhooks`;

  const { code, output } = await runSuite(
    childEnvironment({
      HOOKLINE_E2E_API_URL: apiUrl,
      HOOKLINE_E2E_API_KEY: runtime.devApiKey,
      HOOKLINE_E2E_EVENTS_QUEUE_URL: runtime.queues.events.url,
      HOOKLINE_E2E_DELIVERIES_DLQ_URL: runtime.queues.deliveries.deadLetterUrl,
      HOOKLINE_E2E_WAIT_MS: '15000',
      AWS_ENDPOINT_URL_SQS: runtime.sqsEndpoint,
      // The default credential chain finds these; the emulator accepts any.
      AWS_ACCESS_KEY_ID: 'e2e',
      AWS_SECRET_ACCESS_KEY: 'e2e',
      AWS_REGION: process.env.AWS_REGION ?? 'us-east-1',
    }),
  );

  expect(code, output).toBe(0);
  expect(output).toContain(`against the deployment at ${apiUrl}`);
  expect(output).toMatch(/Tests\s+5 passed/);
}, 120_000);
