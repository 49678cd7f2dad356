import { defaultOptions, startLocalRuntime } from './runtime.ts';

/**
 * `npm start`: the service on this machine, no Docker, no cloud. Settings come
 * from the environment (README, "Configuration").
 */

const timestamp = () => new Date().toISOString().slice(11, 23);
const say = (line: string) => process.stdout.write(`${timestamp()} ${line}\n`);

const fail = (error: unknown): never => {
  process.stderr.write(
    `hookline: could not start: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
};

const runtime = await Promise.resolve()
  .then(() => startLocalRuntime({ ...defaultOptions(), log: say }))
  .catch(fail);

const lines = [
  '',
  'Hookline is running locally.',
  `  API          ${runtime.apiUrl}/api/v1/webhooks`,
  `  API key      ${runtime.devApiKey}   (tenant ${runtime.devTenant}; header X-API-Key)`,
  `  SQS          ${runtime.sqsEndpoint} (${runtime.upstream.sqs ? `IAM gate to ${runtime.upstream.sqs}` : 'fauxqs'})`,
  `    ingest     ${runtime.queues.events.url}`,
  `    deliveries ${runtime.queues.deliveries.url}`,
  `  DynamoDB     ${runtime.dynamoDbEndpoint} (${runtime.upstream.dynamoDb ? `IAM gate to ${runtime.upstream.dynamoDb}` : 'dynalite'})  table ${runtime.tableName}`,
  `  Data         ${runtime.dataDir ?? '(in memory)'}`,
  '',
  // performance.now() counts from process start, module loading included.
  `Ready in ${Math.round(performance.now())} ms. Ctrl-C stops.`,
];
process.stdout.write(`${lines.join('\n')}\n`);

let stopping = false;
const stop = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  say(`${signal}: stopping`);
  try {
    await runtime.stop();
    say('stopped');
    process.exit(0);
  } catch (error) {
    say(`could not stop cleanly: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
};
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
