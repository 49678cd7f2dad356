import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';

/**
 * A dead-letter queue as `npm run dlq` reads it. Reading hides each message
 * for a while (receive with a visibility timeout) so the next read returns
 * others; whatever is left is made visible again at once. Receiving with a
 * zero timeout instead would leave every message visible, but SQS could then
 * answer the same ten every time, and a queue longer than ten would never be
 * seen whole.
 */

export interface DeadLetter {
  messageId: string;
  receiptHandle: string;
  body: string;
  /** Why Hookline dead-lettered it; absent when SQS moved it after repeated failures. */
  reason?: string | undefined;
  /** When it was first sent (ISO-8601). */
  sentAt?: string | undefined;
}

export interface DeadLetterQueue {
  /** Up to ten messages, each hidden from other readers for `hideSeconds`. */
  receive(hideSeconds: number): Promise<DeadLetter[]>;
  remove(letter: DeadLetter): Promise<void>;
  /** Makes hidden messages visible again now. */
  release(letters: readonly DeadLetter[]): Promise<void>;
}

/**
 * Each message of a queue at most once. Received messages stay hidden until
 * the pass ends, so the next receive answers others; a message seen again
 * (its hiding ran out) is not visited twice, and a receive with nothing new
 * ends the pass. Messages sent after the pass began are left for another:
 * a redriven event refused again, or a restarted delivery abandoned again,
 * comes back as a new message, and would otherwise be redriven for ever.
 * The pass releases what it did not remove.
 */
export class SinglePass {
  readonly #queue: DeadLetterQueue;
  readonly #hideSeconds: number;
  readonly #startedAt: number;
  readonly #seen = new Set<string>();
  readonly #held = new Map<string, DeadLetter>();
  #visited = 0;
  /** Messages sent since the pass began, left alone. */
  arrivedSince = 0;

  constructor(queue: DeadLetterQueue, hideSeconds: number, startedAt = Date.now()) {
    this.#queue = queue;
    this.#hideSeconds = hideSeconds;
    this.#startedAt = startedAt;
  }

  async *letters(limit: number): AsyncGenerator<DeadLetter> {
    try {
      while (this.#visited < limit) {
        const batch = await this.#queue.receive(this.#hideSeconds);
        for (const letter of batch) this.#held.set(letter.messageId, letter);
        const fresh = batch.filter((letter) => !this.#seen.has(letter.messageId));
        if (fresh.length === 0) return;
        for (const letter of fresh) {
          if (this.#visited >= limit) return;
          this.#seen.add(letter.messageId);
          if (letter.sentAt !== undefined && Date.parse(letter.sentAt) >= this.#startedAt) {
            this.arrivedSince += 1;
            continue;
          }
          this.#visited += 1;
          yield letter;
        }
      }
    } finally {
      await this.#queue.release([...this.#held.values()]);
      this.#held.clear();
    }
  }

  async remove(letter: DeadLetter): Promise<void> {
    await this.#queue.remove(letter);
    this.#held.delete(letter.messageId);
  }
}

/** SQS's limit on entries in one batch request. */
const BATCH = 10;

type Sender = Pick<SQSClient, 'send'>;

export class SqsDeadLetterQueue implements DeadLetterQueue {
  readonly #client: Sender;
  readonly #queueUrl: string;

  constructor(client: Sender, queueUrl: string) {
    this.#client = client;
    this.#queueUrl = queueUrl;
  }

  async receive(hideSeconds: number): Promise<DeadLetter[]> {
    const { Messages } = await this.#client.send(
      new ReceiveMessageCommand({
        QueueUrl: this.#queueUrl,
        MaxNumberOfMessages: BATCH,
        // Long polling asks every SQS server, so an answer without messages means none are left.
        WaitTimeSeconds: 1,
        VisibilityTimeout: hideSeconds,
        MessageAttributeNames: ['reason'],
        MessageSystemAttributeNames: ['SentTimestamp'],
      }),
    );
    return (Messages ?? []).flatMap((message) => {
      if (!message.MessageId || !message.ReceiptHandle) return [];
      const sent = Number(message.Attributes?.SentTimestamp);
      return [
        {
          messageId: message.MessageId,
          receiptHandle: message.ReceiptHandle,
          body: message.Body ?? '',
          reason: message.MessageAttributes?.reason?.StringValue,
          sentAt: Number.isFinite(sent) ? new Date(sent).toISOString() : undefined,
        },
      ];
    });
  }

  async remove(letter: DeadLetter): Promise<void> {
    await this.#client.send(
      new DeleteMessageCommand({ QueueUrl: this.#queueUrl, ReceiptHandle: letter.receiptHandle }),
    );
  }

  async release(letters: readonly DeadLetter[]): Promise<void> {
    for (let start = 0; start < letters.length; start += BATCH) {
      // A message whose handle has expired is visible already; SQS reports it as failed, harmlessly.
      await this.#client.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: this.#queueUrl,
          Entries: letters.slice(start, start + BATCH).map((letter, index) => ({
            Id: String(index),
            ReceiptHandle: letter.receiptHandle,
            VisibilityTimeout: 0,
          })),
        }),
      );
    }
  }
}

/** The ingest queue, for events sent back as they came. */
export class SqsEventQueue {
  readonly #client: Sender;
  readonly #queueUrl: string;

  constructor(client: Sender, queueUrl: string) {
    this.#client = client;
    this.#queueUrl = queueUrl;
  }

  async send(body: string): Promise<void> {
    await this.#client.send(
      new SendMessageCommand({ QueueUrl: this.#queueUrl, MessageBody: body }),
    );
  }
}
