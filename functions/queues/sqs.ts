import {
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { DeliveryJob } from '../domain/delivery/jobs.ts';
import type { JobQueue } from '../domain/delivery/ports.ts';

/**
 * The queues as delivery uses them. Messages go out ten to a request (SQS's
 * batch limit) and within its 256 KiB per request; entries SQS refuses are
 * tried once more, then reported as an error so the caller's message is
 * redelivered.
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
  await Promise.all(batches.map((batch) => sendBatch(client, queueUrl, batch)));
};

const sendBatch = async (
  client: SQSClient,
  queueUrl: string,
  batch: SendMessageBatchRequestEntry[],
): Promise<void> => {
  let pending = batch;
  for (let round = 0; round < 2 && pending.length > 0; round++) {
    const { Failed } = await client.send(
      new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: pending }),
    );
    const failed = new Set((Failed ?? []).map((entry) => entry.Id));
    pending = pending.filter((entry) => failed.has(entry.Id));
  }
  if (pending.length > 0) {
    throw new Error(`SQS refused ${pending.length} of ${batch.length} messages to ${queueUrl}`);
  }
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

  constructor(client: SQSClient, queueUrl: string, deadLetterUrl: string) {
    this.#client = client;
    this.#queueUrl = queueUrl;
    this.#deadLetterUrl = deadLetterUrl;
  }

  send(jobs: readonly { job: DeliveryJob; delaySeconds: number }[]): Promise<void> {
    return sendInBatches(
      this.#client,
      this.#queueUrl,
      jobs.map(({ job, delaySeconds }) => ({
        MessageBody: JSON.stringify(job),
        DelaySeconds: delaySeconds,
      })),
    );
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
