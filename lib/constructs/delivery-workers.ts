import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Effect, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
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
  events: QueueWithDeadLetters;
  deliveries: QueueWithDeadLetters;
  /** The delivery settings both workers read at cold start (functions/commons/delivery-settings.ts). */
  environment: Record<string, string>;
  /** How many delivery functions the deliveries queue keeps busy at most: the fleet's total outbound pressure. */
  deliveryConcurrency: number;
  logRetention: RetentionDays;
  removalPolicy: RemovalPolicy;
}

const allow = (actions: string[], resources: string[]) =>
  new PolicyStatement({ effect: Effect.ALLOW, actions, resources });

/**
 * The queue consumers: fan-out turns producers' events into one delivery job
 * per matching webhook, delivery sends them. Both report failed messages one
 * by one, so one bad message never makes a whole batch run again. Each role
 * holds the calls its handler makes and no others; the event source mapping
 * adds the receive and delete calls on the queue it reads.
 */
export class DeliveryWorkers extends Construct {
  readonly fanOutFunction: NodeFunction;
  readonly deliveryFunction: NodeFunction;

  constructor(scope: Construct, id: string, props: DeliveryWorkersProps) {
    super(scope, id);
    const { configTable, deliveriesTable, events, deliveries } = props;

    const fanOut = new NodeFunction(this, 'FanOutFunction', {
      handler: 'fan-out',
      description: 'Turns producers’ events into delivery jobs, one per matching webhook',
      timeout: Duration.seconds(FUNCTION_TIMEOUT_SECONDS.fanOut),
      environment: { ...props.environment, EVENTS_DLQ_URL: events.deadLetterQueue.queueUrl },
      logRetention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });
    fanOut.addEventSource(
      new SqsEventSource(events.queue, {
        batchSize: BATCHING.events.batchSize,
        maxBatchingWindow: Duration.seconds(BATCHING.events.maxBatchingWindowSeconds),
        reportBatchItemFailures: true,
      }),
    );
    // Each tenant's webhooks, one query per tenant and batch.
    fanOut.addToRolePolicy(allow(['dynamodb:Query'], [configTable.tableArn]));
    // The event's de-duplication item: a conditional put, and a read when it already exists.
    fanOut.addToRolePolicy(
      allow(['dynamodb:PutItem', 'dynamodb:GetItem'], [deliveriesTable.tableArn]),
    );
    // Jobs out, malformed events set aside; SendMessageBatch is authorized by sqs:SendMessage.
    fanOut.addToRolePolicy(
      allow(['sqs:SendMessage'], [deliveries.queue.queueArn, events.deadLetterQueue.queueArn]),
    );

    const delivery = new NodeFunction(this, 'DeliveryFunction', {
      handler: 'delivery',
      description: 'Sends delivery jobs to the webhooks, records attempts, schedules retries',
      timeout: Duration.seconds(FUNCTION_TIMEOUT_SECONDS.delivery),
      environment: props.environment,
      logRetention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });
    delivery.addEventSource(
      new SqsEventSource(deliveries.queue, {
        batchSize: BATCHING.deliveries.batchSize,
        maxBatchingWindow: Duration.seconds(BATCHING.deliveries.maxBatchingWindowSeconds),
        reportBatchItemFailures: true,
        maxConcurrency: props.deliveryConcurrency,
      }),
    );
    // The batch's webhooks in one read; their counters and auto-disable as updates.
    delivery.addToRolePolicy(
      allow(['dynamodb:BatchGetItem', 'dynamodb:UpdateItem'], [configTable.tableArn]),
    );
    // Claims and records attempts (put, conditional updates, reads), and the rate-limit state.
    delivery.addToRolePolicy(
      allow(
        ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
        [deliveriesTable.tableArn],
      ),
    );
    // Retries back onto the deliveries queue, abandoned deliveries into its dead-letter queue.
    delivery.addToRolePolicy(
      allow(['sqs:SendMessage'], [deliveries.queue.queueArn, deliveries.deadLetterQueue.queueArn]),
    );

    this.fanOutFunction = fanOut;
    this.deliveryFunction = delivery;
  }
}
