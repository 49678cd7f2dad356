import { setTimeout as sleep } from 'node:timers/promises';
import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ListQueuesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import * as v from 'valibot';

/**
 * What the fault suites and the soak look at, from the outside: deliveries
 * through the API (the history route lists them, the detail route gives their
 * attempts), the queues' depths, the dead letters. Through the API, so what
 * is checked holds whatever layout the table takes.
 */

export interface BooksTarget {
  /** The gateway's origin; the API is under /api/v1. */
  apiUrl: string;
  apiKey: string;
  sqsEndpoint: string;
  queues: {
    events: { url: string; deadLetterUrl: string };
    deliveries: { url: string; deadLetterUrl: string };
  };
}

const deliveryViewSchema = v.object({
  delivery_id: v.string(),
  event_id: v.string(),
  status: v.string(),
  attempt_count: v.number(),
  final_reason: v.nullish(v.string()),
  attempts: v.array(
    v.object({
      attempt: v.number(),
      status_code: v.nullish(v.number()),
      error_class: v.nullish(v.string()),
      error_message: v.nullish(v.string()),
    }),
  ),
});

/** A delivery as the detail route shows it (the parts the books read). */
export type DeliveryView = v.InferOutput<typeof deliveryViewSchema>;

const historyPageSchema = v.object({
  data: v.array(
    v.object({
      delivery_id: v.string(),
      event_id: v.string(),
      status: v.string(),
      attempt_count: v.number(),
      last_status_code: v.nullable(v.number()),
      last_error_class: v.nullable(v.string()),
      last_error_message: v.nullable(v.string()),
    }),
  ),
  pagination: v.object({ hasNext: v.boolean(), next_cursor: v.nullish(v.string()) }),
});

export const webhookViewSchema = v.object({
  data: v.object({
    is_active: v.boolean(),
    auto_disabled_at: v.nullable(v.string()),
    total_deliveries: v.number(),
    successful_deliveries: v.number(),
    failed_deliveries: v.number(),
  }),
});

const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
const region = 'us-east-1';

export const sqsClient = (target: Pick<BooksTarget, 'sqsEndpoint'>) =>
  new SQSClient({ endpoint: target.sqsEndpoint, region, credentials });

export const api = async <S extends v.GenericSchema>(
  target: BooksTarget,
  path: string,
  schema: S,
): Promise<v.InferOutput<S>> => {
  for (let tries = 1; ; tries++) {
    const response = await fetch(`${target.apiUrl}/api/v1${path}`, {
      headers: { 'X-API-Key': target.apiKey },
    });
    // The usage plan's throttle: the books wait as a client would.
    if (response.status === 429 && tries < 20) {
      await sleep(Number(response.headers.get('retry-after') ?? 1) * 1000);
      continue;
    }
    if (response.status !== 200) {
      throw new Error(`GET ${path}: ${response.status} ${await response.text()}`);
    }
    return v.parse(schema, await response.json());
  }
};

/** The history route's entries of a webhook, every page. */
const historyOf = async (target: BooksTarget, webhookId: string) => {
  const entries: v.InferOutput<typeof historyPageSchema>['data'] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 100_000; page++) {
    const body = await api(
      target,
      `/webhooks/${webhookId}/deliveries?limit=100${cursor ? `&cursor=${cursor}` : ''}`,
      historyPageSchema,
    );
    entries.push(...body.data);
    if (!body.pagination.hasNext || !body.pagination.next_cursor) break;
    cursor = body.pagination.next_cursor;
  }
  return entries;
};

/**
 * Which deliveries the detail route is asked for: all, or those whose list
 * entry does not already say everything (a long run's books would otherwise
 * spend minutes reading single successful attempts one by one).
 */
export type Details = 'all' | 'beyond-one-success';

/**
 * A webhook's deliveries through the API: the history route lists them, the
 * detail route gives their attempts. The API, not the table, so the books
 * hold whatever layout the table takes.
 */
export const readDeliveries = async (
  target: BooksTarget,
  webhookId: string,
  details: Details = 'all',
  concurrency = 8,
): Promise<{ listed: Map<string, string>; deliveries: DeliveryView[] }> => {
  const entries = await historyOf(target, webhookId);
  const listed = new Map(entries.map((entry) => [entry.delivery_id, entry.status]));
  const deliveries: DeliveryView[] = [];
  const toRead: string[] = [];
  for (const entry of entries) {
    if (details === 'all' || entry.status !== 'delivered' || entry.attempt_count !== 1) {
      toRead.push(entry.delivery_id);
      continue;
    }
    // One attempt, and it succeeded: the list entry is the whole story.
    deliveries.push({
      delivery_id: entry.delivery_id,
      event_id: entry.event_id,
      status: entry.status,
      attempt_count: 1,
      final_reason: null,
      attempts: [
        {
          attempt: 1,
          status_code: entry.last_status_code,
          error_class: entry.last_error_class,
          error_message: entry.last_error_message,
        },
      ],
    });
  }
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let id = toRead.pop(); id !== undefined; id = toRead.pop()) {
        const { data } = await api(
          target,
          `/webhooks/${webhookId}/deliveries/${id}`,
          v.object({ data: deliveryViewSchema }),
        );
        deliveries.push(data);
      }
    }),
  );
  return { listed, deliveries };
};

export interface QueueDepth {
  visible: number;
  in_flight: number;
  delayed: number;
}

const depthOf = async (sqs: SQSClient, url: string): Promise<QueueDepth> => {
  const { Attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: url,
      AttributeNames: [
        'ApproximateNumberOfMessages',
        'ApproximateNumberOfMessagesNotVisible',
        'ApproximateNumberOfMessagesDelayed',
      ],
    }),
  );
  return {
    visible: Number(Attributes.ApproximateNumberOfMessages ?? 0),
    in_flight: Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0),
    delayed: Number(Attributes.ApproximateNumberOfMessagesDelayed ?? 0),
  };
};

/** A queue's name: the last segment of its URL. */
export const queueName = (url: string): string => url.slice(url.lastIndexOf('/') + 1);

/** Dead-letter queues are named so by the stack (lib/resources.ts). */
export const isDeadLetterQueue = (name: string): boolean => name.endsWith('-dlq');

/**
 * Every queue's depth, by name: all of them, as ListQueues shows them, so a
 * queue the stack adds (an overflow queue, say) counts as work in flight too.
 */
export const queueDepths = async (
  target: Pick<BooksTarget, 'sqsEndpoint'>,
): Promise<Record<string, QueueDepth>> => {
  const sqs = sqsClient(target);
  try {
    const { QueueUrls = [] } = await sqs.send(new ListQueuesCommand({}));
    const depths = await Promise.all(
      QueueUrls.map(async (url) => [queueName(url), await depthOf(sqs, url)] as const),
    );
    return Object.fromEntries(depths.sort(([a], [b]) => a.localeCompare(b)));
  } finally {
    sqs.destroy();
  }
};

export const isEmpty = (depth: QueueDepth | undefined) =>
  depth === undefined || (depth.visible === 0 && depth.in_flight === 0 && depth.delayed === 0);

/** Nothing waiting or in flight on any queue but the dead-letter ones. */
export const isIdle = (depths: Record<string, QueueDepth>): boolean =>
  Object.entries(depths).every(([name, depth]) => isDeadLetterQueue(name) || isEmpty(depth));

/**
 * Waits until nothing is left to do: every work queue empty at two looks a
 * second apart (a job is deleted only after its follow-up is queued, so empty
 * queues mean no delivery can move again). Answers whether it settled.
 */
export const waitUntilSettled = async (
  target: BooksTarget,
  timeoutMs: number,
): Promise<boolean> => {
  const deadline = Date.now() + timeoutMs;
  let emptyLooks = 0;
  while (Date.now() < deadline) {
    emptyLooks = isIdle(await queueDepths(target)) ? emptyLooks + 1 : 0;
    if (emptyLooks >= 2) return true;
    await sleep(1000);
  }
  return false;
};

/** Takes every message off a dead-letter queue (the books are the last to read it). */
export const drainDeadLetters = async (target: BooksTarget) => {
  const sqs = sqsClient(target);
  const messages: { deliveryId: string; reason: string | undefined }[] = [];
  try {
    for (let empty = 0; empty < 2 && messages.length < 1_000_000; ) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: target.queues.deliveries.deadLetterUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 0,
          VisibilityTimeout: 300,
          MessageAttributeNames: ['All'],
        }),
      );
      empty = Messages.length === 0 ? empty + 1 : 0;
      for (const message of Messages) {
        let deliveryId = '(unreadable)';
        try {
          deliveryId = String(JSON.parse(message.Body ?? '').delivery_id);
        } catch {}
        messages.push({ deliveryId, reason: message.MessageAttributes?.reason?.StringValue });
      }
      if (Messages.length > 0) {
        await sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: target.queues.deliveries.deadLetterUrl,
            Entries: Messages.map((message, index) => ({
              Id: String(index),
              ReceiptHandle: message.ReceiptHandle,
            })),
          }),
        );
      }
    }
  } finally {
    sqs.destroy();
  }
  return messages;
};

export type WebhookDeliveries = Awaited<ReturnType<typeof readDeliveries>>;

/** Every expected webhook's deliveries, by webhook id. */
export const readAllDeliveries = async (
  target: BooksTarget,
  webhooks: readonly { webhook_id: string }[],
  details: Details = 'all',
): Promise<Map<string, WebhookDeliveries>> => {
  const all = new Map<string, WebhookDeliveries>();
  for (const { webhook_id: webhookId } of webhooks) {
    all.set(webhookId, await readDeliveries(target, webhookId, details));
  }
  return all;
};
