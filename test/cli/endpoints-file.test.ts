import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  endpointsFilePath,
  type RuntimeEndpoints,
  writeEndpointsFile,
} from '../../local/endpoints-file.ts';
import type { LocalRuntime } from '../../local/runtime.ts';
import { run } from '../support/process.ts';
import { startTestRuntime } from '../support/runtime.ts';

/**
 * The CLIs find a runtime on ports of its own through the endpoints file it
 * keeps in its data folder, with no port variable set; a file left by a
 * runtime that is gone stops them with an error naming it.
 */

let dataDir: string;
let runtime: LocalRuntime | undefined;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'hookline-endpoints-'));
  runtime = await startTestRuntime({ dataDir });
}, 30_000);

afterAll(async () => {
  await runtime?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

/** A CLI as a newcomer runs it: no endpoint or port variables, only the data folder. */
const cli = async (script: string, ...args: string[]) => {
  const child = run([script, ...args], {
    HOOKLINE_DATA_DIR: dataDir,
    AWS_ENDPOINT_URL: '',
    AWS_ENDPOINT_URL_SQS: '',
    AWS_ENDPOINT_URL_DYNAMODB: '',
    SQS_PORT: '',
    DYNAMODB_PORT: '',
    TABLE_NAME: '',
    DELIVERIES_TABLE_NAME: '',
  });
  const code = await child.exited;
  return { code, output: child.output() };
};

const file = () => endpointsFilePath(dataDir);

describe('the endpoints file', () => {
  it('says where the running runtime listens, its queues and tables included', () => {
    const written = JSON.parse(readFileSync(file(), 'utf8')) as RuntimeEndpoints;

    expect(written).toMatchObject({
      pid: process.pid,
      api: `${runtime?.apiUrl}/api/v1`,
      sqs: runtime?.sqsEndpoint,
      dynamodb: runtime?.dynamoDbEndpoint,
    });
    expect(written.outputs).toMatchObject({
      EventsQueueUrl: runtime?.queues.events.url,
      DeliveriesDeadLetterQueueUrl: runtime?.queues.deliveries.deadLetterUrl,
      ConfigTableName: runtime?.tableName,
      DeliveriesTableName: runtime?.deliveriesTableName,
    });
    // Ports of its own, so the old defaults would have missed it.
    expect(written.sqs).not.toMatch(/:4566$/);
    expect(written.dynamodb).not.toMatch(/:8000$/);
  });

  it('leads keys, emit and dlq to the runtime with no port variables', async () => {
    const created = await cli('cli/keys.ts', 'create', '--tenant', 'endpoints-file');
    const listed = await cli('cli/keys.ts', 'list', '--tenant', 'endpoints-file');
    const emitted = await cli('cli/emit.ts', 'ticket.created', '{"id":"t-1"}');
    const deadLetters = await cli('cli/dlq.ts', 'list');
    const redriven = await cli('cli/dlq.ts', 'redrive', '--all');

    expect(created.code, created.output).toBe(0);
    expect(listed.code, listed.output).toBe(0);
    expect(listed.output).toContain('endpoints-file');
    expect(emitted.code, emitted.output).toBe(0);
    expect(emitted.output).toContain(`to ${runtime?.queues.events.url}`);
    expect(deadLetters.code, deadLetters.output).toBe(0);
    expect(redriven.code, redriven.output).toBe(0);
  });

  it('is removed when the runtime stops; a stale one stops the CLIs with a message naming it', async () => {
    const { pid, ...rest } = JSON.parse(readFileSync(file(), 'utf8')) as RuntimeEndpoints;
    await runtime?.stop();
    runtime = undefined;
    expect(existsSync(file())).toBe(false);

    // What a runtime killed with SIGKILL leaves behind.
    const gone = run(['-e', '']);
    await gone.exited;
    const stalePid = gone.process.pid ?? 0;
    await writeEndpointsFile(dataDir, { ...rest, pid: stalePid });

    for (const [script, ...args] of [
      ['cli/keys.ts', 'list'],
      ['cli/emit.ts', 'ticket.created', '{}'],
      ['cli/dlq.ts', 'redrive', '--all'],
    ] as const) {
      const result = await cli(script, ...args);
      expect(result.code, result.output).toBe(1);
      expect(result.output).toContain(
        `${file()} names a local runtime (pid ${stalePid}, started ${rest.started_at}) that is no longer running: start it again (npm start), or delete the file`,
      );
    }
    expect(pid).toBe(process.pid);
  });
});
