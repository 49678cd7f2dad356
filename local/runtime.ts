import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import * as v from 'valibot';
import { createDocumentClient } from '../functions/commons/clients.ts';
import { ConfigurationError, integerEnv, numberEnv } from '../functions/commons/config.ts';
import {
  generateApiKey,
  MAX_KEY_LENGTH,
  MIN_KEY_LENGTH,
  newApiKeyRecord,
  PERMISSIONS,
  tenantIdSchema,
} from '../functions/domain/keys/api-keys.ts';
import { ApiKeyRepository } from '../functions/repositories/api-keys.ts';
import {
  API,
  BATCHING,
  CONFIG_TABLE,
  DELIVERIES_TABLE,
  FUNCTION_TIMEOUT_SECONDS,
} from '../lib/resources.ts';
import { startInWorker } from './emulators.ts';
import { startGateway } from './gateway.ts';
import {
  ensureConfigTable,
  ensureDeliveriesTable,
  ensureQueues,
  type QueueUrls,
  queueArn,
} from './provision.ts';
import { startPoller } from './sqs-poller.ts';

/**
 * The whole service on one machine: emulators (or endpoints given in the
 * environment), the stack's tables and queues, and the deployed handlers
 * behind an API Gateway look-alike.
 */

export interface LocalRuntimeOptions {
  /** 0 picks a free port. */
  port: number;
  sqsPort: number;
  dynamoDbPort: number;
  host: string;
  /** Where dynalite keeps its tables; undefined keeps them in memory. */
  dataDir?: string | undefined;
  /** The dev tenant's key; generated (and kept in dataDir) when absent. */
  devApiKey?: string | undefined;
  devTenant: string;
  authorizerCacheTtlSeconds: number;
  throttle: { rateLimit: number; burstLimit: number };
  retryAfterSeconds: number;
  /** Environment for the handlers, on top of what the runtime sets. */
  env?: Record<string, string>;
  /** Overrides the queues' visibility timeout: a failed batch comes back sooner (tests). */
  queueVisibilityTimeoutSeconds?: number | undefined;
  /** Long-poll wait of the event-source pollers, 0 to 20 s. */
  pollWaitSeconds?: number | undefined;
  log?: (line: string) => void;
}

export interface LocalRuntime {
  apiUrl: string;
  sqsEndpoint: string;
  dynamoDbEndpoint: string;
  tableName: string;
  deliveriesTableName: string;
  queues: { events: QueueUrls; deliveries: QueueUrls };
  devApiKey: string;
  devTenant: string;
  /** Where the tables (if emulated) and the generated dev key are kept; undefined: in memory. */
  dataDir: string | undefined;
  usingEmulators: { dynamoDb: boolean; sqs: boolean };
  stop(): Promise<void>;
}

/** The options `npm start` runs with, from the environment (README, "Configuration"). */
export const defaultOptions = (env: NodeJS.ProcessEnv = process.env): LocalRuntimeOptions => {
  const port = (name: string, fallback: number) =>
    integerEnv(name, fallback, { min: 0, max: 65_535 }, env);
  const devTenant = env.WEBHOOKS_DEV_TENANT || 'dev';
  if (!v.is(tenantIdSchema, devTenant)) {
    throw new ConfigurationError(`WEBHOOKS_DEV_TENANT "${devTenant}" is not a valid tenant id`);
  }
  return {
    port: port('PORT', 3000),
    sqsPort: port('SQS_PORT', 4566),
    dynamoDbPort: port('DYNAMODB_PORT', 8000),
    host: '127.0.0.1',
    // An empty HOOKLINE_DATA_DIR keeps everything in memory.
    dataDir:
      env.HOOKLINE_DATA_DIR === ''
        ? undefined
        : (env.HOOKLINE_DATA_DIR ?? join(process.cwd(), '.hookline')),
    devApiKey: env.WEBHOOKS_DEV_API_KEY || undefined,
    devTenant,
    authorizerCacheTtlSeconds: integerEnv(
      'AUTHORIZER_CACHE_TTL_SECONDS',
      API.authorizerCacheTtlSeconds,
      { max: 3600 },
      env,
    ),
    throttle: {
      rateLimit: numberEnv('API_RATE_LIMIT', API.throttle.rateLimit, { min: 0.001 }, env),
      burstLimit: integerEnv('API_BURST_LIMIT', API.throttle.burstLimit, { min: 1 }, env),
    },
    retryAfterSeconds: integerEnv(
      'API_RETRY_AFTER_SECONDS',
      API.retryAfterSeconds,
      { min: 1 },
      env,
    ),
  };
};

/** A service endpoint from the SDK's own variables, if the user set one. */
const configuredEndpoint = (service: 'DYNAMODB' | 'SQS'): string | undefined =>
  process.env[`AWS_ENDPOINT_URL_${service}`] || process.env.AWS_ENDPOINT_URL || undefined;

let started = false;

const devKeyFile = (dataDir: string) => join(dataDir, 'dev-api-key');

/** The dev key: given, or kept from an earlier start, or new (and then kept). */
const resolveDevKey = async (options: LocalRuntimeOptions): Promise<string> => {
  if (options.devApiKey) return options.devApiKey;
  if (options.dataDir) {
    const saved = await readFile(devKeyFile(options.dataDir), 'utf8').catch(() => undefined);
    if (saved?.trim()) return saved.trim();
  }
  const key = generateApiKey();
  if (options.dataDir) await writeFile(devKeyFile(options.dataDir), `${key}\n`, { mode: 0o600 });
  return key;
};

export const startLocalRuntime = async (options: LocalRuntimeOptions): Promise<LocalRuntime> => {
  // The handlers read their configuration once, at import, as on Lambda; a
  // second runtime in one process would silently reuse the first one's.
  if (started) throw new Error('The local runtime can start once per process');
  started = true;
  const log = options.log ?? (() => undefined);
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop();
  };

  try {
    if (options.dataDir) await mkdir(options.dataDir, { recursive: true });
    const emulate = { dynamoDb: !configuredEndpoint('DYNAMODB'), sqs: !configuredEndpoint('SQS') };
    if (emulate.dynamoDb || emulate.sqs) {
      // Emulators take any credentials; the SDK insists on having some.
      process.env.AWS_ACCESS_KEY_ID ??= 'local';
      process.env.AWS_SECRET_ACCESS_KEY ??= 'local';
    }
    process.env.AWS_REGION ??= 'us-east-1';

    // Each emulator on a thread of its own, both starting at once.
    const [dynamo, sqs] = await Promise.all([
      emulate.dynamoDb
        ? startInWorker({
            kind: 'dynamodb',
            port: options.dynamoDbPort,
            host: options.host,
            path: options.dataDir ? join(options.dataDir, 'dynamodb') : undefined,
          })
        : undefined,
      emulate.sqs
        ? startInWorker({ kind: 'sqs', port: options.sqsPort, host: options.host })
        : undefined,
    ]);
    if (dynamo) {
      stops.push(dynamo.stop);
      process.env.AWS_ENDPOINT_URL_DYNAMODB = dynamo.endpoint;
    }
    if (sqs) {
      stops.push(sqs.stop);
      process.env.AWS_ENDPOINT_URL_SQS = sqs.endpoint;
    }
    const dynamoDbEndpoint = dynamo?.endpoint ?? configuredEndpoint('DYNAMODB') ?? '';
    const sqsEndpoint = sqs?.endpoint ?? configuredEndpoint('SQS') ?? '';

    const tableName = process.env.TABLE_NAME ?? CONFIG_TABLE.localName;
    const dynamoClient = new DynamoDBClient({});
    stops.push(async () => dynamoClient.destroy());
    await ensureConfigTable(dynamoClient, tableName);
    const deliveriesTableName = process.env.DELIVERIES_TABLE_NAME ?? DELIVERIES_TABLE.localName;
    await ensureDeliveriesTable(dynamoClient, deliveriesTableName);
    const sqsClient = new SQSClient({});
    stops.push(async () => sqsClient.destroy());
    const queues = await ensureQueues(sqsClient, {
      visibilityTimeoutSeconds: options.queueVisibilityTimeoutSeconds,
    });

    // Receivers on this machine are the point of running locally.
    if (process.env.ALLOW_PRIVATE_TARGETS === undefined) {
      log(
        'warning: deliveries may go to loopback and private addresses (ALLOW_PRIVATE_TARGETS=true); deployed stacks refuse them',
      );
    }
    Object.assign(process.env, {
      ALLOW_PRIVATE_TARGETS: process.env.ALLOW_PRIVATE_TARGETS ?? 'true',
      TABLE_NAME: tableName,
      DELIVERIES_TABLE_NAME: deliveriesTableName,
      EVENTS_QUEUE_URL: queues.events.url,
      EVENTS_DLQ_URL: queues.events.deadLetterUrl,
      DELIVERIES_QUEUE_URL: queues.deliveries.url,
      DELIVERIES_DLQ_URL: queues.deliveries.deadLetterUrl,
      POWERTOOLS_SERVICE_NAME: 'hookline',
      POWERTOOLS_LOG_LEVEL: process.env.LOG_LEVEL ?? 'WARN',
      ...options.env,
    });

    const devApiKey = await resolveDevKey(options);
    if (devApiKey.length < MIN_KEY_LENGTH || devApiKey.length > MAX_KEY_LENGTH) {
      throw new Error(
        `WEBHOOKS_DEV_API_KEY must be ${MIN_KEY_LENGTH} to ${MAX_KEY_LENGTH} characters long`,
      );
    }
    const keys = new ApiKeyRepository(createDocumentClient(dynamoClient), tableName);
    const record = newApiKeyRecord(
      devApiKey,
      options.devTenant,
      [...PERMISSIONS],
      new Date(),
      'local dev key',
    );
    if (!(await keys.create(record))) {
      const existing = await keys.get(record.key_id);
      if (existing?.revoked_at) log(`warning: the dev API key ${record.key_id} is revoked`);
      else if (existing && existing.tenant !== options.devTenant) {
        log(`warning: the dev API key belongs to tenant ${existing.tenant}`);
      }
    }

    // The deployed entry points themselves, configured by the environment above.
    const api = await import('../functions/handlers/api.ts');
    const authorizer = await import('../functions/handlers/authorizer.ts');
    const gateway = await startGateway({
      host: options.host,
      port: options.port,
      api: api.handler,
      authorizer: authorizer.handler,
      authorizerCacheTtlSeconds: options.authorizerCacheTtlSeconds,
      throttle: options.throttle,
      retryAfterSeconds: options.retryAfterSeconds,
      log,
    });
    stops.push(gateway.stop);

    // Lambda's SQS event source mappings, one per consuming function.
    const fanOut = await import('../functions/handlers/fan-out.ts');
    const delivery = await import('../functions/handlers/delivery.ts');
    const consumers = [
      {
        name: 'fan-out',
        handler: fanOut.handler,
        queueUrl: queues.events.url,
        batching: BATCHING.events,
        timeoutSeconds: FUNCTION_TIMEOUT_SECONDS.fanOut,
      },
      {
        name: 'delivery',
        handler: delivery.handler,
        queueUrl: queues.deliveries.url,
        batching: BATCHING.deliveries,
        timeoutSeconds: FUNCTION_TIMEOUT_SECONDS.delivery,
      },
    ];
    for (const consumer of consumers) {
      const poller = startPoller({
        client: sqsClient,
        queueUrl: consumer.queueUrl,
        queueArn: await queueArn(sqsClient, consumer.queueUrl),
        functionName: `hookline-${consumer.name}`,
        timeoutMs: consumer.timeoutSeconds * 1000,
        handler: consumer.handler,
        batchSize: consumer.batching.batchSize,
        maxBatchingWindowSeconds: consumer.batching.maxBatchingWindowSeconds,
        waitTimeSeconds: options.pollWaitSeconds,
        log,
      });
      stops.push(poller.stop);
    }

    return {
      apiUrl: gateway.url,
      sqsEndpoint,
      dynamoDbEndpoint,
      tableName,
      deliveriesTableName,
      queues,
      devApiKey,
      devTenant: options.devTenant,
      dataDir: options.dataDir,
      usingEmulators: emulate,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll().catch(() => undefined);
    throw error;
  }
};
