import { ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { ProducerEvent } from '../../cli/emit-args.ts';
import { startDeliveryRuntime } from '../support/runtime.ts';
import { type E2eReceiver, startE2eReceiver } from './receiver.ts';
import { type E2eSettings, webhooksApiUrl } from './settings.ts';

/**
 * What the end-to-end suite runs against, the same shape for every target:
 * the embedded local runtime (started here, with in-memory emulators), or a
 * deployment reached through its API URL, key and queue URLs, with the
 * default AWS credential chain for SQS (AWS_ENDPOINT_URL_SQS for LocalStack).
 */

export interface DeadLetter {
  body: string;
  reason: string | undefined;
}

export interface E2eTarget {
  kind: E2eSettings['kind'];
  /** The webhooks API: .../api/v1/webhooks. */
  apiUrl: string;
  apiKey: string;
  /** Puts one producer event on the ingest queue. */
  sendEvent(event: ProducerEvent): Promise<void>;
  /** The dead letter of a delivery, if the delivery dead-letter queue holds it now. */
  findDeadLetter(deliveryId: string): Promise<DeadLetter | undefined>;
  receiver: E2eReceiver;
  /** Where deliveries reach the receiver. */
  receiverBaseUrl: string;
  waitMs: number;
  stop(): Promise<void>;
}

interface Connection {
  apiUrl: string;
  apiKey: string;
  eventsQueueUrl: string;
  deliveriesDeadLetterUrl: string;
  sqs: SQSClient;
  stop(): Promise<void>;
}

const embedded = async (): Promise<Connection> => {
  const runtime = await startDeliveryRuntime();
  return {
    apiUrl: webhooksApiUrl(runtime.apiUrl),
    apiKey: runtime.devApiKey,
    eventsQueueUrl: runtime.queues.events.url,
    deliveriesDeadLetterUrl: runtime.queues.deliveries.deadLetterUrl,
    // Region and the emulators' stand-in credentials come from the runtime's environment.
    sqs: new SQSClient({ endpoint: runtime.sqsEndpoint }),
    stop: runtime.stop,
  };
};

const remote = (settings: Extract<E2eSettings, { kind: 'remote' }>): Connection => ({
  apiUrl: settings.apiUrl,
  apiKey: settings.apiKey,
  eventsQueueUrl: settings.eventsQueueUrl,
  deliveriesDeadLetterUrl: settings.deliveriesDeadLetterUrl,
  sqs: new SQSClient({}),
  stop: async () => undefined,
});

export const startE2eTarget = async (settings: E2eSettings): Promise<E2eTarget> => {
  const connection = settings.kind === 'embedded' ? await embedded() : remote(settings);
  const { sqs } = connection;
  let receiver: E2eReceiver;
  try {
    receiver = await startE2eReceiver(settings.receiver);
  } catch (error) {
    sqs.destroy();
    await connection.stop();
    throw error;
  }
  return {
    kind: settings.kind,
    apiUrl: connection.apiUrl,
    apiKey: connection.apiKey,
    sendEvent: async (event) => {
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: connection.eventsQueueUrl,
          MessageBody: JSON.stringify(event),
        }),
      );
    },
    findDeadLetter: async (deliveryId) => {
      // A peek: visibility 0 leaves every message where it was, for `npm run dlq`.
      const { Messages } = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: connection.deliveriesDeadLetterUrl,
          MaxNumberOfMessages: 10,
          VisibilityTimeout: 0,
          WaitTimeSeconds: 1,
          MessageAttributeNames: ['All'],
        }),
      );
      const found = Messages?.find((message) => message.Body?.includes(deliveryId));
      return (
        found && { body: found.Body ?? '', reason: found.MessageAttributes?.reason?.StringValue }
      );
    },
    receiver,
    receiverBaseUrl: receiver.baseUrl,
    waitMs: settings.waitMs,
    stop: async () => {
      await receiver.close();
      sqs.destroy();
      await connection.stop();
    },
  };
};
