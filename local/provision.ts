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
  QUEUES,
  type QueueDefinition,
} from '../lib/resources.ts';

/**
 * Creates what the stack defines (lib/resources.ts) through the ordinary AWS
 * APIs, so it works the same against the emulators, LocalStack or an AWS
 * account. Existing resources are left as they are.
 */

export const ensureConfigTable = async (
  client: DynamoDBClient,
  tableName: string,
): Promise<void> => {
  try {
    await client.send(new DescribeTableCommand({ TableName: tableName }));
    return;
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw error;
  }
  const keyAttributes = [
    CONFIG_TABLE.partitionKey,
    CONFIG_TABLE.sortKey,
    ...CONFIG_TABLE.indexes.flatMap((index) => [index.partitionKey, index.sortKey]),
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
        { AttributeName: CONFIG_TABLE.partitionKey, KeyType: 'HASH' },
        { AttributeName: CONFIG_TABLE.sortKey, KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: CONFIG_TABLE.indexes.map((index) => ({
        IndexName: index.name,
        KeySchema: [
          { AttributeName: index.partitionKey, KeyType: 'HASH' },
          { AttributeName: index.sortKey, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'ALL' },
      })),
    }),
  );
  await waitUntilTableExists({ client, maxWaitTime: 120, minDelay: 1 }, { TableName: tableName });
};

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

const queueArn = async (client: SQSClient, queueUrl: string): Promise<string> => {
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
): Promise<QueueUrls> => {
  const deadLetterUrl = await createQueue(client, definition.deadLetterQueue, {
    MessageRetentionPeriod: String(DEAD_LETTER_RETENTION_SECONDS),
  });
  const url = await createQueue(client, definition.name, {
    VisibilityTimeout: String(definition.visibilityTimeoutSeconds),
    RedrivePolicy: JSON.stringify({
      deadLetterTargetArn: await queueArn(client, deadLetterUrl),
      maxReceiveCount: String(definition.maxReceiveCount),
    }),
  });
  return { url, deadLetterUrl };
};

export const ensureQueues = async (client: SQSClient) => ({
  events: await ensureQueuePair(client, QUEUES.events),
  deliveries: await ensureQueuePair(client, QUEUES.deliveries),
});
