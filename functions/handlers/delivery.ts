import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import middy from '@middy/core';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { FUNCTION_TIMEOUT_SECONDS } from '../../lib/resources.ts';
import { createDocumentClient } from '../commons/clients.ts';
import { requireEnv } from '../commons/config.ts';
import { type DeliverySettings, deliverySettings } from '../commons/delivery-settings.ts';
import { logger } from '../commons/logger.ts';
import { createSending } from '../delivery/sending.ts';
import type { AttemptDependencies } from '../domain/delivery/attempt.ts';
import { DeliveryWorker } from '../domain/delivery/worker.ts';
import { SqsJobQueue } from '../queues/sqs.ts';
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
export const deliveryFunction = (clients: DeliveryFunctionClients, settings: DeliverySettings) => {
  const { db, sqs, sending } = clients;
  const worker = new DeliveryWorker(
    {
      ...sending,
      store: new DeliveryRepository(db, settings.deliveriesTableName, settings.retentionMs),
      webhooks: new WebhookRepository(db, settings.tableName),
      queue: new SqsJobQueue(
        sqs,
        requireEnv('DELIVERIES_QUEUE_URL'),
        requireEnv('DELIVERIES_DLQ_URL'),
      ),
      rateLimiter: new RateLimitRepository(db, settings.deliveriesTableName),
    },
    {
      autoDisableAfterMs: settings.autoDisableAfterMs,
      retentionMs: settings.retentionMs,
      // An attempt still marked in flight after the function's timeout was cut off with it.
      staleAttemptMs: FUNCTION_TIMEOUT_SECONDS.delivery * 1000 + 30_000,
      log: logTo(logger),
    },
  );
  return middy<SQSEvent, SQSBatchResponse>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .handler(async (event) => batchResponse(await worker.process(messagesOf(event))));
};

const settings = deliverySettings();

export const handler = deliveryFunction(
  { db: createDocumentClient(), sqs: new SQSClient({}), sending: createSending(settings) },
  settings,
);
