import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { SQSClient } from '@aws-sdk/client-sqs';
import middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { createDocumentClient } from '../commons/clients.ts';
import { integerEnv, requireEnv } from '../commons/config.ts';
import { deliverySettings } from '../commons/delivery-settings.ts';
import { logger } from '../commons/logger.ts';
import { createSending } from '../delivery/sending.ts';
import { DeliveryService } from '../domain/delivery/service.ts';
import { errorSummary } from '../domain/errors.ts';
import { WebhookService } from '../domain/webhooks/service.ts';
import { bodyLimit, errorEnvelope } from '../http/middlewares.ts';
import { createRouter } from '../http/router.ts';
import { SqsJobQueue } from '../queues/sqs.ts';
import { DeliveryRepository } from '../repositories/deliveries.ts';
import { WebhookRepository } from '../repositories/webhooks.ts';
import { apiRoutes } from '../routes/table.ts';

/** The management API: every route under /api/v1/webhooks. */

const MAX_BODY_BYTES = 256 * 1024;

const settings = deliverySettings();
const db = createDocumentClient();
const repository = new WebhookRepository(db, settings.tableName, (error) =>
  logger.error('A stored webhook is unreadable; lists leave it out', {
    error: errorSummary(error),
  }),
);
const webhooks = new WebhookService(repository, {
  maxWebhooksPerTenant: integerEnv('MAX_WEBHOOKS_PER_TENANT', 1000, { min: 1 }),
});
const history = new DeliveryRepository(db, settings.deliveriesTableName, settings.retentionMs);
const deliveries = new DeliveryService(
  history,
  new SqsJobQueue(
    new SQSClient({}),
    requireEnv('DELIVERIES_QUEUE_URL'),
    requireEnv('DELIVERIES_DLQ_URL'),
  ),
  createSending(settings),
  { retentionMs: settings.retentionMs },
);
const route = createRouter(apiRoutes({ webhooks, deliveries, history }));

export const handler = middy<APIGatewayProxyEvent, APIGatewayProxyResult>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(bodyLimit(MAX_BODY_BYTES))
  .use(errorEnvelope(logger))
  .handler((event) => route(event));
