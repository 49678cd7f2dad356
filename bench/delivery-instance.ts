import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { analyticsSettings } from '../functions/commons/analytics-settings.ts';
import { createDocumentClient } from '../functions/commons/clients.ts';
import { deliverySettings } from '../functions/commons/delivery-settings.ts';
import { HttpSender } from '../functions/delivery/http-sender.ts';
import { OAuth2Tokens } from '../functions/delivery/oauth2.ts';
import { deliveryFunction } from '../functions/handlers/delivery.ts';
import { WebhookRepository } from '../functions/repositories/webhooks.ts';
import { FUNCTION_TIMEOUT_SECONDS } from '../lib/resources.ts';
import { lambdaContext } from '../local/lambda-context.ts';
import type { FakeDynamoDb, FakeSqs } from './fakes.ts';

/**
 * One delivery function instance as functions/handlers/delivery.ts builds
 * it, its clients answered by the fakes: own SDK clients and HTTP sender
 * (own keep-alive pool), the same middy chain, invoked with a Lambda
 * context. Import after the environment is set: the handler module and the
 * logger read it at import, as on Lambda.
 */

const FUNCTION_NAME = 'hookline-delivery';
const TIMEOUT_MS = FUNCTION_TIMEOUT_SECONDS.delivery * 1000;

export interface DeliveryInstance {
  invoke(event: SQSEvent): Promise<SQSBatchResponse>;
  /** For setting up webhooks through the real repository. */
  webhooks: WebhookRepository;
  close(): Promise<void>;
}

export const newDeliveryInstance = (dynamo: FakeDynamoDb, sqs: FakeSqs): DeliveryInstance => {
  const settings = deliverySettings();
  const dynamoClient = new DynamoDBClient({});
  dynamo.attach(dynamoClient);
  const db = createDocumentClient(dynamoClient);
  const sqsClient = new SQSClient({});
  sqs.attach(sqsClient);
  // What createSending(settings) builds, kept in hand so its pools can be closed.
  const sender = new HttpSender({
    allowPrivateTargets: settings.allowPrivateTargets,
    userAgent: settings.userAgent,
  });
  const webhooks = new WebhookRepository(db, settings.tableName);
  const handler = deliveryFunction(
    {
      db,
      sqs: sqsClient,
      sending: { sender, tokens: new OAuth2Tokens(sender), userAgent: settings.userAgent },
    },
    settings,
    analyticsSettings(),
  );

  return {
    invoke: (event) => handler(event, lambdaContext(FUNCTION_NAME, TIMEOUT_MS)),
    webhooks,
    close: () => sender.close(),
  };
};
