import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { SQSClient } from '@aws-sdk/client-sqs';
import middy from '@middy/core';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { FUNCTION_TIMEOUT_SECONDS } from '../../lib/resources.ts';
import { createDocumentClient } from '../commons/clients.ts';
import { requireEnv } from '../commons/config.ts';
import { deliverySettings } from '../commons/delivery-settings.ts';
import { logger } from '../commons/logger.ts';
import { createSending } from '../delivery/sending.ts';
import { DeliveryProcessor } from '../domain/delivery/processor.ts';
import { SqsJobQueue } from '../queues/sqs.ts';
import { DeliveryRepository } from '../repositories/deliveries.ts';
import { RateLimitRepository } from '../repositories/rate-limits.ts';
import { WebhookRepository } from '../repositories/webhooks.ts';
import { batchResponse, logTo, messagesOf } from './sqs-batch.ts';

/** Delivery jobs (the webhook-deliveries queue) → signed HTTP requests, history, retries. */

export const createDeliveryHandler =
  (processor: DeliveryProcessor) =>
  async (event: SQSEvent): Promise<SQSBatchResponse> =>
    batchResponse(await processor.process(messagesOf(event)));

const settings = deliverySettings();
const db = createDocumentClient();
const sending = createSending(settings);

const processor = new DeliveryProcessor(
  {
    ...sending,
    store: new DeliveryRepository(db, settings.deliveriesTableName, settings.retentionMs),
    webhooks: new WebhookRepository(db, settings.tableName),
    queue: new SqsJobQueue(
      new SQSClient({}),
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

export const handler = middy<SQSEvent, SQSBatchResponse>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler(createDeliveryHandler(processor));
