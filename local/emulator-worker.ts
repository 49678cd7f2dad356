import { parentPort, workerData } from 'node:worker_threads';
import * as v from 'valibot';
import { type RunningEmulator, startDynamoDb, startSqs } from './emulators.ts';

/**
 * One emulator on a thread of its own (see startInWorker): the runtime's
 * handlers, gateway and pollers keep the main thread, the emulator the other
 * core. Started with `workerData` = { kind, port, host, path? }; answers
 * { endpoint, port } or { error }; stops on the message 'stop'.
 */

const startSchema = v.object({
  kind: v.picklist(['dynamodb', 'sqs']),
  port: v.number(),
  host: v.string(),
  path: v.optional(v.string()),
});
type Start = v.InferOutput<typeof startSchema>;

const start = (options: Start): Promise<RunningEmulator> =>
  options.kind === 'dynamodb'
    ? startDynamoDb({ port: options.port, host: options.host, path: options.path })
    : startSqs({ port: options.port, host: options.host });

const port = parentPort;
if (!port) throw new Error('emulator-worker.ts runs as a worker thread');

start(v.parse(startSchema, workerData)).then(
  (emulator) => {
    port.on('message', (message) => {
      if (message !== 'stop') return;
      emulator.stop().then(
        () => port.postMessage({ stopped: true }),
        (error: unknown) => port.postMessage({ stopped: true, error: String(error) }),
      );
    });
    port.postMessage({ endpoint: emulator.endpoint, port: emulator.port });
  },
  (error: unknown) =>
    port.postMessage({ error: error instanceof Error ? error.message : String(error) }),
);
