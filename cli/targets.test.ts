import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  endpointsFilePath,
  type RuntimeEndpoints,
  removeEndpointsFile,
  StaleEndpointsFileError,
  writeEndpointsFile,
} from '../local/endpoints-file.ts';
import { localClientConfig, localEndpoint, localOutput, unreachableHint } from './targets.ts';

let dataDir: string;
beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'hookline-targets-'));
});
afterEach(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

const endpoints = (overrides: Partial<RuntimeEndpoints> = {}): RuntimeEndpoints => ({
  pid: process.pid,
  started_at: '2026-11-26T22:28:46.345Z',
  api: 'http://127.0.0.1:3101/api/v1',
  sqs: 'http://127.0.0.1:4101',
  dynamodb: 'http://127.0.0.1:8101',
  outputs: {
    EventsQueueUrl: 'http://127.0.0.1:4101/000000000000/webhook-events',
    ConfigTableName: 'hookline-config',
  },
  ...overrides,
});

/** A process id nobody runs any more. */
const exitedPid = (): number => {
  const { pid } = spawnSync(process.execPath, ['-e', '']);
  if (pid === undefined) throw new Error('no child process');
  return pid;
};

describe('localEndpoint', () => {
  it("finds the running runtime's ports and outputs in its endpoints file", async () => {
    // Prepare
    await writeEndpointsFile(dataDir, endpoints());

    // Act
    const sqs = localEndpoint('SQS', { HOOKLINE_DATA_DIR: dataDir });
    const dynamoDb = localEndpoint('DYNAMODB', { HOOKLINE_DATA_DIR: dataDir });

    // Assess
    expect(sqs).toMatchObject({ endpoint: 'http://127.0.0.1:4101', configured: false });
    expect(sqs.source).toBe(`${endpointsFilePath(dataDir)} (the runtime with pid ${process.pid})`);
    expect(localOutput(sqs, 'EventsQueueUrl')).toBe(
      'http://127.0.0.1:4101/000000000000/webhook-events',
    );
    expect(dynamoDb.endpoint).toBe('http://127.0.0.1:8101');
    expect(localClientConfig(dynamoDb)).toMatchObject({
      endpoint: 'http://127.0.0.1:8101',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
  });

  it('lets an explicit variable win over the file, and then ignores its outputs', async () => {
    await writeEndpointsFile(dataDir, endpoints());

    const byPort = localEndpoint('SQS', { HOOKLINE_DATA_DIR: dataDir, SQS_PORT: '5000' });
    const bySdk = localEndpoint('SQS', {
      HOOKLINE_DATA_DIR: dataDir,
      SQS_PORT: '5000',
      AWS_ENDPOINT_URL_SQS: 'http://localhost:4566',
    });

    expect(byPort).toMatchObject({ endpoint: 'http://127.0.0.1:5000', source: 'SQS_PORT=5000' });
    // The SQS_PORT=0 that started the runtime on a free port, still exported, names no port.
    expect(localEndpoint('SQS', { HOOKLINE_DATA_DIR: dataDir, SQS_PORT: '0' }).endpoint).toBe(
      'http://127.0.0.1:4101',
    );
    expect(localOutput(byPort, 'EventsQueueUrl')).toBeUndefined();
    expect(bySdk).toMatchObject({
      endpoint: 'http://localhost:4566',
      source: 'AWS_ENDPOINT_URL_SQS',
      configured: true,
    });
    expect(localClientConfig(bySdk)).not.toHaveProperty('credentials');
  });

  it('falls back to the default port, saying there was no file', () => {
    const sqs = localEndpoint('SQS', { HOOKLINE_DATA_DIR: dataDir });
    const inMemory = localEndpoint('DYNAMODB', { HOOKLINE_DATA_DIR: '' });

    expect(sqs.endpoint).toBe('http://127.0.0.1:4566');
    expect(sqs.source).toContain(`no ${endpointsFilePath(dataDir)}`);
    expect(sqs.source).toContain('set SQS_PORT');
    expect(inMemory.endpoint).toBe('http://127.0.0.1:8000');
    expect(inMemory.source).toContain('HOOKLINE_DATA_DIR is empty');
  });

  it('refuses a file whose runtime is gone, naming the file', async () => {
    const pid = exitedPid();
    await writeEndpointsFile(dataDir, endpoints({ pid }));

    const read = () => localEndpoint('SQS', { HOOKLINE_DATA_DIR: dataDir });

    expect(read).toThrow(StaleEndpointsFileError);
    expect(read).toThrow(
      `${endpointsFilePath(dataDir)} names a local runtime (pid ${pid}, started 2026-11-26T22:28:46.345Z) that is no longer running`,
    );
  });

  it.each([
    ['not JSON', '{"pid": '],
    ['another shape', '{"pid": "me"}'],
  ])('refuses a file that is %s, naming the file', (_what, text) => {
    writeFileSync(endpointsFilePath(dataDir), text);

    expect(() => localEndpoint('DYNAMODB', { HOOKLINE_DATA_DIR: dataDir })).toThrow(
      `${endpointsFilePath(dataDir)} is not a local runtime's endpoints file`,
    );
  });
});

describe('removeEndpointsFile', () => {
  it("removes this process's file but leaves another runtime's", async () => {
    await writeEndpointsFile(dataDir, endpoints({ pid: process.ppid }));
    await removeEndpointsFile(dataDir);
    expect(localEndpoint('SQS', { HOOKLINE_DATA_DIR: dataDir }).endpoint).toBe(
      'http://127.0.0.1:4101',
    );

    await writeEndpointsFile(dataDir, endpoints());
    await removeEndpointsFile(dataDir);
    expect(localEndpoint('SQS', { HOOKLINE_DATA_DIR: dataDir }).endpoint).toBe(
      'http://127.0.0.1:4566',
    );
  });
});

describe('unreachableHint', () => {
  it('names each endpoint tried and where it came from', () => {
    const sqs = localEndpoint('SQS', { HOOKLINE_DATA_DIR: '', SQS_PORT: '4999' });

    expect(unreachableHint('connect ECONNREFUSED 127.0.0.1:4999', [sqs])).toBe(
      ' (nothing answers at http://127.0.0.1:4999 from SQS_PORT=4999: is the local runtime running? npm start)',
    );
    expect(unreachableHint('AccessDenied', [sqs])).toBe('');
  });
});
