import {
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceNotFoundException,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import {
  CONFIG_TABLE,
  DEAD_LETTER_RETENTION_SECONDS,
  DELIVERIES_TABLE,
  QUEUES,
  type QueueDefinition,
} from '../lib/resources.ts';

/**
 * Creates what the stack defines (lib/resources.ts) through the ordinary AWS
 * APIs, so it works the same against the emulators, LocalStack or an AWS
 * account. Existing resources are left as they are.
 */

interface TableDefinition {
  partitionKey: string;
  sortKey: string;
  indexes: readonly { name: string; partitionKey: string; sortKey: string }[];
}

const ensureTable = async (
  client: DynamoDBClient,
  tableName: string,
  table: TableDefinition,
): Promise<void> => {
  try {
    await client.send(new DescribeTableCommand({ TableName: tableName }));
    return;
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw error;
  }
  const keyAttributes = [
    table.partitionKey,
    table.sortKey,
    ...table.indexes.flatMap((index) => [index.partitionKey, index.sortKey]),
  ];
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: keyAttributes.map((name) => ({
        AttributeName: name,
        AttributeType: 'S',
      })),
      KeySchema: [
        { AttributeName: table.partitionKey, KeyType: 'HASH' },
        { AttributeName: table.sortKey, KeyType: 'RANGE' },
      ],
      // DynamoDB refuses an empty list of indexes.
      ...(table.indexes.length === 0
        ? {}
        : {
            GlobalSecondaryIndexes: table.indexes.map((index) => ({
              IndexName: index.name,
              KeySchema: [
                { AttributeName: index.partitionKey, KeyType: 'HASH' },
                { AttributeName: index.sortKey, KeyType: 'RANGE' },
              ],
              Projection: { ProjectionType: 'ALL' },
            })),
          }),
    }),
  );
  await waitUntilTableExists({ client, maxWaitTime: 120, minDelay: 1 }, { TableName: tableName });
};

export const ensureConfigTable = (client: DynamoDBClient, tableName: string): Promise<void> =>
  ensureTable(client, tableName, CONFIG_TABLE);

/**
 * The delivery history table, without its TTL: dynalite has no
 * UpdateTimeToLive, so locally kept deliveries do not expire.
 */
export const ensureDeliveriesTable = (client: DynamoDBClient, tableName: string): Promise<void> =>
  ensureTable(client, tableName, { ...DELIVERIES_TABLE, indexes: [] });

const createQueue = async (
  client: SQSClient,
  name: string,
  attributes: Record<string, string>,
): Promise<string> => {
  const { QueueUrl } = await client.send(
    new CreateQueueCommand({ QueueName: name, Attributes: attributes }),
  );
  if (!QueueUrl) throw new Error(`CreateQueue returned no URL for ${name}`);
  return QueueUrl;
};

export const queueArn = async (client: SQSClient, queueUrl: string): Promise<string> => {
  const { Attributes } = await client.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
  );
  const arn = Attributes?.QueueArn;
  if (!arn) throw new Error(`No ARN for queue ${queueUrl}`);
  return arn;
};

export interface QueueUrls {
  url: string;
  deadLetterUrl: string;
}

/** A queue and its dead-letter queue, wired with the stack's redrive policy. */
const ensureQueuePair = async (
  client: SQSClient,
  definition: QueueDefinition,
  visibilityTimeoutSeconds: number,
): Promise<QueueUrls> => {
  const deadLetterUrl = await createQueue(client, definition.deadLetterQueue, {
    MessageRetentionPeriod: String(DEAD_LETTER_RETENTION_SECONDS),
  });
  const url = await createQueue(client, definition.name, {
    VisibilityTimeout: String(visibilityTimeoutSeconds),
    RedrivePolicy: JSON.stringify({
      deadLetterTargetArn: await queueArn(client, deadLetterUrl),
      maxReceiveCount: String(definition.maxReceiveCount),
    }),
  });
  return { url, deadLetterUrl };
};

export interface QueueOptions {
  /** Overrides both main queues' visibility timeout, so a failed batch comes back sooner (tests). */
  visibilityTimeoutSeconds?: number | undefined;
}

export const ensureQueues = async (client: SQSClient, options: QueueOptions = {}) => ({
  events: await ensureQueuePair(
    client,
    QUEUES.events,
    options.visibilityTimeoutSeconds ?? QUEUES.events.visibilityTimeoutSeconds,
  ),
  deliveries: await ensureQueuePair(
    client,
    QUEUES.deliveries,
    options.visibilityTimeoutSeconds ?? QUEUES.deliveries.visibilityTimeoutSeconds,
  ),
});
