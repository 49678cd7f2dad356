import { createHash, randomUUID } from 'node:crypto';
import {
  ConditionalCheckFailedException,
  type DynamoDBClient,
  type ServiceOutputTypes as DynamoDbOutput,
} from '@aws-sdk/client-dynamodb';
import type { SQSClient, ServiceOutputTypes as SqsOutput } from '@aws-sdk/client-sqs';
import { KEYS } from '../functions/commons/table.ts';
import {
  applyUpdate,
  conditionHolds,
  itemSize,
  stored,
  valueSize,
} from './dynamodb-expressions.ts';

/**
 * In-process DynamoDB and SQS for benchmarks: a middleware at the top of a
 * real SDK client's stack answers every command from memory and never calls
 * the rest of the stack, so the repositories and queues run unchanged while
 * each request, and what DynamoDB would bill for it, is counted. Only what
 * the delivery path uses is understood; anything else throws, so a bench
 * cannot pass on a silently wrong answer.
 */

type Item = Record<string, unknown>;
type Answer = Record<string, unknown>;

export interface CommandCount {
  requests: number;
  /** Write units as DynamoDB bills them: 1 per started KB of the larger item image. */
  writeUnits: number;
  /** The same, with UpdateItem's "after" image taken from the applied update. */
  writeUnitsApplied: number;
  /** Read units: 1 per started 4 KB, half for eventually consistent reads. */
  readUnits: number;
  /** Conditional writes whose condition failed (billed all the same). */
  conditionFailures: number;
  /** Items put, updated or deleted: one per request, up to 25 per BatchWriteItem. */
  itemsWritten: number;
}

const emptyCount = (): CommandCount => ({
  requests: 0,
  writeUnits: 0,
  writeUnitsApplied: 0,
  readUnits: 0,
  conditionFailures: 0,
  itemsWritten: 0,
});

/**
 * The short-circuit: first in the stack, answers and returns without calling
 * the rest. Time spent answering is added to `clock`: it is the fake's, not
 * the handler's, and the bench reports it apart.
 */
const answerWith =
  <Output>(answer: (command: string, input: Answer) => Answer, clock: { ms: number }) =>
  (_next: unknown, context: { commandName?: string }) =>
  async (args: { input: object }) => {
    const began = performance.now();
    try {
      const output = answer(context.commandName ?? '', args.input as Answer);
      return { output: { ...output, $metadata: {} } as Output, response: {} };
    } finally {
      clock.ms += performance.now() - began;
    }
  };

const FIRST = { step: 'initialize', priority: 'high' } as const;

const writeUnits = (bytes: number) => Math.max(1, Math.ceil(bytes / 1024));
const readUnits = (bytes: number, consistent: boolean) =>
  Math.max(1, Math.ceil(bytes / 4096)) * (consistent ? 1 : 0.5);

const keyOf = (key: Item) => `${String(key[KEYS.partition])}\u0000${String(key[KEYS.sort])}`;

const conditionFailed = () =>
  new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });

interface StoredItem {
  item: Item;
  /** Its size, kept so a write measures only the new image. */
  bytes: number;
}

export class FakeDynamoDb {
  readonly #tables = new Map<string, Map<string, StoredItem>>();
  #counts = new Map<string, CommandCount>();
  #clock = { ms: 0 };

  /** Answers every command `client` (or a document client made from it) sends. */
  attach(client: DynamoDBClient): void {
    client.middlewareStack.add(
      answerWith<DynamoDbOutput>((command, input) => this.#answer(command, input), this.#clock),
      { ...FIRST, name: 'benchFakeDynamoDb' },
    );
  }

  counts(): Record<string, CommandCount> {
    return Object.fromEntries(this.#counts);
  }

  /** Time spent inside the fake since the last reset. */
  busyMs(): number {
    return this.#clock.ms;
  }

  resetCounts(): void {
    this.#counts = new Map();
    this.#clock.ms = 0;
  }

  items(table: string): Item[] {
    return [...(this.#tables.get(table)?.values() ?? [])].map(({ item }) => item);
  }

  #table(name: unknown): Map<string, StoredItem> {
    const table = this.#tables.get(String(name)) ?? new Map<string, StoredItem>();
    this.#tables.set(String(name), table);
    return table;
  }

  /** Counted per command and table: "UpdateItemCommand hookline-config". */
  #count(command: string, table: string): CommandCount {
    const name = `${command} ${table}`;
    const count = this.#counts.get(name) ?? emptyCount();
    this.#counts.set(name, count);
    count.requests += 1;
    return count;
  }

  #answer(command: string, input: Answer): Answer {
    const expression = {
      names: input.ExpressionAttributeNames as Record<string, string> | undefined,
      values: input.ExpressionAttributeValues as Record<string, unknown> | undefined,
    };
    const tables = input.RequestItems ? Object.keys(input.RequestItems) : [input.TableName];
    const count = this.#count(command, tables.join(','));
    switch (command) {
      case 'PutItemCommand': {
        const table = this.#table(input.TableName);
        const item = stored(input.Item as Item);
        const key = keyOf(item);
        const before = table.get(key);
        const bytes = itemSize(item);
        const units = writeUnits(Math.max(bytes, before?.bytes ?? 0));
        count.writeUnits += units;
        count.writeUnitsApplied += units;
        count.itemsWritten += 1;
        if (
          !conditionHolds(input.ConditionExpression as string | undefined, before?.item, expression)
        ) {
          count.conditionFailures += 1;
          throw conditionFailed();
        }
        table.set(key, { item, bytes });
        return {};
      }
      case 'UpdateItemCommand': {
        const table = this.#table(input.TableName);
        const key = keyOf(input.Key as Item);
        const before = table.get(key);
        const beforeBytes = before?.bytes ?? 0;
        count.itemsWritten += 1;
        if (
          !conditionHolds(input.ConditionExpression as string | undefined, before?.item, expression)
        ) {
          count.conditionFailures += 1;
          count.writeUnits += writeUnits(beforeBytes);
          count.writeUnitsApplied += writeUnits(beforeBytes);
          throw conditionFailed();
        }
        const valueBytes = Object.values(expression.values ?? {}).reduce<number>(
          (sum, value) => sum + valueSize(value),
          0,
        );
        // Changed in place: nothing outside holds the stored item, every answer is a copy.
        const entry = before ?? { item: stored(input.Key as Item), bytes: 0 };
        applyUpdate(entry.item, String(input.UpdateExpression ?? ''), expression);
        entry.bytes = itemSize(entry.item);
        table.set(key, entry);
        count.writeUnits += writeUnits(beforeBytes + valueBytes);
        count.writeUnitsApplied += writeUnits(Math.max(beforeBytes, entry.bytes));
        return input.ReturnValues === 'ALL_NEW' ? { Attributes: stored(entry.item) } : {};
      }
      case 'GetItemCommand': {
        const found = this.#table(input.TableName).get(keyOf(input.Key as Item));
        count.readUnits += readUnits(found?.bytes ?? 0, input.ConsistentRead === true);
        return found ? { Item: stored(found.item) } : {};
      }
      case 'BatchGetItemCommand': {
        const requests = input.RequestItems as Record<string, { Keys: Item[] }>;
        const responses: Record<string, Item[]> = {};
        for (const [name, { Keys }] of Object.entries(requests)) {
          const table = this.#table(name);
          responses[name] = Keys.flatMap((key) => {
            const found = table.get(keyOf(key));
            count.readUnits += readUnits(found?.bytes ?? 0, false);
            return found ? [stored(found.item)] : [];
          });
        }
        return { Responses: responses, UnprocessedKeys: {} };
      }
      case 'BatchWriteItemCommand': {
        const requests = input.RequestItems as Record<string, WriteRequest[]>;
        for (const [name, writes] of Object.entries(requests)) {
          const table = this.#table(name);
          for (const { PutRequest, DeleteRequest } of writes) {
            const key = keyOf(PutRequest?.Item ?? DeleteRequest?.Key ?? {});
            const before = table.get(key);
            const item = PutRequest && stored(PutRequest.Item);
            const bytes = item ? itemSize(item) : 0;
            const units = writeUnits(Math.max(bytes, before?.bytes ?? 0));
            count.writeUnits += units;
            count.writeUnitsApplied += units;
            count.itemsWritten += 1;
            if (item) table.set(key, { item, bytes });
            else table.delete(key);
          }
        }
        return { UnprocessedItems: {} };
      }
      default:
        throw new Error(`fake DynamoDB: ${command} is not supported`);
    }
  }
}

interface WriteRequest {
  PutRequest?: { Item: Item };
  DeleteRequest?: { Key: Item };
}

export interface QueuedMessage {
  messageId: string;
  body: string;
  delaySeconds: number;
}

export interface QueueCount {
  requests: number;
  messages: number;
}

export class FakeSqs {
  readonly #queues = new Map<string, QueuedMessage[]>();
  #counts = new Map<string, QueueCount>();
  #clock = { ms: 0 };

  attach(client: SQSClient): void {
    client.middlewareStack.add(
      answerWith<SqsOutput>((command, input) => this.#answer(command, input), this.#clock),
      { ...FIRST, name: 'benchFakeSqs' },
    );
  }

  busyMs(): number {
    return this.#clock.ms;
  }

  /** Per command and queue name, e.g. "SendMessageBatchCommand webhook-deliveries". */
  counts(): Record<string, QueueCount> {
    return Object.fromEntries(this.#counts);
  }

  resetCounts(): void {
    this.#counts = new Map();
    this.#clock.ms = 0;
  }

  /** Up to `max` messages of a queue, oldest first, taken off it (delays are not waited for). */
  take(queueUrl: string, max: number): QueuedMessage[] {
    return this.#queues.get(queueUrl)?.splice(0, max) ?? [];
  }

  size(queueUrl: string): number {
    return this.#queues.get(queueUrl)?.length ?? 0;
  }

  #answer(command: string, input: Answer): Answer {
    const queueUrl = String(input.QueueUrl);
    const name = `${command} ${queueUrl.slice(queueUrl.lastIndexOf('/') + 1)}`;
    const count = this.#counts.get(name) ?? { requests: 0, messages: 0 };
    this.#counts.set(name, count);
    count.requests += 1;
    const queue = this.#queues.get(queueUrl) ?? [];
    this.#queues.set(queueUrl, queue);
    const enqueue = (body: string, delaySeconds: unknown) => {
      const messageId = randomUUID();
      queue.push({ messageId, body, delaySeconds: Number(delaySeconds ?? 0) });
      count.messages += 1;
      return {
        MessageId: messageId,
        MD5OfMessageBody: createHash('md5').update(body).digest('hex'),
      };
    };
    switch (command) {
      case 'SendMessageCommand':
        return enqueue(String(input.MessageBody), input.DelaySeconds);
      case 'SendMessageBatchCommand': {
        const entries = input.Entries as {
          Id: string;
          MessageBody: string;
          DelaySeconds?: number;
        }[];
        return {
          Successful: entries.map((entry) => ({
            Id: entry.Id,
            ...enqueue(entry.MessageBody, entry.DelaySeconds),
          })),
          Failed: [],
        };
      }
      default:
        throw new Error(`fake SQS: ${command} is not supported`);
    }
  }
}
