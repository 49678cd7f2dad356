import { appendFileSync, mkdirSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import * as v from 'valibot';
import { createDocumentClient } from '../functions/commons/clients.ts';
import { ConfigurationError, integerEnv } from '../functions/commons/config.ts';
import {
  generateApiKey,
  MAX_KEY_LENGTH,
  MIN_KEY_LENGTH,
  newApiKeyRecord,
  PERMISSIONS,
  tenantIdSchema,
} from '../functions/domain/keys/api-keys.ts';
import { ApiKeyRepository } from '../functions/repositories/api-keys.ts';
import type { AccessRecord } from './aws-gate.ts';
import { startInWorker } from './emulators.ts';
import { dataDirFrom, removeEndpointsFile, writeEndpointsFile } from './endpoints-file.ts';
import { type LocalFunction, startFunction } from './functions.ts';
import { startGateway } from './gateway.ts';
import { ensureQueues, ensureTables } from './provision.ts';
import { startPoller } from './sqs-poller.ts';
import { type FunctionModel, readStackModel, type StackModel } from './stack-model.ts';
import { type CfnTemplate, synthesizeStack } from './template.ts';

/**
 * The whole service on one machine, run from the stack as synthesized: the
 * template's tables and queues (in emulators, or behind endpoints given in
 * the environment), each function in an environment of its own with exactly
 * the template's variables and its role's credentials, every AWS call it
 * makes checked against that role's policies, the template's event source
 * mappings polling its queues, and the API Gateway look-alike in front.
 */

const PROJECT_ROOT = fileURLToPath(new URL('../', import.meta.url));

export interface QueueUrls {
  url: string;
  deadLetterUrl: string;
}

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
  /** The stack's settings, as `cdk deploy -c name=value` takes them (lib/app.ts). */
  context: Record<string, unknown>;
  /** Services to use instead of starting emulators (LocalStack, say). */
  endpoints?: { dynamoDb?: string | undefined; sqs?: string | undefined };
  /** Tests only: the consumed queues' visibility timeout, so a failed batch comes back sooner. */
  queueVisibilityTimeoutSeconds?: number | undefined;
  /** Long-poll wait of the event-source pollers, 0 to 20 s (Lambda's pollers wait 20). */
  pollWaitSeconds?: number | undefined;
  /** Tests only: changes the synthesized template before it runs (a grant removed, say). */
  transformTemplate?: (template: CfnTemplate) => CfnTemplate;
  /** Every call a function makes to DynamoDB or SQS, allowed or refused. */
  onAccess?: (record: AccessRecord) => void;
  /** The runtime's own lines (requests, batches, refusals). */
  log?: (line: string) => void;
  /** What the functions write (their CloudWatch logs); default: this process's stdout. */
  functionLog?: (line: string) => void;
}

export interface LocalRuntime {
  apiUrl: string;
  sqsEndpoint: string;
  dynamoDbEndpoint: string;
  tableName: string;
  deliveriesTableName: string;
  queues: { events: QueueUrls; deliveries: QueueUrls };
  /** The stack's outputs, resolved to the local resources. */
  outputs: Record<string, string>;
  stack: StackModel;
  devApiKey: string;
  devTenant: string;
  /** Where the tables (if emulated) and the generated dev key are kept; undefined: in memory. */
  dataDir: string | undefined;
  usingEmulators: { dynamoDb: boolean; sqs: boolean };
  /** The services behind the gates when they are not emulated (LocalStack, say). */
  upstream: { dynamoDb?: string | undefined; sqs?: string | undefined };
  stop(): Promise<void>;
}

/** Variables `npm start` maps onto the stack's context (README, "Configuration"). */
const CONTEXT_VARIABLES = {
  API_RATE_LIMIT: 'apiRateLimit',
  API_BURST_LIMIT: 'apiBurstLimit',
  API_RETRY_AFTER_SECONDS: 'retryAfterSeconds',
  AUTHORIZER_CACHE_TTL_SECONDS: 'authorizerCacheTtlSeconds',
  MAX_WEBHOOKS_PER_TENANT: 'maxWebhooksPerTenant',
  DELIVERY_RETENTION_DAYS: 'deliveryRetentionDays',
  AUTO_DISABLE_AFTER_HOURS: 'autoDisableAfterHours',
  DELIVERY_CONCURRENCY: 'deliveryConcurrency',
  ALLOW_PRIVATE_TARGETS: 'allowPrivateTargets',
} as const;

/** The options `npm start` runs with, from the environment (README, "Configuration"). */
export const defaultOptions = (env: NodeJS.ProcessEnv = process.env): LocalRuntimeOptions => {
  const port = (name: string, fallback: number) =>
    integerEnv(name, fallback, { min: 0, max: 65_535 }, env);
  const devTenant = env.WEBHOOKS_DEV_TENANT || 'dev';
  if (!v.is(tenantIdSchema, devTenant)) {
    throw new ConfigurationError(`WEBHOOKS_DEV_TENANT "${devTenant}" is not a valid tenant id`);
  }
  let extra: unknown = {};
  try {
    extra = JSON.parse(env.HOOKLINE_CONTEXT || '{}');
  } catch {
    throw new ConfigurationError('HOOKLINE_CONTEXT must be a JSON object of CDK context values');
  }
  if (typeof extra !== 'object' || extra === null || Array.isArray(extra)) {
    throw new ConfigurationError('HOOKLINE_CONTEXT must be a JSON object of CDK context values');
  }
  // Receivers on this machine are the point of running locally.
  const context: Record<string, unknown> = { allowPrivateTargets: true, ...extra };
  for (const [variable, key] of Object.entries(CONTEXT_VARIABLES)) {
    const value = env[variable];
    if (value !== undefined && value !== '') context[key] = value;
  }
  return {
    port: port('PORT', 3000),
    sqsPort: port('SQS_PORT', 4566),
    dynamoDbPort: port('DYNAMODB_PORT', 8000),
    host: '127.0.0.1',
    dataDir: dataDirFrom(env),
    devApiKey: env.WEBHOOKS_DEV_API_KEY || undefined,
    devTenant,
    context,
    // The SDK's own variables, if the user set them.
    endpoints: {
      dynamoDb: env.AWS_ENDPOINT_URL_DYNAMODB || env.AWS_ENDPOINT_URL || undefined,
      sqs: env.AWS_ENDPOINT_URL_SQS || env.AWS_ENDPOINT_URL || undefined,
    },
  };
};

const restoreEnv = (name: string, value: string | undefined) => {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
};

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

/**
 * Where a test run collects every function's calls (HOOKLINE_ACCESS_RECORD_DIR),
 * so that test/infra/grants-used.test.ts can hold the grants to what is used.
 */
const accessRecorder = (): ((record: AccessRecord) => void) | undefined => {
  const dir = process.env.HOOKLINE_ACCESS_RECORD_DIR;
  if (!dir) return undefined;
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${process.pid}-${Date.now()}.jsonl`);
  const seen = new Set<string>();
  return (record) => {
    const line = JSON.stringify(record);
    if (seen.has(line)) return;
    seen.add(line);
    appendFileSync(file, `${line}\n`);
  };
};

/** What Lambda puts in every function's environment besides the template's variables. */
const lambdaEnvironment = (
  fn: FunctionModel,
  stack: StackModel,
  endpoints: { dynamoDb: string; sqs: string },
): Record<string, string> => ({
  AWS_REGION: stack.region,
  AWS_DEFAULT_REGION: stack.region,
  AWS_LAMBDA_FUNCTION_NAME: fn.name,
  AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
  AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memoryMb),
  AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${fn.name}`,
  AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
  // The role's session: the gate knows the function by this key.
  AWS_ACCESS_KEY_ID: fn.accessKeyId,
  AWS_SECRET_ACCESS_KEY: 'local',
  AWS_SESSION_TOKEN: 'local',
  // Where AWS is, locally: the gates in front of the emulators.
  AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamoDb,
  AWS_ENDPOINT_URL_SQS: endpoints.sqs,
  ...(process.env.PATH ? { PATH: process.env.PATH } : {}),
});

/**
 * Queue URLs at the gate's address. A configured service answers URLs at its
 * own host, and the SDK sends a call to the host of its QueueUrl rather than
 * to its endpoint: the functions would reach the service around the gate,
 * unchecked. The gate forwards the path, by which LocalStack and fauxqs find
 * a queue whatever the host.
 */
const behindGate = (urls: Map<string, string>, gate: string): Map<string, string> =>
  new Map(
    [...urls].map(([logicalId, url]) => {
      const { pathname, search } = new URL(url);
      return [logicalId, `${gate}${pathname}${search}`];
    }),
  );

const stringEnvironment = (value: unknown, fn: FunctionModel): Record<string, string> => {
  const result: Record<string, string> = {};
  for (const [name, entry] of Object.entries(value as Record<string, unknown>)) {
    if (typeof entry !== 'string') {
      throw new Error(`${fn.name}: environment variable ${name} does not resolve to a string`);
    }
    result[name] = entry;
  }
  return result;
};

export const startLocalRuntime = async (options: LocalRuntimeOptions): Promise<LocalRuntime> => {
  const log = options.log ?? (() => undefined);
  const functionLog = options.functionLog ?? ((line: string) => process.stdout.write(`${line}\n`));
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop();
  };

  try {
    if (options.dataDir) await mkdir(options.dataDir, { recursive: true });
    const synthesized = await synthesizeStack(options.context);
    log(
      `stack ${synthesized.stackName}: ${synthesized.source.cached ? 'template from cache' : 'synthesized'} in ${synthesized.source.ms} ms`,
    );
    const template = options.transformTemplate
      ? options.transformTemplate(structuredClone(synthesized.template))
      : synthesized.template;
    process.env.AWS_REGION ??= 'us-east-1';
    const stack = readStackModel(synthesized.stackName, template, {
      region: process.env.AWS_REGION,
    });

    const configured = { dynamoDb: options.endpoints?.dynamoDb, sqs: options.endpoints?.sqs };
    const emulate = { dynamoDb: !configured.dynamoDb, sqs: !configured.sqs };
    if (emulate.dynamoDb || emulate.sqs) {
      // The emulators take any credentials; the SDK insists on having some.
      process.env.AWS_ACCESS_KEY_ID ??= 'local';
      process.env.AWS_SECRET_ACCESS_KEY ??= 'local';
    }
    const record = accessRecorder();
    const onAccess = (access: AccessRecord) => {
      record?.(access);
      options.onAccess?.(access);
    };
    const gate = (target: string | undefined) => ({
      ...(target ? { target } : {}),
      region: stack.region,
      account: stack.account,
      callers: stack.functions.map((fn) => ({
        accessKeyId: fn.accessKeyId,
        functionName: fn.name,
        principalArn: fn.principalArn,
        policies: fn.role.policies,
      })),
      resourcePolicies: [...stack.queuePolicies],
    });

    // Each emulator (or a gate to the configured service) on a thread of its own, both at once.
    const [dynamo, sqs] = await Promise.all([
      startInWorker(
        {
          kind: 'dynamodb',
          port: options.dynamoDbPort,
          host: options.host,
          ...(options.dataDir ? { path: join(options.dataDir, 'dynamodb') } : {}),
          gate: gate(configured.dynamoDb),
        },
        { onAccess, log },
      ),
      startInWorker(
        { kind: 'sqs', port: options.sqsPort, host: options.host, gate: gate(configured.sqs) },
        { onAccess, log },
      ),
    ]);
    stops.push(dynamo.stop, sqs.stop);
    // This process is the operator's: its clients (and the CLIs it runs) go through the gates too.
    const previous = {
      dynamoDb: process.env.AWS_ENDPOINT_URL_DYNAMODB,
      sqs: process.env.AWS_ENDPOINT_URL_SQS,
    };
    process.env.AWS_ENDPOINT_URL_DYNAMODB = dynamo.endpoint;
    process.env.AWS_ENDPOINT_URL_SQS = sqs.endpoint;
    stops.push(async () => {
      restoreEnv('AWS_ENDPOINT_URL_DYNAMODB', previous.dynamoDb);
      restoreEnv('AWS_ENDPOINT_URL_SQS', previous.sqs);
    });

    const dynamoClient = new DynamoDBClient({ endpoint: dynamo.endpoint });
    stops.push(async () => dynamoClient.destroy());
    await ensureTables(dynamoClient, stack);
    const sqsClient = new SQSClient({ endpoint: sqs.endpoint });
    stops.push(async () => sqsClient.destroy());
    const queueUrls = behindGate(
      await ensureQueues(sqsClient, stack, {
        visibilityTimeoutSeconds: options.queueVisibilityTimeoutSeconds,
      }),
      sqs.endpoint,
    );
    const outputs = Object.fromEntries(
      Object.entries(template.Outputs ?? {}).map(([name, output]) => [
        name,
        String(stack.resolve(output.Value, queueUrls)),
      ]),
    );
    const output = (name: string) => {
      const value = outputs[name];
      if (value === undefined) throw new Error(`The stack has no output ${name}`);
      return value;
    };

    if (String(options.context.allowPrivateTargets) === 'true') {
      log(
        'warning: deliveries may go to loopback and private addresses (allowPrivateTargets); deployed stacks refuse them by default',
      );
    }

    const devApiKey = await resolveDevKey(options);
    if (devApiKey.length < MIN_KEY_LENGTH || devApiKey.length > MAX_KEY_LENGTH) {
      throw new Error(
        `WEBHOOKS_DEV_API_KEY must be ${MIN_KEY_LENGTH} to ${MAX_KEY_LENGTH} characters long`,
      );
    }
    const tableName = output('ConfigTableName');
    const keys = new ApiKeyRepository(createDocumentClient(dynamoClient), tableName);
    const keyRecord = newApiKeyRecord(
      devApiKey,
      options.devTenant,
      [...PERMISSIONS],
      new Date(),
      'local dev key',
    );
    if (!(await keys.create(keyRecord))) {
      const existing = await keys.get(keyRecord.key_id);
      if (existing?.revoked_at) log(`warning: the dev API key ${keyRecord.key_id} is revoked`);
      else if (existing && existing.tenant !== options.devTenant) {
        log(`warning: the dev API key belongs to tenant ${existing.tenant}`);
      }
    }

    // Every function's cold start, side by side.
    const endpoints = { dynamoDb: dynamo.endpoint, sqs: sqs.endpoint };
    const functions = new Map<string, LocalFunction>();
    const started = await Promise.allSettled(
      stack.functions.map(async (fn) => {
        const running = await startFunction({
          name: fn.name,
          entry: join(PROJECT_ROOT, fn.entry),
          memoryMb: fn.memoryMb,
          environment: {
            ...stringEnvironment(stack.resolve(fn.environment, queueUrls), fn),
            ...lambdaEnvironment(fn, stack, endpoints),
          },
          log: functionLog,
        });
        functions.set(fn.logicalId, running);
      }),
    );
    for (const running of functions.values()) stops.push(running.stop);
    const failed = started.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
    const functionOf = (logicalId: string) => {
      const model = stack.functions.find((fn) => fn.logicalId === logicalId);
      const running = functions.get(logicalId);
      if (!model || !running) throw new Error(`No function ${logicalId}`);
      return { model, running };
    };

    const api = functionOf(stack.api.apiFunction);
    const authorizer = functionOf(stack.api.authorizerFunction);
    const gateway = await startGateway({
      host: options.host,
      port: options.port,
      resources: stack.api.resources,
      api: { handler: api.running.handler, timeoutMs: api.model.timeoutSeconds * 1000 },
      authorizer: {
        handler: authorizer.running.handler,
        timeoutMs: authorizer.model.timeoutSeconds * 1000,
      },
      integrationTimeoutMs: stack.api.integrationTimeoutMs,
      authorizerCacheTtlSeconds: stack.api.authorizerCacheTtlSeconds,
      throttle: stack.api.throttle,
      retryAfterSeconds: stack.api.retryAfterSeconds ?? 1,
      log,
    });
    stops.push(gateway.stop);

    // Lambda's SQS event source mappings, polling with the function's own role.
    for (const mapping of stack.eventSourceMappings.filter((each) => each.enabled)) {
      const { model, running } = functionOf(mapping.functionLogicalId);
      const queueUrl = queueUrls.get(mapping.queueLogicalId);
      if (!queueUrl) throw new Error(`No queue ${mapping.queueLogicalId}`);
      const client = new SQSClient({
        endpoint: sqs.endpoint,
        credentials: {
          accessKeyId: model.accessKeyId,
          secretAccessKey: 'local',
          sessionToken: 'local',
        },
      });
      stops.push(async () => client.destroy());
      // Lambda reads the queue's attributes when the mapping is created.
      const { Attributes } = await client.send(
        new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
      );
      const poller = startPoller({
        client,
        queueUrl,
        queueArn: Attributes?.QueueArn ?? '',
        functionName: model.name,
        timeoutMs: model.timeoutSeconds * 1000,
        handler: running.handler,
        batchSize: mapping.batchSize,
        maxBatchingWindowSeconds: mapping.maxBatchingWindowSeconds,
        maxConcurrency: mapping.maxConcurrency,
        reportBatchItemFailures: mapping.reportBatchItemFailures,
        waitTimeSeconds: options.pollWaitSeconds,
        log,
      });
      // Pollers stop before the functions they feed (stops run in reverse).
      stops.push(poller.stop);
    }

    // Last, once everything listens: the CLIs find the runtime here (cli/targets.ts).
    if (options.dataDir) {
      const dataDir = options.dataDir;
      await writeEndpointsFile(dataDir, {
        pid: process.pid,
        started_at: new Date().toISOString(),
        api: `${gateway.url}/api/v1`,
        sqs: sqs.endpoint,
        dynamodb: dynamo.endpoint,
        outputs,
      });
      stops.push(() => removeEndpointsFile(dataDir));
    }

    return {
      apiUrl: gateway.url,
      sqsEndpoint: sqs.endpoint,
      dynamoDbEndpoint: dynamo.endpoint,
      tableName,
      deliveriesTableName: output('DeliveriesTableName'),
      queues: {
        events: {
          url: output('EventsQueueUrl'),
          deadLetterUrl: output('EventsDeadLetterQueueUrl'),
        },
        deliveries: {
          url: output('DeliveriesQueueUrl'),
          deadLetterUrl: output('DeliveriesDeadLetterQueueUrl'),
        },
      },
      outputs,
      stack,
      devApiKey,
      devTenant: options.devTenant,
      dataDir: options.dataDir,
      usingEmulators: emulate,
      upstream: configured,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll().catch(() => undefined);
    throw error;
  }
};
