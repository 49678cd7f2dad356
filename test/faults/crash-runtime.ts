import { startLocalRuntime } from '../../local/runtime.ts';
import { TEST_CONTEXT } from '../support/runtime-context.ts';
import { CRASH_CONTEXT } from './crash-context.ts';

/**
 * The runtime the crash suite kills: `npm start`'s runtime on the services
 * of another (AWS_ENDPOINT_URL_DYNAMODB and _SQS, as with LocalStack), with
 * the tests' stack settings and queue visibility timeout
 * (QUEUE_VISIBILITY_TIMEOUT_SECONDS; `npm start` would set the template's
 * 540 s back on the shared queues). Prints "ready <api url>".
 */

const runtime = await startLocalRuntime({
  port: 0,
  sqsPort: 0,
  dynamoDbPort: 0,
  host: '127.0.0.1',
  dataDir: undefined,
  devApiKey: process.env.WEBHOOKS_DEV_API_KEY,
  devTenant: 'dev',
  context: { ...TEST_CONTEXT, ...CRASH_CONTEXT },
  endpoints: {
    dynamoDb: process.env.AWS_ENDPOINT_URL_DYNAMODB,
    sqs: process.env.AWS_ENDPOINT_URL_SQS,
  },
  queueVisibilityTimeoutSeconds: Number(process.env.QUEUE_VISIBILITY_TIMEOUT_SECONDS),
  pollWaitSeconds: 1,
  ...(process.env.HOOKLINE_TEST_LOGS ? {} : { functionLog: () => undefined }),
  log: (line) => process.stdout.write(`${line}\n`),
});
process.stdout.write(`ready ${runtime.apiUrl}\n`);
