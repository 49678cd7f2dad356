import { setTimeout as sleep } from 'node:timers/promises';
import {
  DeleteMessageBatchCommand,
  type Message,
  type MessageAttributeValue,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type {
  Context,
  SQSBatchResponse,
  SQSEvent,
  SQSMessageAttributes,
  SQSRecord,
} from 'aws-lambda';
import * as v from 'valibot';
import { invoke } from './lambda-context.ts';

/**
 * Lambda's SQS event source mapping, in this process: long-polls a queue,
 * hands each batch to the deployed handler under the function's timeout, and
 * deletes what the handler reports done (ReportBatchItemFailures). Moving a
 * message to the dead-letter queue is left to the queue itself, as on AWS:
 * fauxqs, like SQS and LocalStack, applies the RedrivePolicy on receive once
 * a message's receive count passes maxReceiveCount.
 */

export interface PollerOptions {
  client: SQSClient;
  queueUrl: string;
  queueArn: string;
  functionName: string;
  /** The function's timeout; a batch still running then has failed. */
  timeoutMs: number;
  // biome-ignore lint/suspicious/noConfusingVoidType: as aws-lambda's SQSHandler: a handler with nothing to report returns nothing.
  handler: (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | void>;
  batchSize: number;
  maxBatchingWindowSeconds: number;
  /** Long polling, 0 to 20 seconds; stop() cuts it short. */
  waitTimeSeconds?: number;
  /**
   * The most batches in flight at once (the mapping's MaximumConcurrency).
   * Like Lambda, polling starts with a few pollers, adds one each time a
   * poller finds messages, and lets the extra ones go when the queue is empty.
   */
  maxConcurrency?: number;
  /** The mapping's ReportBatchItemFailures: without it, a returned batch is done whole. */
  reportBatchItemFailures: boolean;
  log?: (line: string) => void;
}

export interface Poller {
  /** Stops polling, lets batches in flight finish (and be deleted), then resolves. */
  stop(): Promise<void>;
}

/** SQS hands out at most this many messages per ReceiveMessage. */
const RECEIVE_LIMIT = 10;
/** Lambda starts an SQS mapping with five concurrent pollers and scales from there. */
const INITIAL_POLLERS = 5;
/** What Lambda scales a mapping without a MaximumConcurrency up to, bounded for one machine. */
const DEFAULT_MAX_CONCURRENCY = 50;
const BACKOFF = { firstMs: 250, maxMs: 5_000 };

const checkOptions = (options: PollerOptions, waitTimeSeconds: number, concurrency: number) => {
  const { batchSize, maxBatchingWindowSeconds, timeoutMs } = options;
  const problems = [
    (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) &&
      'batchSize must be an integer from 1 to 10000',
    batchSize > RECEIVE_LIMIT &&
      maxBatchingWindowSeconds < 1 &&
      'a batchSize above 10 needs a batching window of at least 1 second (as Lambda requires)',
    !(maxBatchingWindowSeconds >= 0 && maxBatchingWindowSeconds <= 300) &&
      'maxBatchingWindowSeconds must be from 0 to 300',
    (!Number.isInteger(waitTimeSeconds) || waitTimeSeconds < 0 || waitTimeSeconds > 20) &&
      'waitTimeSeconds must be an integer from 0 to 20',
    (!Number.isInteger(concurrency) || concurrency < 1) &&
      'maxConcurrency must be a positive integer',
    !(timeoutMs > 0) && 'timeoutMs must be positive',
  ].filter((problem) => typeof problem === 'string');
  if (problems.length > 0) throw new RangeError(`${options.functionName}: ${problems.join('; ')}`);
};

const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

/** Message attributes as Lambda shows them: camelCase, binaries in base64, empty lists kept. */
const toLambdaAttributes = (
  attributes: Record<string, MessageAttributeValue> = {},
): SQSMessageAttributes =>
  Object.fromEntries(
    Object.entries(attributes).map(([name, value]) => [
      name,
      {
        ...(value.StringValue === undefined ? {} : { stringValue: value.StringValue }),
        ...(value.BinaryValue === undefined ? {} : { binaryValue: base64(value.BinaryValue) }),
        stringListValues: value.StringListValues ?? [],
        binaryListValues: (value.BinaryListValues ?? []).map(base64),
        dataType: value.DataType ?? 'String',
      },
    ]),
  );

/** One received message as a record of the event Lambda would pass. */
export const toSqsRecord = (message: Message, queueArn: string, receivedAt: number): SQSRecord => {
  const attributes = message.Attributes ?? {};
  return {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes: {
      ...attributes,
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? '1',
      SentTimestamp: attributes.SentTimestamp ?? String(receivedAt),
      SenderId: attributes.SenderId ?? '000000000000',
      ApproximateFirstReceiveTimestamp:
        attributes.ApproximateFirstReceiveTimestamp ?? String(receivedAt),
    },
    messageAttributes: toLambdaAttributes(message.MessageAttributes),
    md5OfBody: message.MD5OfBody ?? '',
    ...(message.MD5OfMessageAttributes === undefined
      ? {}
      : { md5OfMessageAttributes: message.MD5OfMessageAttributes }),
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    // arn:aws:sqs:<region>:<account>:<name>
    awsRegion: queueArn.split(':')[3] ?? '',
  };
};

/** What a handler may answer: nothing, or the failed message ids (nullish lists count as none). */
const batchResponseSchema = v.nullish(
  v.object({
    batchItemFailures: v.nullish(
      v.array(v.object({ itemIdentifier: v.pipe(v.string(), v.nonEmpty()) })),
    ),
  }),
);

export interface BatchOutcome {
  /** The records to delete: every one but the failures, or none when the batch failed. */
  done: SQSRecord[];
  /** Why the whole batch counts as failed although the handler returned. */
  problem?: string | undefined;
}

/** Lambda's ReportBatchItemFailures rules, applied to what the handler returned. */
export const settleBatch = (
  records: readonly SQSRecord[],
  response: unknown,
  reportBatchItemFailures = true,
): BatchOutcome => {
  // Without the setting Lambda ignores what the handler returns: it returned, so all is done.
  if (!reportBatchItemFailures) return { done: [...records] };
  const parsed = v.safeParse(batchResponseSchema, response);
  if (!parsed.success) {
    return { done: [], problem: 'the response is not a valid batchItemFailures list' };
  }
  const failed = new Set(parsed.output?.batchItemFailures?.map((item) => item.itemIdentifier));
  const known = new Set(records.map((record) => record.messageId));
  const unknown = [...failed].filter((id) => !known.has(id));
  if (unknown.length > 0) {
    return { done: [], problem: `itemIdentifier ${unknown.join(', ')} is not in the batch` };
  }
  return { done: records.filter((record) => !failed.has(record.messageId)) };
};

const describe = (error: unknown) => (error instanceof Error ? error.message : String(error));

export const startPoller = (options: PollerOptions): Poller => {
  const waitTimeSeconds = options.waitTimeSeconds ?? 20;
  const concurrency = options.maxConcurrency ?? DEFAULT_MAX_CONCURRENCY;
  checkOptions(options, waitTimeSeconds, concurrency);
  const { client, queueUrl, queueArn, functionName, batchSize, maxBatchingWindowSeconds } = options;
  const log = options.log ?? (() => undefined);
  const queueName = queueUrl.slice(queueUrl.lastIndexOf('/') + 1);
  const stopping = new AbortController();
  const { signal } = stopping;

  const receive = async (maxMessages: number, waitSeconds: number): Promise<Message[]> => {
    const { Messages } = await client.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: Math.min(maxMessages, RECEIVE_LIMIT),
        WaitTimeSeconds: waitSeconds,
        AttributeNames: ['All'],
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
      { abortSignal: signal },
    );
    return Messages ?? [];
  };

  /** A batch: the first receive waits for messages, then the window (if any) fills it up. */
  const receiveBatch = async (): Promise<Message[]> => {
    const messages = await receive(batchSize, waitTimeSeconds);
    if (messages.length === 0 || maxBatchingWindowSeconds === 0) return messages;
    const windowEnds = Date.now() + maxBatchingWindowSeconds * 1000;
    while (messages.length < batchSize && Date.now() < windowEnds && !signal.aborted) {
      const waitSeconds = Math.min(20, Math.ceil((windowEnds - Date.now()) / 1000));
      try {
        messages.push(...(await receive(batchSize - messages.length, waitSeconds)));
      } catch (error) {
        // The messages in hand are already invisible: deliver them rather than strand them.
        if (!signal.aborted) log(`${functionName}: receive from ${queueName}: ${describe(error)}`);
        break;
      }
    }
    return messages;
  };

  const deleteRecords = async (records: readonly SQSRecord[]) => {
    for (let start = 0; start < records.length; start += RECEIVE_LIMIT) {
      const chunk = records.slice(start, start + RECEIVE_LIMIT);
      try {
        const { Failed } = await client.send(
          new DeleteMessageBatchCommand({
            QueueUrl: queueUrl,
            Entries: chunk.map((record, index) => ({
              Id: String(index),
              ReceiptHandle: record.receiptHandle,
            })),
          }),
        );
        for (const failure of Failed ?? []) {
          log(`${functionName}: could not delete a message from ${queueName}: ${failure.Message}`);
        }
      } catch (error) {
        log(
          `${functionName}: could not delete from ${queueName}, delivered again later: ${describe(error)}`,
        );
      }
    }
  };

  const handleBatch = async (messages: readonly Message[]) => {
    const receivedAt = Date.now();
    const event: SQSEvent = {
      Records: messages.map((message) => toSqsRecord(message, queueArn, receivedAt)),
    };
    const size = event.Records.length;
    const started = performance.now();
    let response: unknown;
    try {
      response = await invoke(options.handler, event, functionName, options.timeoutMs);
    } catch (error) {
      log(`${functionName}: batch of ${size} failed, all come back later: ${describe(error)}`);
      return;
    }
    const { done, problem } = settleBatch(event.Records, response, options.reportBatchItemFailures);
    const took = `${Math.round(performance.now() - started)} ms`;
    if (problem) log(`${functionName}: batch of ${size} failed, all come back later: ${problem}`);
    else log(`${functionName}: batch of ${size}, ${size - done.length} failed, ${took}`);
    await deleteRecords(done);
  };

  const pollers = new Set<Promise<void>>();
  const initial = Math.min(INITIAL_POLLERS, concurrency);
  const spawn = () => {
    const poller: Promise<void> = poll().finally(() => pollers.delete(poller));
    pollers.add(poller);
  };

  async function poll() {
    let backoffMs = 0;
    while (!signal.aborted) {
      try {
        const messages = await receiveBatch();
        backoffMs = 0;
        if (messages.length > 0) {
          if (pollers.size < concurrency) spawn();
          await handleBatch(messages);
        } else if (pollers.size > initial) {
          return;
        }
      } catch (error) {
        if (signal.aborted) break;
        backoffMs = Math.min(BACKOFF.maxMs, backoffMs * 2 || BACKOFF.firstMs);
        log(
          `${functionName}: polling ${queueName} failed, retrying in ${backoffMs} ms: ${describe(error)}`,
        );
        await sleep(backoffMs, undefined, { signal }).catch(() => undefined);
      }
    }
  }

  for (let index = 0; index < initial; index++) spawn();
  let stopped: Promise<void> | undefined;
  return {
    stop: () => {
      stopped ??= (async () => {
        stopping.abort();
        while (pollers.size > 0) await Promise.allSettled([...pollers]);
      })();
      return stopped;
    },
  };
};
