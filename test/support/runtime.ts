import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { createDocumentClient } from '../../functions/commons/clients.ts';
import {
  generateApiKey,
  newApiKeyRecord,
  PERMISSIONS,
  type Permission,
} from '../../functions/domain/keys/api-keys.ts';
import { ApiKeyRepository } from '../../functions/repositories/api-keys.ts';
import {
  type LocalRuntime,
  type LocalRuntimeOptions,
  startLocalRuntime,
} from '../../local/runtime.ts';
import { TEST_CONTEXT } from './runtime-context.ts';

/**
 * The local runtime on free ports with in-memory storage, as integration
 * tests use it: the synthesized stack, real emulators, real handlers, real
 * HTTP. `context` is merged over TEST_CONTEXT. The functions' own logs are
 * dropped unless HOOKLINE_TEST_LOGS is set.
 */
export const startTestRuntime = (
  overrides: Partial<LocalRuntimeOptions> = {},
): Promise<LocalRuntime> =>
  startLocalRuntime({
    port: 0,
    sqsPort: 0,
    dynamoDbPort: 0,
    host: '127.0.0.1',
    dataDir: undefined,
    devTenant: 'dev',
    ...(process.env.HOOKLINE_TEST_LOGS ? {} : { functionLog: () => undefined }),
    ...overrides,
    context: { ...TEST_CONTEXT, ...overrides.context },
  });

/**
 * The runtime as delivery tests want it: a failed batch back after 2 s
 * instead of minutes, and pollers that notice a stop within a second.
 */
export const startDeliveryRuntime = (
  overrides: Partial<LocalRuntimeOptions> = {},
): Promise<LocalRuntime> =>
  startTestRuntime({ queueVisibilityTimeoutSeconds: 2, pollWaitSeconds: 1, ...overrides });

/** A document client on the runtime's DynamoDB, for tests that look at or damage stored items. */
export const documentClientFor = (runtime: LocalRuntime): DynamoDBDocumentClient =>
  createDocumentClient(new DynamoDBClient({ endpoint: runtime.dynamoDbEndpoint }));

/** A new key for a tenant, stored as the keys CLI stores it. */
export const createKey = async (
  runtime: LocalRuntime,
  tenant: string,
  permissions: readonly Permission[] = PERMISSIONS,
): Promise<string> => {
  const key = generateApiKey();
  const repository = new ApiKeyRepository(documentClientFor(runtime), runtime.tableName);
  await repository.create(newApiKeyRecord(key, tenant, [...permissions], new Date()));
  return key;
};

export interface ApiResponse<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

/** A tiny client for the API: JSON in, JSON out, no assumptions about success. */
export const apiClient = (runtime: LocalRuntime, apiKey: string | undefined) => {
  const call = async <T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<ApiResponse<T>> => {
    const response = await fetch(`${runtime.apiUrl}/api/v1${path}`, {
      method,
      headers: {
        ...(apiKey === undefined ? {} : { 'X-API-Key': apiKey }),
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        ...headers,
      },
      ...(body === undefined
        ? {}
        : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await response.text();
    return {
      status: response.status,
      headers: response.headers,
      text,
      body: text === '' ? undefined : JSON.parse(text),
    } as ApiResponse<T>;
  };
  return {
    call,
    get: <T = unknown>(path: string) => call<T>('GET', path),
    post: <T = unknown>(path: string, body?: unknown) => call<T>('POST', path, body),
    put: <T = unknown>(path: string, body?: unknown) => call<T>('PUT', path, body),
    delete: <T = unknown>(path: string) => call<T>('DELETE', path),
  };
};

export type ApiClient = ReturnType<typeof apiClient>;

/** The guide's create payload, exactly as the public guide shows it. */
export const guidePayload = () => ({
  name: 'Ticket notifications',
  url: 'https://example.com/webhooks/alga',
  method: 'POST',
  event_types: ['ticket.created', 'ticket.updated'],
  payload_format: 'json',
  security: {
    type: 'hmac_signature',
    secret: 'replace-me',
    algorithm: 'sha256',
    signature_header: 'X-Signature',
  },
  is_active: true,
  verify_ssl: true,
});

/**
 * Writes delivery counters onto a stored webhook the way the delivery side
 * does, so list sorting and filters over them can be tested before it exists.
 */
export const setDeliveryStats = async (
  runtime: LocalRuntime,
  tenant: string,
  webhookId: string,
  stats: { last_delivery_at: string; failed_deliveries: number; total_deliveries: number },
): Promise<void> => {
  const db = documentClientFor(runtime);
  await db.send(
    new UpdateCommand({
      TableName: runtime.tableName,
      Key: { PK: `TENANT#${tenant}`, SK: `WEBHOOK#${webhookId}` },
      UpdateExpression:
        'SET last_delivery_at = :at, failed_deliveries = :failed, total_deliveries = :total',
      ExpressionAttributeValues: {
        ':at': stats.last_delivery_at,
        ':failed': stats.failed_deliveries,
        ':total': stats.total_deliveries,
      },
    }),
  );
};

/** An SQS client on the runtime's queues. */
export const sqsClientFor = (runtime: LocalRuntime): SQSClient =>
  new SQSClient({ endpoint: runtime.sqsEndpoint });

/** Sends producer events to the runtime's ingest queue, as a producer would. */
export const emitEvents = async (
  runtime: LocalRuntime,
  events: readonly Record<string, unknown>[],
): Promise<void> => {
  const client = sqsClientFor(runtime);
  try {
    for (const event of events) {
      await client.send(
        new SendMessageCommand({
          QueueUrl: runtime.queues.events.url,
          MessageBody: typeof event.raw === 'string' ? event.raw : JSON.stringify(event),
        }),
      );
    }
  } finally {
    client.destroy();
  }
};

/** Everything on a queue right now (a dead-letter queue, say), left in place. */
export const peekQueue = async (runtime: LocalRuntime, queueUrl: string) => {
  const client = sqsClientFor(runtime);
  try {
    const { Messages } = await client.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        VisibilityTimeout: 0,
        MessageAttributeNames: ['All'],
      }),
    );
    return Messages ?? [];
  } finally {
    client.destroy();
  }
};

/** Polls `probe` until it answers something truthy, or fails after `timeoutMs`. */
export const eventually = async <T>(
  probe: () => Promise<T | undefined | false>,
  timeoutMs = 10_000,
  what = 'the condition',
): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
};
