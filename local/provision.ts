import {
  type AttributeDefinition,
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  type GlobalSecondaryIndex,
  type KeySchemaElement,
  ResourceNotFoundException,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import {
  CreateQueueCommand,
  QueueNameExists,
  SetQueueAttributesCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { QueueModel, StackModel, TableModel } from './stack-model.ts';

/**
 * Creates the stack's tables and queues, as the synthesized template defines
 * them, through the ordinary AWS APIs, so it works the same against the
 * emulators, LocalStack or an AWS account. An existing table must have the
 * template's keys; an existing queue takes the template's attributes.
 */

const keysOf = (table: TableModel) => ({
  KeySchema: table.properties.KeySchema as KeySchemaElement[],
  AttributeDefinitions: table.properties.AttributeDefinitions as AttributeDefinition[],
  GlobalSecondaryIndexes: table.properties.GlobalSecondaryIndexes as
    | GlobalSecondaryIndex[]
    | undefined,
});

const sameKeys = (a: readonly KeySchemaElement[] = [], b: readonly KeySchemaElement[] = []) =>
  JSON.stringify(a.map((key) => [key.AttributeName, key.KeyType])) ===
  JSON.stringify(b.map((key) => [key.AttributeName, key.KeyType]));

export const ensureTable = async (client: DynamoDBClient, table: TableModel): Promise<void> => {
  const wanted = keysOf(table);
  try {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: table.name }));
    const indexes = new Map(
      (Table?.GlobalSecondaryIndexes ?? []).map((index) => [index.IndexName, index.KeySchema]),
    );
    const differs =
      !sameKeys(Table?.KeySchema, wanted.KeySchema) ||
      (wanted.GlobalSecondaryIndexes ?? []).some(
        (index) => !sameKeys(indexes.get(index.IndexName), index.KeySchema),
      );
    if (differs) {
      throw new Error(
        `Table ${table.name} exists with other keys or indexes than the stack defines; remove the local data folder to start afresh`,
      );
    }
    return;
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw error;
  }
  await client.send(
    new CreateTableCommand({
      TableName: table.name,
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: wanted.KeySchema,
      AttributeDefinitions: wanted.AttributeDefinitions,
      ...(wanted.GlobalSecondaryIndexes?.length
        ? {
            GlobalSecondaryIndexes: wanted.GlobalSecondaryIndexes.map((index) => ({
              IndexName: index.IndexName,
              KeySchema: index.KeySchema,
              Projection: index.Projection,
            })),
          }
        : {}),
    }),
  );
  await waitUntilTableExists({ client, maxWaitTime: 120, minDelay: 1 }, { TableName: table.name });
};

export const ensureTables = async (client: DynamoDBClient, model: StackModel): Promise<void> => {
  for (const table of model.tables) await ensureTable(client, table);
};

/** The queue attributes the template may set that SQS takes at creation. */
const QUEUE_ATTRIBUTES = [
  'DelaySeconds',
  'MaximumMessageSize',
  'MessageRetentionPeriod',
  'ReceiveMessageWaitTimeSeconds',
  'VisibilityTimeout',
  'RedrivePolicy',
  'FifoQueue',
  'ContentBasedDeduplication',
] as const;

const queueAttributes = (queue: QueueModel, model: StackModel): Record<string, string> => {
  const attributes: Record<string, string> = {};
  for (const name of QUEUE_ATTRIBUTES) {
    const value = queue.properties[name];
    if (value === undefined) continue;
    const resolved = model.resolve(value);
    attributes[name] = typeof resolved === 'string' ? resolved : JSON.stringify(resolved);
  }
  return attributes;
};

export interface QueueOverrides {
  /** Tests only: the consumed queues' visibility timeout, so a failed batch comes back sooner. */
  visibilityTimeoutSeconds?: number | undefined;
}

/** Creates every queue, dead-letter queues first; answers their URLs by logical id. */
export const ensureQueues = async (
  client: SQSClient,
  model: StackModel,
  overrides: QueueOverrides = {},
): Promise<Map<string, string>> => {
  const consumed = new Set(model.eventSourceMappings.map((mapping) => mapping.queueLogicalId));
  const ordered = [...model.queues].sort(
    (a, b) => Number('RedrivePolicy' in a.properties) - Number('RedrivePolicy' in b.properties),
  );
  const urls = new Map<string, string>();
  for (const queue of ordered) {
    const attributes = queueAttributes(queue, model);
    if (overrides.visibilityTimeoutSeconds !== undefined && consumed.has(queue.logicalId)) {
      attributes.VisibilityTimeout = String(overrides.visibilityTimeoutSeconds);
    }
    let url: string | undefined;
    try {
      ({ QueueUrl: url } = await client.send(
        new CreateQueueCommand({ QueueName: queue.name, Attributes: attributes }),
      ));
    } catch (error) {
      if (!(error instanceof QueueNameExists)) throw error;
      ({ QueueUrl: url } = await client.send(new CreateQueueCommand({ QueueName: queue.name })));
      await client.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: attributes }));
    }
    if (!url) throw new Error(`CreateQueue returned no URL for ${queue.name}`);
    urls.set(queue.logicalId, url);
  }
  return urls;
};
