import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import { AttributeType, Billing, TableEncryptionV2, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Effect, ManagedPolicy, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { DeliveryWorkers, type QueueWithDeadLetters } from './constructs/delivery-workers.ts';
import { Monitoring } from './constructs/monitoring.ts';
import { NodeFunction } from './constructs/node-function.ts';
import { WebhooksApi } from './constructs/webhooks-api.ts';
import { markForLocalRuntime } from './local-metadata.ts';
import {
  ALARM_THRESHOLDS,
  ANALYTICS_TABLE,
  API,
  CONFIG_TABLE,
  DEAD_LETTER_RETENTION_SECONDS,
  DELIVERIES_TABLE,
  FUNCTION_TIMEOUT_SECONDS,
  ISOLATION,
  OVERFLOW_QUEUE,
  QUEUES,
  type QueueDefinition,
} from './resources.ts';

export interface HooklineStackProps extends StackProps {
  /** Per-key throttling of the management API. */
  throttle?: { rateLimit: number; burstLimit: number };
  authorizerCacheTtlSeconds?: number;
  retryAfterSeconds?: number;
  maxWebhooksPerTenant?: number;
  /** Days delivery history and event de-duplication are kept (1 to 365, default 30). */
  deliveryRetentionDays?: number;
  /** Calendar months delivery analytics are kept (1 to 120, default 13), then expired by TTL. */
  analyticsRetentionMonths?: number;
  /** Hours of unbroken failure after which a webhook is switched off (1 to 2160, default 24). */
  autoDisableAfterHours?: number;
  /** Lets webhooks target loopback, private and metadata addresses: for test setups only. */
  allowPrivateTargets?: boolean;
  /** Most delivery functions the deliveries queue runs at once (2 to 1000, default 50). */
  deliveryConcurrency?: number;
  /**
   * Circuit breakers, the overflow lane and tenant shares (lib/resources.ts,
   * ISOLATION, gives each one's meaning, default and range).
   */
  isolation?: Partial<Record<keyof typeof ISOLATION, number | undefined>>;
  logRetention?: RetentionDays;
  /** Where alarms are mailed besides their SNS topic. */
  alarmEmail?: string | undefined;
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

/** The settings given, without the keys left undefined (so the defaults stand). */
const definedOnly = <T extends Record<string, number | undefined>>(values: T) =>
  Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined)) as {
    [K in keyof T]?: number;
  };

/**
 * Hookline on AWS: the config and deliveries tables, the ingest and delivery
 * queues with their dead-letter queues and their consumers, and the
 * management API with its authorizer.
 */
export class HooklineStack extends Stack {
  constructor(scope: Construct, id: string, props: HooklineStackProps = {}) {
    super(scope, id, props);
    checkRange('throttle.rateLimit', props.throttle?.rateLimit, 0.001, 10_000, false);
    checkRange('throttle.burstLimit', props.throttle?.burstLimit, 0, 5000);
    checkRange('authorizerCacheTtlSeconds', props.authorizerCacheTtlSeconds, 0, 3600);
    checkRange('retryAfterSeconds', props.retryAfterSeconds, 1, 86_400);
    checkRange('maxWebhooksPerTenant', props.maxWebhooksPerTenant, 1, 100_000);
    checkRange('deliveryRetentionDays', props.deliveryRetentionDays, 1, 365);
    checkRange(
      'analyticsRetentionMonths',
      props.analyticsRetentionMonths,
      ANALYTICS_TABLE.retentionMonths.min,
      ANALYTICS_TABLE.retentionMonths.max,
    );
    checkRange('autoDisableAfterHours', props.autoDisableAfterHours, 1, 24 * 90);
    checkRange('deliveryConcurrency', props.deliveryConcurrency, 2, 1000);
    const given = definedOnly(props.isolation ?? {});
    const isolation = {
      ...ISOLATION,
      // A lower failure threshold brings the timeout threshold down with it, unless it is given.
      circuitTimeoutThreshold: Math.min(
        ISOLATION.circuitTimeoutThreshold,
        Math.max(1, given.circuitFailureThreshold ?? ISOLATION.circuitFailureThreshold),
      ),
      ...given,
    };
    checkRange('circuitFailureThreshold', isolation.circuitFailureThreshold, 0, 100);
    checkRange(
      'circuitTimeoutThreshold',
      isolation.circuitTimeoutThreshold,
      1,
      Math.max(1, isolation.circuitFailureThreshold),
    );
    checkRange('circuitOpenSeconds', isolation.circuitOpenSeconds, 1, 3600);
    checkRange(
      'circuitMaxOpenSeconds',
      isolation.circuitMaxOpenSeconds,
      isolation.circuitOpenSeconds,
      86_400,
    );
    checkRange('slowReceiverMs', isolation.slowReceiverMs, 100, 30_000);
    // 0: no overflow lane; otherwise at least 2, Lambda's least MaximumConcurrency.
    if (isolation.overflowConcurrency === 1) {
      throw new Error('overflowConcurrency must be 0 (no overflow lane) or from 2 to 1000; got 1');
    }
    checkRange('overflowConcurrency', isolation.overflowConcurrency, 0, 1000);
    checkRange('tenantEventsPerSecond', isolation.tenantEventsPerSecond, 0, 1000);
    checkRange('tenantBurst', isolation.tenantBurst, 1, 100_000);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const logRetention = props.logRetention ?? RetentionDays.ONE_MONTH;

    const tableDefaults = {
      billing: Billing.onDemand(),
      encryption: TableEncryptionV2.awsManagedKey(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: removalPolicy === RemovalPolicy.RETAIN,
      removalPolicy,
    };
    const table = new TableV2(this, 'ConfigTable', {
      partitionKey: { name: CONFIG_TABLE.partitionKey, type: AttributeType.STRING },
      sortKey: { name: CONFIG_TABLE.sortKey, type: AttributeType.STRING },
      globalSecondaryIndexes: CONFIG_TABLE.indexes.map((index) => ({
        indexName: index.name,
        partitionKey: { name: index.partitionKey, type: AttributeType.STRING },
        sortKey: { name: index.sortKey, type: AttributeType.STRING },
      })),
      ...tableDefaults,
    });
    markForLocalRuntime(table, { name: CONFIG_TABLE.localName });
    const deliveriesTable = new TableV2(this, 'DeliveriesTable', {
      partitionKey: { name: DELIVERIES_TABLE.partitionKey, type: AttributeType.STRING },
      sortKey: { name: DELIVERIES_TABLE.sortKey, type: AttributeType.STRING },
      timeToLiveAttribute: DELIVERIES_TABLE.timeToLiveAttribute,
      ...tableDefaults,
    });
    markForLocalRuntime(deliveriesTable, { name: DELIVERIES_TABLE.localName });
    const analyticsTable = new TableV2(this, 'AnalyticsTable', {
      partitionKey: { name: ANALYTICS_TABLE.partitionKey, type: AttributeType.STRING },
      sortKey: { name: ANALYTICS_TABLE.sortKey, type: AttributeType.STRING },
      timeToLiveAttribute: ANALYTICS_TABLE.timeToLiveAttribute,
      ...tableDefaults,
    });
    markForLocalRuntime(analyticsTable, { name: ANALYTICS_TABLE.localName });
    // What the functions that add to or read the aggregates read (functions/commons/analytics-settings.ts).
    const analyticsEnvironment = {
      ANALYTICS_TABLE_NAME: analyticsTable.tableName,
      ANALYTICS_RETENTION_MONTHS: String(
        props.analyticsRetentionMonths ?? ANALYTICS_TABLE.retentionMonths.default,
      ),
    };

    const queues = {
      events: this.queueWithDeadLetters('Events', QUEUES.events),
      deliveries: this.queueWithDeadLetters('Deliveries', QUEUES.deliveries),
    };
    // The overflow lane's jobs dead-letter where the standard lane's do: one place to look.
    const overflowQueue =
      isolation.overflowConcurrency > 0
        ? new Queue(this, 'DeliveriesOverflowQueue', {
            visibilityTimeout: Duration.seconds(OVERFLOW_QUEUE.visibilityTimeoutSeconds),
            encryption: QueueEncryption.SQS_MANAGED,
            enforceSSL: true,
            deadLetterQueue: {
              queue: queues.deliveries.deadLetterQueue,
              maxReceiveCount: OVERFLOW_QUEUE.maxReceiveCount,
            },
          })
        : undefined;
    if (overflowQueue) markForLocalRuntime(overflowQueue, { name: OVERFLOW_QUEUE.name });

    // What every function that sends or records deliveries reads (functions/commons/delivery-settings.ts).
    const deliveryEnvironment = {
      TABLE_NAME: table.tableName,
      DELIVERIES_TABLE_NAME: deliveriesTable.tableName,
      DELIVERIES_QUEUE_URL: queues.deliveries.queue.queueUrl,
      DELIVERIES_DLQ_URL: queues.deliveries.deadLetterQueue.queueUrl,
      DELIVERY_RETENTION_DAYS: String(props.deliveryRetentionDays ?? 30),
      ALLOW_PRIVATE_TARGETS: String(props.allowPrivateTargets ?? false),
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
      description: 'Hookline API (every route under /api/v1: webhooks, events, openapi.json)',
      timeout: Duration.seconds(FUNCTION_TIMEOUT_SECONDS.api),
      environment: {
        ...deliveryEnvironment,
        MAX_WEBHOOKS_PER_TENANT: String(props.maxWebhooksPerTenant ?? 1000),
        EVENTS_QUEUE_URL: queues.events.queue.queueUrl,
        ...analyticsEnvironment,
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
    // Delivery history, manual retries (a conditional update) and synchronous tests (a put).
    apiFunction.addToRolePolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        actions: ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
        resources: [deliveriesTable.tableArn],
      }),
    );
    // Analytics: the hours and days of a range; a day that is over is written once,
    // summed from its hours, the first time it is read.
    apiFunction.addToRolePolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        actions: ['dynamodb:Query', 'dynamodb:BatchWriteItem'],
        resources: [analyticsTable.tableArn],
      }),
    );
    // A manual retry is queued as a job; the API never dead-letters. POST /events
    // queues producers' events (SendMessageBatch is authorized as SendMessage).
    apiFunction.addToRolePolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        actions: ['sqs:SendMessage'],
        resources: [queues.deliveries.queue.queueArn, queues.events.queue.queueArn],
      }),
    );

    const workers = new DeliveryWorkers(this, 'Workers', {
      configTable: table,
      deliveriesTable,
      analytics: { table: analyticsTable, environment: analyticsEnvironment },
      ...queues,
      environment: {
        ...deliveryEnvironment,
        AUTO_DISABLE_AFTER_HOURS: String(props.autoDisableAfterHours ?? 24),
      },
      deliveryConcurrency: props.deliveryConcurrency ?? 50,
      isolation: {
        // What the workers read (functions/commons/isolation-settings.ts).
        environment: {
          CIRCUIT_FAILURE_THRESHOLD: String(isolation.circuitFailureThreshold),
          CIRCUIT_TIMEOUT_THRESHOLD: String(isolation.circuitTimeoutThreshold),
          CIRCUIT_OPEN_SECONDS: String(isolation.circuitOpenSeconds),
          CIRCUIT_MAX_OPEN_SECONDS: String(isolation.circuitMaxOpenSeconds),
          SLOW_RECEIVER_MS: String(isolation.slowReceiverMs),
          TENANT_EVENTS_PER_SECOND: String(isolation.tenantEventsPerSecond),
          TENANT_BURST: String(isolation.tenantBurst),
          ...(overflowQueue ? { DELIVERIES_OVERFLOW_QUEUE_URL: overflowQueue.queueUrl } : {}),
        },
        overflow: overflowQueue && {
          queue: overflowQueue,
          concurrency: isolation.overflowConcurrency,
        },
        tenantShares: isolation.tenantEventsPerSecond > 0,
      },
      logRetention,
      removalPolicy,
    });

    const api = new WebhooksApi(this, 'WebhooksApi', {
      apiFunction,
      authorizerFunction,
      throttle: props.throttle ?? API.throttle,
      authorizerCacheTtlSeconds: props.authorizerCacheTtlSeconds ?? API.authorizerCacheTtlSeconds,
      retryAfterSeconds: props.retryAfterSeconds ?? API.retryAfterSeconds,
      logRetention,
      removalPolicy,
    });

    new Monitoring(this, 'Monitoring', {
      queues: [
        {
          name: 'EventsQueue',
          queue: queues.events.queue,
          deadLetters: false,
          maxAgeSeconds: ALARM_THRESHOLDS.ingestAgeSeconds,
        },
        {
          name: 'DeliveriesQueue',
          queue: queues.deliveries.queue,
          deadLetters: false,
          maxAgeSeconds: ALARM_THRESHOLDS.deliveriesAgeSeconds,
        },
        ...(overflowQueue
          ? [
              {
                name: 'DeliveriesOverflowQueue',
                queue: overflowQueue,
                deadLetters: false,
                maxAgeSeconds: ALARM_THRESHOLDS.deliveriesAgeSeconds,
              },
            ]
          : []),
        {
          name: 'EventsDeadLetterQueue',
          queue: queues.events.deadLetterQueue,
          deadLetters: true,
          maxAgeSeconds: ALARM_THRESHOLDS.deadLetterAgeSeconds,
        },
        {
          name: 'DeliveriesDeadLetterQueue',
          queue: queues.deliveries.deadLetterQueue,
          deadLetters: true,
          maxAgeSeconds: ALARM_THRESHOLDS.deadLetterAgeSeconds,
        },
      ],
      functions: [
        { name: 'Api', fn: apiFunction },
        { name: 'Authorizer', fn: authorizerFunction },
        { name: 'FanOut', fn: workers.fanOutFunction },
        { name: 'Delivery', fn: workers.deliveryFunction },
      ],
      authorizer: authorizerFunction,
      api: api.api,
      alarmEmail: props.alarmEmail,
    });

    // What a producer's role attaches to send events, and nothing else.
    const producerPolicy = new ManagedPolicy(this, 'ProducerPolicy', {
      description: 'Lets a producer send events to the Hookline ingest queue, and nothing else',
      statements: [
        new PolicyStatement({
          effect: Effect.ALLOW,
          actions: ['sqs:SendMessage'],
          resources: [queues.events.queue.queueArn],
        }),
      ],
    });

    new CfnOutput(this, 'ProducerPolicyArn', {
      value: producerPolicy.managedPolicyArn,
      description: 'Attach to a producer role: sqs:SendMessage on the ingest queue alone',
    });
    new CfnOutput(this, 'ApiUrl', {
      value: `${api.api.url}${API.basePath.join('/')}`,
      description: 'Base URL of the webhook API',
    });
    new CfnOutput(this, 'ConfigTableName', { value: table.tableName });
    new CfnOutput(this, 'UsagePlanId', { value: api.usagePlan.usagePlanId });
    new CfnOutput(this, 'DeliveriesTableName', { value: deliveriesTable.tableName });
    new CfnOutput(this, 'AnalyticsTableName', { value: analyticsTable.tableName });
    new CfnOutput(this, 'EventsQueueUrl', { value: queues.events.queue.queueUrl });
    new CfnOutput(this, 'DeliveriesQueueUrl', { value: queues.deliveries.queue.queueUrl });
    if (overflowQueue) {
      new CfnOutput(this, 'DeliveriesOverflowQueueUrl', { value: overflowQueue.queueUrl });
    }
    new CfnOutput(this, 'EventsDeadLetterQueueUrl', {
      value: queues.events.deadLetterQueue.queueUrl,
    });
    new CfnOutput(this, 'DeliveriesDeadLetterQueueUrl', {
      value: queues.deliveries.deadLetterQueue.queueUrl,
    });
  }

  private queueWithDeadLetters(id: string, definition: QueueDefinition): QueueWithDeadLetters {
    const deadLetterQueue = new Queue(this, `${id}DeadLetterQueue`, {
      retentionPeriod: Duration.seconds(DEAD_LETTER_RETENTION_SECONDS),
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    markForLocalRuntime(deadLetterQueue, { name: definition.deadLetterQueue });
    const queue = new Queue(this, `${id}Queue`, {
      visibilityTimeout: Duration.seconds(definition.visibilityTimeoutSeconds),
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: definition.maxReceiveCount },
    });
    markForLocalRuntime(queue, { name: definition.name });
    return { queue, deadLetterQueue };
  }
}
