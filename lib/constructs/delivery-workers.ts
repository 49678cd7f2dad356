import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Effect, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { BATCHING, FUNCTION_TIMEOUT_SECONDS } from '../resources.ts';
import { NodeFunction } from './node-function.ts';

export interface QueueWithDeadLetters {
  queue: IQueue;
  deadLetterQueue: IQueue;
}

export interface DeliveryWorkersProps {
  configTable: ITableV2;
  deliveriesTable: ITableV2;
  /** The aggregates each delivery batch adds to, and the settings that say where and how long. */
  analytics: { table: ITableV2; environment: Record<string, string> };
  events: QueueWithDeadLetters;
  deliveries: QueueWithDeadLetters;
  /** The delivery settings both workers read at cold start (functions/commons/delivery-settings.ts). */
  environment: Record<string, string>;
  /** How many delivery functions the deliveries queue keeps busy at most: the fleet's total outbound pressure. */
  deliveryConcurrency: number;
  /**
   * Circuit breakers, lanes and tenant shares: the settings both workers
   * read, the overflow lane (a queue the delivery function also consumes,
   * with a concurrency of its own) and whether the fan-out paces tenants.
   */
  isolation: {
    environment: Record<string, string>;
    overflow?: { queue: IQueue; concurrency: number } | undefined;
    tenantShares: boolean;
  };
  logRetention: RetentionDays;
  removalPolicy: RemovalPolicy;
}

const allow = (actions: string[], resources: string[]) =>
  new PolicyStatement({ effect: Effect.ALLOW, actions, resources });

/**
 * An SQS event source mapping with exactly the calls Lambda's pollers make on
 * the queue, made with the function's role: receive, delete, and the
 * attributes read when the mapping is created. (CDK's SqsEventSource would
 * also grant ChangeMessageVisibility and GetQueueUrl, which nothing calls.)
 * Failed messages are reported one by one, so one bad message never makes a
 * whole batch run again.
 */
const consume = (
  fn: NodeFunction,
  queue: IQueue,
  batching: { batchSize: number; maxBatchingWindowSeconds: number },
  maxConcurrency?: number,
  id = 'SqsEventSource',
) => {
  fn.addEventSourceMapping(id, {
    eventSourceArn: queue.queueArn,
    batchSize: batching.batchSize,
    maxBatchingWindow: Duration.seconds(batching.maxBatchingWindowSeconds),
    reportBatchItemFailures: true,
    ...(maxConcurrency === undefined ? {} : { maxConcurrency }),
  });
  fn.addToRolePolicy(
    allow(['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'], [queue.queueArn]),
  );
};

/**
 * The queue consumers: fan-out turns producers' events into one delivery job
 * per matching webhook, delivery sends them. Each role holds the calls its
 * handler and its event source mapping make, and no others: the local
 * runtime enforces these policies, and test/infra/grants-used.test.ts checks
 * them against what the handlers were seen to call.
 */
export class DeliveryWorkers extends Construct {
  readonly fanOutFunction: NodeFunction;
  readonly deliveryFunction: NodeFunction;

  constructor(scope: Construct, id: string, props: DeliveryWorkersProps) {
    super(scope, id);
    const { configTable, deliveriesTable, events, deliveries } = props;
    const { overflow, tenantShares } = props.isolation;
    const overflowQueues = overflow ? [overflow.queue.queueArn] : [];

    const fanOut = new NodeFunction(this, 'FanOutFunction', {
      handler: 'fan-out',
      description: 'Turns producers’ events into delivery jobs, one per matching webhook',
      timeout: Duration.seconds(FUNCTION_TIMEOUT_SECONDS.fanOut),
      environment: {
        ...props.environment,
        ...props.isolation.environment,
        EVENTS_DLQ_URL: events.deadLetterQueue.queueUrl,
        // Events beyond their tenant's share wait on the queue they came from.
        ...(tenantShares ? { EVENTS_QUEUE_URL: events.queue.queueUrl } : {}),
      },
      logRetention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });
    consume(fanOut, events.queue, BATCHING.events);
    // Each tenant's webhooks, one query per tenant and batch.
    fanOut.addToRolePolicy(allow(['dynamodb:Query'], [configTable.tableArn]));
    // The event's de-duplication item: a conditional put, and a read when it already exists.
    // Tenants' shares: one conditional update of the tenant's clock per batch.
    fanOut.addToRolePolicy(
      allow(
        ['dynamodb:PutItem', 'dynamodb:GetItem', ...(tenantShares ? ['dynamodb:UpdateItem'] : [])],
        [deliveriesTable.tableArn],
      ),
    );
    // Jobs out to their lanes, malformed events set aside, events beyond their
    // tenant's share back to wait; SendMessageBatch is authorized by sqs:SendMessage.
    fanOut.addToRolePolicy(
      allow(
        ['sqs:SendMessage'],
        [
          deliveries.queue.queueArn,
          ...overflowQueues,
          events.deadLetterQueue.queueArn,
          ...(tenantShares ? [events.queue.queueArn] : []),
        ],
      ),
    );

    const delivery = new NodeFunction(this, 'DeliveryFunction', {
      handler: 'delivery',
      description: 'Sends delivery jobs to the webhooks, records attempts, schedules retries',
      timeout: Duration.seconds(FUNCTION_TIMEOUT_SECONDS.delivery),
      environment: {
        ...props.environment,
        ...props.analytics.environment,
        ...props.isolation.environment,
      },
      logRetention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });
    consume(delivery, deliveries.queue, BATCHING.deliveries, props.deliveryConcurrency);
    // The overflow lane: the same function, from a mapping whose concurrency is its own.
    if (overflow) {
      consume(
        delivery,
        overflow.queue,
        BATCHING.deliveries,
        overflow.concurrency,
        'OverflowEventSource',
      );
    }
    // The batch's webhooks in one read; their counters, auto-disable, circuits and lanes as updates.
    delivery.addToRolePolicy(
      allow(['dynamodb:BatchGetItem', 'dynamodb:UpdateItem'], [configTable.tableArn]),
    );
    // Claims attempts (put, conditional updates, reads), writes a batch's results
    // together (BatchWriteItem), marks held-back deliveries, and keeps the rate-limit state.
    delivery.addToRolePolicy(
      allow(
        ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:BatchWriteItem'],
        [deliveriesTable.tableArn],
      ),
    );
    // A batch's analytics: one ADD per webhook and hour, and per tenant and hour.
    delivery.addToRolePolicy(allow(['dynamodb:UpdateItem'], [props.analytics.table.tableArn]));
    // Retries and held jobs back onto a lane, abandoned deliveries into the dead-letter queue.
    delivery.addToRolePolicy(
      allow(
        ['sqs:SendMessage'],
        [deliveries.queue.queueArn, ...overflowQueues, deliveries.deadLetterQueue.queueArn],
      ),
    );

    this.fanOutFunction = fanOut;
    this.deliveryFunction = delivery;
  }
}
