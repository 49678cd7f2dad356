import { Worker } from 'node:worker_threads';
import type { AccessRecord } from './aws-gate.ts';
import type { EmulatorStart } from './emulator-worker.ts';
import { close, listen } from './http-server.ts';

/**
 * The pure-JS emulators behind the local runtime, in this process, on
 * 127.0.0.1 only. dynalite keeps its tables in LevelDB under a folder (so
 * webhooks survive a restart) or in memory; fauxqs keeps queues in memory.
 */

export interface RunningEmulator {
  endpoint: string;
  port: number;
  stop(): Promise<void>;
}

export const startDynamoDb = async (options: {
  port: number;
  host: string;
  path?: string | undefined;
}): Promise<RunningEmulator> => {
  // Loaded on demand: a worker running one emulator need not load the other.
  const { default: dynalite } = await import('dynalite');
  const server = dynalite({
    ...(options.path === undefined ? {} : { path: options.path }),
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
  });
  const port = await listen(server, options.port, options.host);
  return { endpoint: `http://${options.host}:${port}`, port, stop: () => close(server) };
};

/**
 * SQS takes message text of #x9, #xA, #xD, #x20 to #xD7FF, #xE000 to #xFFFD
 * and #x10000 to #x10FFFF; fauxqs tests UTF-16 units against the first ranges
 * only, so it refuses every character beyond U+FFFF (an emoji in an event).
 * Its one shared pattern is corrected in place, to SQS's rule.
 */
const acceptSupplementaryCharacters = async () => {
  const types: { INVALID_MESSAGE_BODY_CHAR?: unknown } = await import(
    new URL('./sqs/sqsTypes.js', import.meta.resolve('fauxqs')).href
  );
  const pattern = types.INVALID_MESSAGE_BODY_CHAR;
  if (!(pattern instanceof RegExp)) throw new Error('fauxqs changed: no INVALID_MESSAGE_BODY_CHAR');
  pattern.compile('[^\\t\\n\\r\\x20-\\uD7FF\\uE000-\\uFFFD\\u{10000}-\\u{10FFFF}]', 'u');
};

/** fauxqs's queue URLs: `http://sqs.<region>.localhost:<port>/<account>/<name>`. */
const FAUXQS_QUEUE_URL = /http:\/\/sqs\.[a-z0-9-]+\.localhost(:\d+)?\//g;

/**
 * fauxqs's own start function listens on every interface; its app builder
 * lets us listen on loopback alone. Its queue URLs name a host that only
 * resolves with wildcard DNS, which SDK clients then try to reach; answers
 * carry `http://127.0.0.1:<port>/...` instead (fauxqs finds queues by the
 * path, whatever the host).
 */
export const startSqs = async (options: {
  port: number;
  host: string;
}): Promise<RunningEmulator> => {
  const { buildApp } = await import('fauxqs');
  await acceptSupplementaryCharacters();
  const app = buildApp({ logger: false });
  app.addHook('onSend', async (_request, _reply, payload) =>
    typeof payload === 'string'
      ? payload.replace(
          FAUXQS_QUEUE_URL,
          (_match, port: string | undefined) => `http://${options.host}${port ?? ''}/`,
        )
      : payload,
  );
  await app.listen({ port: options.port, host: options.host });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('fauxqs is not on TCP');
  const { port } = address;
  return {
    endpoint: `http://${options.host}:${port}`,
    port,
    stop: async () => {
      await app.close();
    },
  };
};

/** What a gated emulator reports while it runs. */
export interface EmulatorEvents {
  onAccess?: (record: AccessRecord) => void;
  log?: (line: string) => void;
}

/**
 * An emulator on a worker thread, so that it runs on the other core beside
 * the handlers instead of taking turns with them on one event loop.
 */
export const startInWorker = (
  options: EmulatorStart,
  events: EmulatorEvents = {},
): Promise<RunningEmulator> =>
  new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./emulator-worker.ts', import.meta.url), {
      workerData: options,
    });
    let stopped: (() => void) | undefined;
    worker.once('error', reject);
    worker.on('message', (message: WorkerMessage) => {
      switch (message.type) {
        case 'access':
          events.onAccess?.(message.record);
          return;
        case 'log':
          events.log?.(message.line);
          return;
        case 'stopped':
          void worker.terminate().then(() => stopped?.());
          return;
        case 'failed':
          void worker.terminate();
          reject(new Error(message.error));
          return;
        case 'started':
          worker.off('error', reject);
          resolve({
            endpoint: message.endpoint,
            port: message.port,
            stop: () =>
              new Promise<void>((done) => {
                stopped = done;
                worker.postMessage('stop');
              }),
          });
      }
    });
  });

type WorkerMessage =
  | { type: 'started'; endpoint: string; port: number }
  | { type: 'failed'; error: string }
  | { type: 'stopped'; error?: string }
  | { type: 'access'; record: AccessRecord }
  | { type: 'log'; line: string };
