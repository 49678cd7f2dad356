import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  BatchWriteCommand,
  type BatchWriteCommandOutput,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import {
  DELIVERY_SORT_PREFIX,
  deliverySort,
  EVENT_SORT,
  EXPIRES_AT,
  eventPartition,
  KEYS,
  webhookPartition,
} from '../commons/table.ts';
import type { RecordWrite } from '../domain/delivery/decisions.ts';
import type { EventLedger } from '../domain/delivery/fan-out.ts';
import { deliveryIdBounds } from '../domain/delivery/ids.ts';
import type { DeliveryJob } from '../domain/delivery/jobs.ts';
import type { DeliveryStore, HoldRecorder } from '../domain/delivery/ports.ts';
import {
  type DeliveryRecord,
  expiresAt,
  type Held,
  heldDeliveryRecord,
} from '../domain/delivery/record.ts';
import { fromDeliveryItem, toDeliveryItem } from './delivery-item.ts';
import { conditionHeld } from './records.ts';

/**
 * Deliveries in the deliveries table, one partition per webhook, one item per
 * delivery with its attempts (delivery-item.ts packs it). Every write that
 * moves a delivery forward is conditional on the state it expects, except a
 * finished attempt's record, written by the worker holding its claim: that is
 * what makes a job seen twice harmless.
 */

export interface DeliveryQuery {
  status?: DeliveryRecord['status'] | undefined;
  eventType?: string | undefined;
  fromMs?: number | undefined;
  toMs?: number | undefined;
  limit: number;
  /** The last delivery id of the previous page. */
  after?: string | undefined;
}

/** DynamoDB's limit of items per BatchWriteItem. */
const MAX_BATCH_WRITE = 25;
/** Unprocessed items are tried again this many times, backing off, before being reported. */
const BATCH_WRITE_ROUNDS = 5;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** At most this many queries fill one page of a filtered list: reads stay in proportion to the page. */
const MAX_QUERIES_PER_PAGE = 4;

export class DeliveryRepository implements DeliveryStore, EventLedger, HoldRecorder {
  readonly #db: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #retentionMs: number;
  readonly #now: () => number;

  constructor(
    db: DynamoDBDocumentClient,
    tableName: string,
    retentionMs: number,
    now: () => number = Date.now,
  ) {
    this.#db = db;
    this.#table = tableName;
    this.#retentionMs = retentionMs;
    this.#now = now;
  }

  /** New, or held back before its first attempt (hold): nothing claimed yet either way. */
  claimFirst(record: DeliveryRecord): Promise<boolean> {
    return conditionHeld(
      this.#db.send(
        new PutCommand({
          TableName: this.#table,
          Item: toDeliveryItem(record),
          ConditionExpression:
            'attribute_not_exists(#pk) OR (attempt_count = :none AND attribute_not_exists(in_flight))',
          ExpressionAttributeNames: { '#pk': KEYS.partition },
          ExpressionAttributeValues: { ':none': 0 },
        }),
      ),
    );
  }

  /**
   * Says in the history that the job's attempt is held back (the receiver's
   * circuit is open), once, when it is first held. A first attempt's record
   * is written for it (pending, no attempt yet); a later one's record is
   * marked while that attempt is still unclaimed. False when the delivery
   * moved on meanwhile. Its claim removes the mark.
   */
  async hold(job: DeliveryJob, held: Held, now: Date): Promise<boolean> {
    if (job.attempt === 1) {
      const record = heldDeliveryRecord(
        {
          deliveryId: job.delivery_id,
          webhook: { webhook_id: job.webhook_id, tenant: job.tenant },
          event: job.event,
          now,
          retentionMs: this.#retentionMs,
        },
        held,
      );
      return conditionHeld(
        this.#db.send(
          new PutCommand({
            TableName: this.#table,
            Item: toDeliveryItem(record),
            ConditionExpression: 'attribute_not_exists(#pk)',
            ExpressionAttributeNames: { '#pk': KEYS.partition },
          }),
        ),
      );
    }
    return conditionHeld(
      this.#db.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: this.#key(job.webhook_id, job.delivery_id),
          UpdateExpression: 'SET held = :held',
          ConditionExpression:
            'attempt_count = :previous AND attribute_not_exists(in_flight) AND #status IN (:pending, :retrying)',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':held': held,
            ':previous': job.attempt - 1,
            ':pending': 'pending',
            ':retrying': 'retrying',
          },
        }),
      ),
    );
  }

  async claimNext(
    webhookId: string,
    deliveryId: string,
    flight: { attempt: number; started_at: string; claim: string },
    messageId: string,
  ): Promise<DeliveryRecord | undefined> {
    try {
      const { Attributes } = await this.#db.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: this.#key(webhookId, deliveryId),
          UpdateExpression:
            'SET attempt_count = :attempt, in_flight = :flight, claimed_by = :message, updated_at = :at REMOVE held',
          ConditionExpression:
            'attempt_count = :previous AND attribute_not_exists(in_flight) AND #status IN (:pending, :retrying)',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':attempt': flight.attempt,
            ':previous': flight.attempt - 1,
            ':flight': flight,
            ':message': messageId,
            ':at': flight.started_at,
            ':pending': 'pending',
            ':retrying': 'retrying',
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return Attributes ? fromDeliveryItem(Attributes) : undefined;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  }

  async get(webhookId: string, deliveryId: string): Promise<DeliveryRecord | undefined> {
    const { Item } = await this.#db.send(
      new GetCommand({
        TableName: this.#table,
        Key: this.#key(webhookId, deliveryId),
        ConsistentRead: true,
      }),
    );
    if (!Item || this.#isExpired(Item)) return undefined;
    return fromDeliveryItem(Item);
  }

  async record(writes: readonly RecordWrite[]): Promise<Map<string, 'failed' | 'superseded'>> {
    const unwritten = new Map<string, 'failed' | 'superseded'>();
    const held = writes.filter((write) => write.takesOver === undefined);
    const takeovers = writes.filter((write) => write.takesOver !== undefined);
    await Promise.all([
      this.#putAll(held.map(({ record }) => record)).then((failed) => {
        for (const id of failed) unwritten.set(id, 'failed');
      }),
      ...takeovers.map(async ({ record, takesOver }) => {
        try {
          const written = await conditionHeld(
            this.#db.send(
              new PutCommand({
                TableName: this.#table,
                Item: toDeliveryItem(record),
                ConditionExpression: 'in_flight.claim = :claim',
                ExpressionAttributeValues: { ':claim': takesOver },
              }),
            ),
          );
          if (!written) unwritten.set(record.delivery_id, 'superseded');
        } catch {
          unwritten.set(record.delivery_id, 'failed');
        }
      }),
    ]);
    return unwritten;
  }

  /** Whole records, 25 to a request; answers the ids left unwritten after retries. */
  async #putAll(records: readonly DeliveryRecord[]): Promise<Set<string>> {
    const failed = new Set<string>();
    for (let start = 0; start < records.length; start += MAX_BATCH_WRITE) {
      const chunk = records.slice(start, start + MAX_BATCH_WRITE);
      let pending: NonNullable<BatchWriteCommandOutput['UnprocessedItems']>[string] = chunk.map(
        (record) => ({ PutRequest: { Item: toDeliveryItem(record) } }),
      );
      for (let round = 0; pending.length > 0 && round < BATCH_WRITE_ROUNDS; round++) {
        if (round > 0) await sleep(25 * 2 ** round);
        const answer: BatchWriteCommandOutput = await this.#db.send(
          new BatchWriteCommand({ RequestItems: { [this.#table]: pending } }),
        );
        pending = answer.UnprocessedItems?.[this.#table] ?? [];
      }
      for (const request of pending) {
        const sort = request.PutRequest?.Item?.[KEYS.sort];
        if (typeof sort === 'string') failed.add(sort.slice(DELIVERY_SORT_PREFIX.length));
      }
    }
    return failed;
  }

  /**
   * Starts a new attempt chain for a finished delivery (a manual retry), if it
   * is still as the caller saw it; false when it moved on meanwhile.
   */
  restartChain(record: DeliveryRecord, at: string): Promise<boolean> {
    return conditionHeld(
      this.#db.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: this.#key(record.webhook_id, record.delivery_id),
          UpdateExpression:
            'SET #status = :pending, chain_start = attempt_count, updated_at = :at, #expires = :expires REMOVE next_retry_at, final_reason, completed_at, dead_lettered',
          ConditionExpression:
            'attempt_count = :count AND attribute_not_exists(in_flight) AND #status IN (:delivered, :failed, :abandoned)',
          ExpressionAttributeNames: { '#status': 'status', '#expires': EXPIRES_AT },
          ExpressionAttributeValues: {
            ':delivered': 'delivered',
            ':failed': 'failed',
            ':abandoned': 'abandoned',
            ':pending': 'pending',
            ':at': at,
            ':count': record.attempt_count,
            ':expires': this.#expiry(Date.parse(at)),
          },
        }),
      ),
    );
  }

  /**
   * Undoes restartChain when the retry's job could not be queued: the
   * delivery is as it was, so the caller can try again.
   */
  async revertChain(record: DeliveryRecord): Promise<void> {
    const names: Record<string, string> = { '#status': 'status' };
    const values: Record<string, unknown> = {
      ':previous': record.status,
      ':chain': record.chain_start,
      ':count': record.attempt_count,
      ':pending': 'pending',
      ':dead': record.dead_lettered,
    };
    const set = ['#status = :previous', 'chain_start = :chain', 'dead_lettered = :dead'];
    for (const field of ['final_reason', 'completed_at'] as const) {
      const value = record[field];
      if (value) {
        set.push(`${field} = :${field}`);
        values[`:${field}`] = value;
      }
    }
    await conditionHeld(
      this.#db.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: this.#key(record.webhook_id, record.delivery_id),
          UpdateExpression: `SET ${set.join(', ')}`,
          ConditionExpression:
            '#status = :pending AND attempt_count = :count AND attribute_not_exists(in_flight)',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      ),
    );
  }

  /** A finished delivery written whole (synchronous test deliveries). */
  async put(record: DeliveryRecord): Promise<void> {
    await this.#db.send(new PutCommand({ TableName: this.#table, Item: toDeliveryItem(record) }));
  }

  /**
   * A page of a webhook's deliveries, newest first. Each query reads at most
   * what the page still lacks, and a page takes at most a few queries, so a
   * filter that matches little costs short pages, not a walk of the history.
   */
  async list(
    webhookId: string,
    query: DeliveryQuery,
    nowMs: number,
  ): Promise<{ items: DeliveryRecord[]; next?: string }> {
    const upper = query.toMs === undefined ? undefined : deliveryIdBounds(query.toMs).last;
    const lower = query.fromMs === undefined ? undefined : deliveryIdBounds(query.fromMs).first;
    const names: Record<string, string> = {
      '#pk': KEYS.partition,
      '#sk': KEYS.sort,
      '#expires': EXPIRES_AT,
    };
    const values: Record<string, unknown> = {
      ':pk': webhookPartition(webhookId),
      ':now': Math.floor(nowMs / 1000),
    };
    const filters = ['#expires > :now'];
    if (query.status) {
      names['#status'] = 'status';
      values[':status'] = query.status;
      filters.push('#status = :status');
    }
    if (query.eventType) {
      names['#event'] = 'event';
      names['#eventType'] = 'event_type';
      values[':eventType'] = query.eventType;
      filters.push('#event.#eventType = :eventType');
    }
    values[':low'] = deliverySort(lower ?? '');
    values[':high'] = upper ? deliverySort(upper) : `${DELIVERY_SORT_PREFIX}\uffff`;

    const items: DeliveryRecord[] = [];
    let startKey: Record<string, unknown> | undefined = query.after
      ? this.#key(webhookId, query.after)
      : undefined;
    for (let queries = 0; queries < MAX_QUERIES_PER_PAGE && items.length < query.limit; queries++) {
      const page = await this.#db.send(
        new QueryCommand({
          TableName: this.#table,
          KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :low AND :high',
          FilterExpression: filters.join(' AND '),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ScanIndexForward: false,
          Limit: query.limit - items.length,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) items.push(fromDeliveryItem(item));
      startKey = page.LastEvaluatedKey;
      if (!startKey) break;
    }
    const lastKey = startKey?.[KEYS.sort];
    return typeof lastKey === 'string'
      ? { items, next: lastKey.slice(DELIVERY_SORT_PREFIX.length) }
      : { items };
  }

  async firstIngestion(tenant: string, eventId: string, nowMs: number): Promise<number> {
    const key = { [KEYS.partition]: eventPartition(tenant, eventId), [KEYS.sort]: EVENT_SORT };
    const recorded = await conditionHeld(
      this.#db.send(
        new PutCommand({
          TableName: this.#table,
          Item: { ...key, ingested_at: nowMs, [EXPIRES_AT]: this.#expiry(nowMs) },
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: { '#pk': KEYS.partition },
        }),
      ),
    );
    if (recorded) return nowMs;
    const { Item } = await this.#db.send(
      new GetCommand({ TableName: this.#table, Key: key, ConsistentRead: true }),
    );
    const first = Item?.ingested_at;
    if (typeof first !== 'number') throw new Error(`Event ${eventId} has no ingestion time`);
    return first;
  }

  /** DynamoDB deletes expired items lazily (and the local emulator never does): reads skip them. */
  #isExpired(item: Record<string, unknown>): boolean {
    const expires = item[EXPIRES_AT];
    return typeof expires === 'number' && expires * 1000 <= this.#now();
  }

  #expiry(fromMs: number): number {
    return expiresAt(fromMs, this.#retentionMs);
  }

  #key(webhookId: string, deliveryId: string) {
    return { [KEYS.partition]: webhookPartition(webhookId), [KEYS.sort]: deliverySort(deliveryId) };
  }
}
