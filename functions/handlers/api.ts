import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { createDocumentClient } from '../commons/clients.ts';
import { integerEnv, requireEnv } from '../commons/config.ts';
import { logger } from '../commons/logger.ts';
import { WebhookService } from '../domain/webhooks/service.ts';
import { bodyLimit, errorEnvelope } from '../http/middlewares.ts';
import { createRouter } from '../http/router.ts';
import { WebhookRepository } from '../repositories/webhooks.ts';
import { webhookRoutes } from '../routes/webhooks.ts';

/** The management API: every route under /api/v1/webhooks. */

const MAX_BODY_BYTES = 256 * 1024;

const tableName = requireEnv('TABLE_NAME');
const repository = new WebhookRepository(createDocumentClient(), tableName, (error) =>
  logger.error('A stored webhook is unreadable; lists leave it out', {
    error: { name: error.name, message: error.message },
  }),
);
const webhooks = new WebhookService(repository, {
  maxWebhooksPerTenant: integerEnv('MAX_WEBHOOKS_PER_TENANT', 1000, { min: 1 }),
});
const route = createRouter(webhookRoutes(webhooks));

export const handler = middy<APIGatewayProxyEvent, APIGatewayProxyResult>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(bodyLimit(MAX_BODY_BYTES))
  .use(errorEnvelope(logger))
  .handler((event) => route(event));
