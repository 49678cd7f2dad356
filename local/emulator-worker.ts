import { parentPort, workerData } from 'node:worker_threads';
import * as v from 'valibot';
import { startGate } from './aws-gate.ts';
import { type RunningEmulator, startDynamoDb, startSqs } from './emulators.ts';
import { PolicyEvaluator } from './iam.ts';

/**
 * One emulator on a thread of its own (see startInWorker), behind its gate
 * (local/aws-gate.ts) when the runtime enforces the stack's IAM: the
 * runtime's handlers, gateway and pollers keep the main thread, the emulator
 * and its gate the other core. Started with `workerData` = { kind, port, host,
 * path?, gate? }; answers { type: 'started', endpoint, port } or
 * { type: 'failed', error }; reports { type: 'access' | 'log' } while it runs;
 * stops on the message 'stop'.
 */

const policySchema = v.object({
  name: v.string(),
  document: v.object({
    Version: v.optional(v.string()),
    Statement: v.array(v.record(v.string(), v.unknown())),
  }),
});

const startSchema = v.object({
  kind: v.picklist(['dynamodb', 'sqs']),
  port: v.number(),
  host: v.string(),
  path: v.optional(v.string()),
  gate: v.optional(
    v.object({
      /** A configured endpoint (LocalStack, say) instead of the emulator. */
      target: v.optional(v.string()),
      region: v.string(),
      account: v.string(),
      callers: v.array(
        v.object({
          accessKeyId: v.string(),
          functionName: v.string(),
          principalArn: v.string(),
          policies: v.array(policySchema),
        }),
      ),
      resourcePolicies: v.array(v.tuple([v.string(), policySchema.entries.document])),
    }),
  ),
});
export type EmulatorStart = v.InferInput<typeof startSchema>;

const port = parentPort;
if (!port) throw new Error('emulator-worker.ts runs as a worker thread');

const startEmulator = (options: v.InferOutput<typeof startSchema>, listenPort: number) =>
  options.kind === 'dynamodb'
    ? startDynamoDb({ port: listenPort, host: options.host, path: options.path })
    : startSqs({ port: listenPort, host: options.host });

const start = async (options: v.InferOutput<typeof startSchema>): Promise<RunningEmulator> => {
  const { gate } = options;
  if (!gate) return startEmulator(options, options.port);
  const backend: RunningEmulator = gate.target
    ? { endpoint: gate.target, port: 0, stop: async () => undefined }
    : await startEmulator(options, 0);
  const front = await startGate({
    service: options.kind,
    host: options.host,
    port: options.port,
    target: backend.endpoint,
    evaluator: new PolicyEvaluator(gate.callers, new Map(gate.resourcePolicies), gate.account),
    where: { region: gate.region, account: gate.account },
    onAccess: (record) => port.postMessage({ type: 'access', record }),
    log: (line) => port.postMessage({ type: 'log', line }),
  });
  return {
    ...front,
    stop: async () => {
      await front.stop();
      await backend.stop();
    },
  };
};

start(v.parse(startSchema, workerData)).then(
  (emulator) => {
    port.on('message', (message) => {
      if (message !== 'stop') return;
      emulator.stop().then(
        () => port.postMessage({ type: 'stopped' }),
        (error: unknown) => port.postMessage({ type: 'stopped', error: String(error) }),
      );
    });
    port.postMessage({ type: 'started', endpoint: emulator.endpoint, port: emulator.port });
  },
  (error: unknown) =>
    port.postMessage({
      type: 'failed',
      error: error instanceof Error ? error.message : String(error),
    }),
);
