import {
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { Lane } from '../domain/delivery/circuit.ts';
import { type DeliveryJob, queueDelaySeconds } from '../domain/delivery/jobs.ts';
import type { DeliveryEvent } from '../domain/delivery/model.ts';
import { type JobQueue, QueueSendError } from '../domain/delivery/ports.ts';

/**
 * The queues as delivery uses them. Messages go out ten to a request (SQS's
 * batch limit) and within its 256 KiB per request; entries SQS refuses are
 * tried once more, then reported (QueueSendError, by position) so the
 * callers' messages are redelivered.
 */

const MAX_BATCH_ENTRIES = 10;
const MAX_BATCH_BYTES = 250 * 1024;

export const sendInBatches = async (
  client: SQSClient,
  queueUrl: string,
  entries: readonly Omit<SendMessageBatchRequestEntry, 'Id'>[],
): Promise<void> => {
  const batches: SendMessageBatchRequestEntry[][] = [];
  let current: SendMessageBatchRequestEntry[] = [];
  let bytes = 0;
  entries.forEach((entry, index) => {
    const size = Buffer.byteLength(entry.MessageBody ?? '') + attributeBytes(entry);
    if (
      current.length === MAX_BATCH_ENTRIES ||
      (current.length > 0 && bytes + size > MAX_BATCH_BYTES)
    ) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push({ ...entry, Id: String(index) });
    bytes += size;
  });
  if (current.length > 0) batches.push(current);
  const unsent = (await Promise.all(batches.map((batch) => sendBatch(client, queueUrl, batch))))
    .flat()
    .map(Number);
  if (unsent.length > 0) {
    throw new QueueSendError(
      `SQS did not take ${unsent.length} of ${entries.length} messages to ${queueUrl}`,
      unsent,
    );
  }
};

/** Answers the ids of the entries not sent, after one more try of those SQS refused. */
const sendBatch = async (
  client: SQSClient,
  queueUrl: string,
  batch: SendMessageBatchRequestEntry[],
): Promise<string[]> => {
  let pending = batch;
  try {
    for (let round = 0; round < 2 && pending.length > 0; round++) {
      const { Failed } = await client.send(
        new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: pending }),
      );
      const failed = new Set((Failed ?? []).map((entry) => entry.Id));
      pending = pending.filter((entry) => failed.has(entry.Id));
    }
  } catch {
    // The request itself failed: what it carried may or may not be on the queue; say not.
  }
  return pending.flatMap((entry) => (entry.Id === undefined ? [] : [entry.Id]));
};

const attributeBytes = (entry: Omit<SendMessageBatchRequestEntry, 'Id'>): number =>
  Object.entries(entry.MessageAttributes ?? {}).reduce(
    (sum, [name, value]) => sum + name.length + (value.StringValue?.length ?? 0) + 16,
    0,
  );

/** SQS caps message attribute values; a reason is for people, its head is enough. */
const reasonAttribute = (reason: string) => ({
  reason: { DataType: 'String', StringValue: reason.slice(0, 1024) },
});

export class SqsJobQueue implements JobQueue {
  readonly #client: SQSClient;
  readonly #queueUrl: string;
  readonly #deadLetterUrl: string;
  readonly #overflowUrl: string | undefined;

  /** Without `overflowUrl` (a stack without the overflow lane) every job takes the standard queue. */
  constructor(client: SQSClient, queueUrl: string, deadLetterUrl: string, overflowUrl?: string) {
    this.#client = client;
    this.#queueUrl = queueUrl;
    this.#deadLetterUrl = deadLetterUrl;
    this.#overflowUrl = overflowUrl;
  }

  /** Each lane's jobs in its own batches; a failure names positions in `jobs`, whatever the lane. */
  async send(
    jobs: readonly { job: DeliveryJob; delaySeconds: number; lane?: Lane }[],
  ): Promise<void> {
    const byQueue = new Map<
      string,
      { position: number; job: DeliveryJob; delaySeconds: number }[]
    >();
    jobs.forEach(({ job, delaySeconds, lane }, position) => {
      const url = lane === 'overflow' && this.#overflowUrl ? this.#overflowUrl : this.#queueUrl;
      byQueue.set(url, [...(byQueue.get(url) ?? []), { position, job, delaySeconds }]);
    });
    const unsent = await Promise.all(
      [...byQueue].map(async ([url, entries]) => {
        try {
          await sendInBatches(
            this.#client,
            url,
            entries.map(({ job, delaySeconds }) => ({
              MessageBody: JSON.stringify(job),
              DelaySeconds: delaySeconds,
            })),
          );
          return [];
        } catch (error) {
          const failed =
            error instanceof QueueSendError
              ? error.failed.flatMap((index) => entries[index] ?? [])
              : entries;
          return failed.map(({ position }) => position);
        }
      }),
    );
    const failed = unsent.flat();
    if (failed.length > 0) {
      throw new QueueSendError(
        `SQS did not take ${failed.length} of ${jobs.length} delivery jobs`,
        failed,
      );
    }
  }

  /** The job as it last ran, so a redrive (npm run dlq) sends it again as it was. */
  deadLetter(entries: readonly { job: DeliveryJob; reason: string }[]): Promise<void> {
    return sendInBatches(
      this.#client,
      this.#deadLetterUrl,
      entries.map(({ job, reason }) => ({
        MessageBody: JSON.stringify(job),
        MessageAttributes: reasonAttribute(reason),
      })),
    );
  }
}

/** Malformed events go to the ingest dead-letter queue as they came, with why. */
export const rejectEvents = (
  client: SQSClient,
  deadLetterUrl: string,
  rejected: readonly { body: string; reason: string }[],
): Promise<void> =>
  sendInBatches(
    client,
    deadLetterUrl,
    rejected.map(({ body, reason }) => ({
      MessageBody: body.length > 0 ? body : '(empty)',
      MessageAttributes: reasonAttribute(reason),
    })),
  );

/**
 * Events waiting for their tenant's share, back on the ingest queue until
 * their slots (a wait beyond SQS's 15 minutes comes back early and waits
 * again), each as it was accepted, defaults filled, so it is the same event
 * when it returns.
 */
export const deferEvents = (
  client: SQSClient,
  eventsQueueUrl: string,
  slotAttribute: string,
  events: readonly { event: DeliveryEvent; slotMs: number }[],
  nowMs: number = Date.now(),
): Promise<void> =>
  sendInBatches(
    client,
    eventsQueueUrl,
    events.map(({ event, slotMs }) => ({
      MessageBody: JSON.stringify(event),
      DelaySeconds: queueDelaySeconds(slotMs, nowMs),
      MessageAttributes: { [slotAttribute]: { DataType: 'Number', StringValue: String(slotMs) } },
    })),
  );
