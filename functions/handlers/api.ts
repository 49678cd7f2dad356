import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { SQSClient } from '@aws-sdk/client-sqs';
import middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { analyticsSettings } from '../commons/analytics-settings.ts';
import { createDocumentClient } from '../commons/clients.ts';
import { integerEnv, requireEnv } from '../commons/config.ts';
import { deliverySettings } from '../commons/delivery-settings.ts';
import { logger } from '../commons/logger.ts';
import { createSending } from '../delivery/sending.ts';
import { AnalyticsService } from '../domain/analytics/service.ts';
import type { DeliveryEvent } from '../domain/delivery/model.ts';
import { DeliveryService } from '../domain/delivery/service.ts';
import { errorSummary } from '../domain/errors.ts';
import { WebhookService } from '../domain/webhooks/service.ts';
import { bodyLimit, errorEnvelope } from '../http/middlewares.ts';
import { createRouter } from '../http/router.ts';
import { SqsJobQueue, sendInBatches } from '../queues/sqs.ts';
import { AnalyticsRepository } from '../repositories/analytics.ts';
import { DeliveryRepository } from '../repositories/deliveries.ts';
import { WebhookRepository } from '../repositories/webhooks.ts';
import { apiRoutes } from '../routes/table.ts';

/** The API: every route of the route table, under /api/v1 (webhooks, events, openapi.json). */

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
const sqs = new SQSClient({});
const eventsQueueUrl = requireEnv('EVENTS_QUEUE_URL');
const deliveries = new DeliveryService(
  history,
  new SqsJobQueue(sqs, requireEnv('DELIVERIES_QUEUE_URL'), requireEnv('DELIVERIES_DLQ_URL')),
  createSending(settings),
  { retentionMs: settings.retentionMs },
);
// Published events go on the ingest queue as a producer's messages would, one event each.
const events = {
  send: (published: readonly DeliveryEvent[]) =>
    sendInBatches(
      sqs,
      eventsQueueUrl,
      published.map((event) => ({ MessageBody: JSON.stringify(event) })),
    ),
};
const analyticsTable = analyticsSettings();
const analytics = new AnalyticsService(
  new AnalyticsRepository(db, analyticsTable.tableName, analyticsTable.retentionMonths),
  { log: (message, details) => logger.warn(message, details) },
);
const route = createRouter(apiRoutes({ webhooks, deliveries, history, events, analytics }));

export const handler = middy<APIGatewayProxyEvent, APIGatewayProxyResult>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(bodyLimit(MAX_BODY_BYTES))
  .use(errorEnvelope(logger))
  .handler((event) => route(event));
