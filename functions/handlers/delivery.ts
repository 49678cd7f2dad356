import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import middy from '@middy/core';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { FUNCTION_TIMEOUT_SECONDS } from '../../lib/resources.ts';
import { type AnalyticsSettings, analyticsSettings } from '../commons/analytics-settings.ts';
import { createDocumentClient } from '../commons/clients.ts';
import { requireEnv } from '../commons/config.ts';
import { type DeliverySettings, deliverySettings } from '../commons/delivery-settings.ts';
import { isolationSettings } from '../commons/isolation-settings.ts';
import { logger } from '../commons/logger.ts';
import { deliveryMetrics } from '../commons/metrics.ts';
import { createSending } from '../delivery/sending.ts';
import type { AttemptDependencies } from '../domain/delivery/attempt.ts';
import type { Lane } from '../domain/delivery/circuit.ts';
import { DeliveryWorker } from '../domain/delivery/worker.ts';
import { SqsJobQueue } from '../queues/sqs.ts';
import { AnalyticsRepository } from '../repositories/analytics.ts';
import { DeliveryRepository } from '../repositories/deliveries.ts';
import { RateLimitRepository } from '../repositories/rate-limits.ts';
import { WebhookRepository } from '../repositories/webhooks.ts';
import { batchResponse, logTo, messagesOf } from './sqs-batch.ts';

/** Delivery jobs (the webhook-deliveries queue) → signed HTTP requests, history, retries. */

export interface DeliveryFunctionClients {
  db: DynamoDBDocumentClient;
  sqs: SQSClient;
  sending: AttemptDependencies;
}

/** The function as deployed, on the given clients (the benchmark passes its own). */
export const deliveryFunction = (
  clients: DeliveryFunctionClients,
  settings: DeliverySettings,
  analytics: AnalyticsSettings,
) => {
  const { db, sqs, sending } = clients;
  const isolation = isolationSettings();
  const overflowUrl = process.env.DELIVERIES_OVERFLOW_QUEUE_URL || undefined;
  const webhooks = new WebhookRepository(db, settings.tableName);
  const deliveries = new DeliveryRepository(db, settings.deliveriesTableName, settings.retentionMs);
  const worker = new DeliveryWorker(
    {
      ...sending,
      store: deliveries,
      webhooks,
      queue: new SqsJobQueue(
        sqs,
        requireEnv('DELIVERIES_QUEUE_URL'),
        requireEnv('DELIVERIES_DLQ_URL'),
        overflowUrl,
      ),
      isolation: { circuits: webhooks, holds: deliveries },
      rateLimiter: new RateLimitRepository(db, settings.deliveriesTableName),
      analytics: new AnalyticsRepository(db, analytics.tableName, analytics.retentionMonths),
      metrics: deliveryMetrics,
    },
    {
      autoDisableAfterMs: settings.autoDisableAfterMs,
      retentionMs: settings.retentionMs,
      // An attempt still marked in flight after the function's timeout was cut off with it.
      staleAttemptMs: FUNCTION_TIMEOUT_SECONDS.delivery * 1000 + 30_000,
      log: logTo(logger),
      isolation,
    },
  );
  return middy<SQSEvent, SQSBatchResponse>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .handler(async (event) =>
      batchResponse(await worker.process(messagesOf(event), laneOf(event, overflowUrl))),
    );
};

/** Both lanes' mappings invoke this function; a batch's records all come from one queue. */
const laneOf = (event: SQSEvent, overflowUrl: string | undefined): Lane => {
  const source = event.Records[0]?.eventSourceARN;
  if (!overflowUrl || !source) return 'standard';
  // arn:aws:sqs:<region>:<account>:<name> and https://<host>/<account>/<name>
  const name = (text: string, separator: string) => text.slice(text.lastIndexOf(separator) + 1);
  return name(source, ':') === name(overflowUrl, '/') ? 'overflow' : 'standard';
};

const settings = deliverySettings();

export const handler = deliveryFunction(
  { db: createDocumentClient(), sqs: new SQSClient({}), sending: createSending(settings) },
  settings,
  analyticsSettings(),
);
