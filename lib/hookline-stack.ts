import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import { AttributeType, Billing, TableEncryptionV2, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Effect, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { NodeFunction } from './constructs/node-function.ts';
import { WebhooksApi } from './constructs/webhooks-api.ts';
import {
  API,
  CONFIG_TABLE,
  DEAD_LETTER_RETENTION_SECONDS,
  FUNCTION_TIMEOUT_SECONDS,
  QUEUES,
  type QueueDefinition,
} from './resources.ts';

export interface HooklineStackProps extends StackProps {
  /** Per-key throttling of the management API. */
  throttle?: { rateLimit: number; burstLimit: number };
  authorizerCacheTtlSeconds?: number;
  retryAfterSeconds?: number;
  maxWebhooksPerTenant?: number;
  logRetention?: RetentionDays;
  /** RETAIN (default) keeps the table and logs when the stack is deleted. */
  removalPolicy?: RemovalPolicy;
}

const checkRange = (
  name: string,
  value: number | undefined,
  min: number,
  max: number,
  integer = true,
) => {
  if (value === undefined) return;
  if (
    !Number.isFinite(value) ||
    value < min ||
    value > max ||
    (integer && !Number.isInteger(value))
  ) {
    throw new Error(
      `${name} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}; got ${value}`,
    );
  }
};

/**
 * Hookline on AWS: the config table, the ingest and delivery queues with
 * their dead-letter queues, and the management API with its authorizer.
 */
export class HooklineStack extends Stack {
  constructor(scope: Construct, id: string, props: HooklineStackProps = {}) {
    super(scope, id, props);
    checkRange('throttle.rateLimit', props.throttle?.rateLimit, 0.001, 10_000, false);
    checkRange('throttle.burstLimit', props.throttle?.burstLimit, 0, 5000);
    checkRange('authorizerCacheTtlSeconds', props.authorizerCacheTtlSeconds, 0, 3600);
    checkRange('retryAfterSeconds', props.retryAfterSeconds, 1, 86_400);
    checkRange('maxWebhooksPerTenant', props.maxWebhooksPerTenant, 1, 100_000);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const logRetention = props.logRetention ?? RetentionDays.ONE_MONTH;

    const table = new TableV2(this, 'ConfigTable', {
      partitionKey: { name: CONFIG_TABLE.partitionKey, type: AttributeType.STRING },
      sortKey: { name: CONFIG_TABLE.sortKey, type: AttributeType.STRING },
      globalSecondaryIndexes: CONFIG_TABLE.indexes.map((index) => ({
        indexName: index.name,
        partitionKey: { name: index.partitionKey, type: AttributeType.STRING },
        sortKey: { name: index.sortKey, type: AttributeType.STRING },
      })),
      billing: Billing.onDemand(),
      encryption: TableEncryptionV2.awsManagedKey(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: removalPolicy === RemovalPolicy.RETAIN,
      removalPolicy,
    });

    const queues = {
      events: this.queueWithDeadLetters('Events', QUEUES.events),
      deliveries: this.queueWithDeadLetters('Deliveries', QUEUES.deliveries),
    };

    const authorizerFunction = new NodeFunction(this, 'AuthorizerFunction', {
      handler: 'authorizer',
      description: 'Maps X-API-Key to a tenant and its permissions',
      timeout: Duration.seconds(FUNCTION_TIMEOUT_SECONDS.authorizer),
      memorySize: 256,
      environment: { TABLE_NAME: table.tableName },
      logRetention,
      removalPolicy,
    });
    authorizerFunction.addToRolePolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        actions: ['dynamodb:GetItem'],
        resources: [table.tableArn],
      }),
    );

    const apiFunction = new NodeFunction(this, 'ApiFunction', {
      handler: 'api',
      description: 'Webhook management API (every route under /api/v1/webhooks)',
      timeout: Duration.seconds(FUNCTION_TIMEOUT_SECONDS.api),
      environment: {
        TABLE_NAME: table.tableName,
        MAX_WEBHOOKS_PER_TENANT: String(props.maxWebhooksPerTenant ?? 1000),
      },
      logRetention,
      removalPolicy,
    });
    apiFunction.addToRolePolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        actions: [
          'dynamodb:GetItem',
          'dynamodb:Query',
          'dynamodb:PutItem',
          'dynamodb:UpdateItem',
          'dynamodb:DeleteItem',
        ],
        resources: [table.tableArn],
      }),
    );

    const api = new WebhooksApi(this, 'WebhooksApi', {
      apiFunction,
      authorizerFunction,
      throttle: props.throttle ?? API.throttle,
      authorizerCacheTtlSeconds: props.authorizerCacheTtlSeconds ?? API.authorizerCacheTtlSeconds,
      retryAfterSeconds: props.retryAfterSeconds ?? API.retryAfterSeconds,
      logRetention,
      removalPolicy,
    });

    new CfnOutput(this, 'ApiUrl', {
      value: `${api.api.url}${API.basePath.join('/')}`,
      description: 'Base URL of the webhook API',
    });
    new CfnOutput(this, 'ConfigTableName', { value: table.tableName });
    new CfnOutput(this, 'UsagePlanId', { value: api.usagePlan.usagePlanId });
    new CfnOutput(this, 'EventsQueueUrl', { value: queues.events.queueUrl });
    new CfnOutput(this, 'DeliveriesQueueUrl', { value: queues.deliveries.queueUrl });
  }

  private queueWithDeadLetters(id: string, definition: QueueDefinition): Queue {
    const deadLetterQueue = new Queue(this, `${id}DeadLetterQueue`, {
      retentionPeriod: Duration.seconds(DEAD_LETTER_RETENTION_SECONDS),
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    return new Queue(this, `${id}Queue`, {
      visibilityTimeout: Duration.seconds(definition.visibilityTimeoutSeconds),
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: definition.maxReceiveCount },
    });
  }
}
