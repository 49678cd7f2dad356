import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  type BatchGetCommandOutput,
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  paginateQuery,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import {
  KEYS,
  TENANT_SORT,
  tenantPartition,
  WEBHOOK_COUNT,
  WEBHOOK_SORT_PREFIX,
  webhookSort,
} from '../commons/table.ts';
import type { CircuitUpdate, ProbeClaim } from '../domain/delivery/circuit.ts';
import type { CircuitStore, WebhookDirectory, WebhookStats } from '../domain/delivery/ports.ts';
import { type WebhookRecord, webhookRecordSchema } from '../domain/webhooks/schema.ts';
import type { WebhookStore } from '../domain/webhooks/service.ts';
import { conditionHeld, readRecord, UnreadableRecordError } from './records.ts';

/**
 * Webhooks in the config table: one item each in their tenant's partition.
 * Lists query that partition; nothing here scans.
 */
const readWebhook = (item: Record<string, unknown>): WebhookRecord =>
  readRecord(
    webhookRecordSchema,
    item,
    `webhook ${String(item.SK ?? '')} of ${String(item.PK ?? '')}`,
  );

export class WebhookRepository implements WebhookStore, WebhookDirectory, CircuitStore {
  readonly #db: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #onUnreadable: (error: UnreadableRecordError) => void;

  /**
   * `onUnreadable` hears of stored webhooks a list had to leave out because
   * they no longer match the schema: one such item must not hide the others.
   */
  constructor(
    db: DynamoDBDocumentClient,
    tableName: string,
    onUnreadable: (error: UnreadableRecordError) => void = () => undefined,
  ) {
    this.#db = db;
    this.#table = tableName;
    this.#onUnreadable = onUnreadable;
  }

  async get(tenant: string, webhookId: string): Promise<WebhookRecord | undefined> {
    const { Item } = await this.#db.send(
      new GetCommand({
        TableName: this.#table,
        Key: this.#key(tenant, webhookId),
        ConsistentRead: true,
      }),
    );
    return Item ? readWebhook(Item) : undefined;
  }

  async listByTenant(tenant: string): Promise<WebhookRecord[]> {
    const webhooks: WebhookRecord[] = [];
    for await (const page of paginateQuery({ client: this.#db }, this.#tenantQuery(tenant))) {
      for (const item of page.Items ?? []) {
        try {
          webhooks.push(readWebhook(item));
        } catch (error) {
          if (!(error instanceof UnreadableRecordError)) throw error;
          this.#onUnreadable(error);
        }
      }
    }
    return webhooks;
  }

  reserveSlot(tenant: string, max: number): Promise<boolean> {
    return conditionHeld(
      this.#db.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: this.#tenantKey(tenant),
          UpdateExpression: 'ADD #count :one',
          ConditionExpression: 'attribute_not_exists(#count) OR #count < :max',
          ExpressionAttributeNames: { '#count': WEBHOOK_COUNT },
          ExpressionAttributeValues: { ':one': 1, ':max': max },
        }),
      ),
    );
  }

  /** Never below zero: a counter that was repaired meanwhile may already be lower. */
  async releaseSlot(tenant: string): Promise<void> {
    await conditionHeld(
      this.#db.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: this.#tenantKey(tenant),
          UpdateExpression: 'ADD #count :minusOne',
          ConditionExpression: '#count > :zero',
          ExpressionAttributeNames: { '#count': WEBHOOK_COUNT },
          ExpressionAttributeValues: { ':minusOne': -1, ':zero': 0 },
        }),
      ),
    );
  }

  /**
   * Counts the tenant's webhooks and lowers the counter to that count if it is
   * higher (a request interrupted between its two writes leaves it so). The
   * write is conditional on the counter not having moved meanwhile.
   */
  async reconcileSlots(tenant: string): Promise<number> {
    const { Item } = await this.#db.send(
      new GetCommand({
        TableName: this.#table,
        Key: this.#tenantKey(tenant),
        ConsistentRead: true,
      }),
    );
    const counted = Item?.[WEBHOOK_COUNT];
    let actual = 0;
    const query = { ...this.#tenantQuery(tenant), Select: 'COUNT' as const };
    for await (const page of paginateQuery({ client: this.#db }, query)) actual += page.Count ?? 0;
    if (typeof counted !== 'number' || actual >= counted) return actual;
    await conditionHeld(
      this.#db.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: this.#tenantKey(tenant),
          UpdateExpression: 'SET #count = :actual',
          ConditionExpression: '#count = :counted',
          ExpressionAttributeNames: { '#count': WEBHOOK_COUNT },
          ExpressionAttributeValues: { ':actual': actual, ':counted': counted },
        }),
      ),
    );
    return actual;
  }

  async create(webhook: WebhookRecord): Promise<void> {
    await this.#db.send(
      new PutCommand({
        TableName: this.#table,
        Item: { ...webhook, ...this.#key(webhook.tenant, webhook.webhook_id) },
        ConditionExpression: 'attribute_not_exists(#pk)',
        ExpressionAttributeNames: { '#pk': KEYS.partition },
      }),
    );
  }

  async update(
    tenant: string,
    webhookId: string,
    changes: Partial<WebhookRecord>,
    expectedVersion: number,
  ): Promise<boolean> {
    const names: Record<string, string> = { '#version': 'version' };
    const values: Record<string, unknown> = { ':expected': expectedVersion, ':one': 1 };
    const assignments = ['#version = #version + :one'];
    // A cleared field is removed, not stored as null: a stored null would
    // count as present to if_not_exists in the delivery counters' update.
    const removals: string[] = [];
    Object.entries(changes).forEach(([field, value], index) => {
      if (field === 'version' || value === undefined) return;
      names[`#f${index}`] = field;
      if (value === null) {
        removals.push(`#f${index}`);
        return;
      }
      values[`:v${index}`] = value;
      assignments.push(`#f${index} = :v${index}`);
    });
    return conditionHeld(
      this.#db.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: this.#key(tenant, webhookId),
          UpdateExpression: `SET ${assignments.join(', ')}${removals.length > 0 ? ` REMOVE ${removals.join(', ')}` : ''}`,
          // Requires the item to exist: a delete that won the race is final.
          ConditionExpression: '#version = :expected',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      ),
    );
  }

  delete(tenant: string, webhookId: string): Promise<boolean> {
    return conditionHeld(
      this.#db.send(
        new DeleteCommand({
          TableName: this.#table,
          Key: this.#key(tenant, webhookId),
          ConditionExpression: 'attribute_exists(#pk)',
          ExpressionAttributeNames: { '#pk': KEYS.partition },
        }),
      ),
    );
  }

  /**
   * One BatchGet per 100 webhooks. Strongly consistent: a webhook created a
   * moment ago must not look deleted to its first delivery.
   */
  async getMany(
    keys: readonly { tenant: string; webhookId: string }[],
  ): Promise<{ found: Map<string, WebhookRecord>; unreadable: Set<string> }> {
    const found = new Map<string, WebhookRecord>();
    const unreadable = new Set<string>();
    for (let start = 0; start < keys.length; start += 100) {
      let request:
        | Record<string, { Keys: Record<string, unknown>[]; ConsistentRead: boolean }>
        | undefined = {
        [this.#table]: {
          Keys: keys.slice(start, start + 100).map((key) => this.#key(key.tenant, key.webhookId)),
          ConsistentRead: true,
        },
      };
      for (let round = 0; request && round < 5; round++) {
        const answer: BatchGetCommandOutput = await this.#db.send(
          new BatchGetCommand({ RequestItems: request }),
        );
        for (const item of answer.Responses?.[this.#table] ?? []) {
          try {
            const webhook = readWebhook(item);
            found.set(webhook.webhook_id, webhook);
          } catch (error) {
            if (!(error instanceof UnreadableRecordError)) throw error;
            this.#onUnreadable(error);
            const sort = item[KEYS.sort];
            if (typeof sort === 'string') unreadable.add(sort.slice(WEBHOOK_SORT_PREFIX.length));
          }
        }
        const left: Record<string, unknown>[] | undefined =
          answer.UnprocessedKeys?.[this.#table]?.Keys;
        request =
          left && left.length > 0
            ? { [this.#table]: { Keys: left, ConsistentRead: true } }
            : undefined;
      }
      if (request) throw new Error('DynamoDB left webhook reads unprocessed after 5 rounds');
    }
    return { found, unreadable };
  }

  /**
   * One batch's outcomes in one write. The counters are not part of the
   * webhook's configuration, so this leaves `version` alone and never makes a
   * concurrent PUT retry. `failing_since` marks an unbroken run of failures.
   */
  async recordStats(
    tenant: string,
    webhookId: string,
    stats: WebhookStats,
  ): Promise<{ failingSince?: string; isActive: boolean } | undefined> {
    const values: Record<string, unknown> = {
      ':total': stats.delivered + stats.failed,
      ':ok': stats.delivered,
      ':failed': stats.failed,
    };
    const set: string[] = [];
    if (stats.lastAttemptAt) {
      set.push('last_delivery_at = :last');
      values[':last'] = stats.lastAttemptAt;
    }
    const remove: string[] = [];
    if (stats.lastSuccessAt) {
      set.push('last_success_at = :success');
      values[':success'] = stats.lastSuccessAt;
    }
    if (stats.lastFailureAt) {
      set.push('last_failure_at = :failure');
      values[':failure'] = stats.lastFailureAt;
    }
    if (stats.recovered) remove.push('failing_since');
    else if (stats.failingSince) {
      values[':since'] = stats.failingSince;
      // A success earlier in this batch ended the previous run; otherwise the run goes on.
      set.push(
        stats.lastSuccessAt
          ? 'failing_since = :since'
          : 'failing_since = if_not_exists(failing_since, :since)',
      );
    }
    try {
      const { Attributes } = await this.#db.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: this.#key(tenant, webhookId),
          UpdateExpression: [
            'ADD total_deliveries :total, successful_deliveries :ok, failed_deliveries :failed',
            set.length > 0 ? `SET ${set.join(', ')}` : '',
            remove.length > 0 ? `REMOVE ${remove.join(', ')}` : '',
          ].join(' '),
          ConditionExpression: 'attribute_exists(#pk)',
          ExpressionAttributeNames: { '#pk': KEYS.partition },
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      if (!Attributes) return undefined;
      const failingSince = Attributes.failing_since;
      return {
        isActive: Attributes.is_active === true,
        ...(typeof failingSince === 'string' ? { failingSince } : {}),
      };
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  }

  /** Switches the webhook off and says when; a configuration change, so the version moves. */
  disable(tenant: string, webhookId: string, at: string): Promise<boolean> {
    return conditionHeld(
      this.#db.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: this.#key(tenant, webhookId),
          UpdateExpression:
            'SET is_active = :off, auto_disabled_at = :at, updated_at = :at, #version = #version + :one',
          ConditionExpression: 'is_active = :on',
          ExpressionAttributeNames: { '#version': 'version' },
          ExpressionAttributeValues: { ':off': false, ':on': true, ':at': at, ':one': 1 },
        }),
      ),
    );
  }

  /**
   * The probe's claim is a compare-and-set on `circuit_retry_at`, which it
   * moves to the next wait: of the workers that saw the circuit half-open,
   * one wins, and a probe that fails needs no write of its own.
   */
  claimProbe(tenant: string, webhookId: string, claim: ProbeClaim): Promise<boolean> {
    return conditionHeld(
      this.#db.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: this.#key(tenant, webhookId),
          UpdateExpression:
            'SET circuit_retry_at = :retry, circuit_probe_at = :at, circuit_reopens = :reopens',
          ConditionExpression: `attribute_exists(circuit_opened_at) AND ${
            claim.seenRetryAt === undefined
              ? 'attribute_not_exists(circuit_retry_at)'
              : 'circuit_retry_at = :seen'
          }`,
          ExpressionAttributeValues: {
            ':retry': claim.retryAt,
            ':at': claim.at,
            ':reopens': claim.reopens,
            ...(claim.seenRetryAt === undefined ? {} : { ':seen': claim.seenRetryAt }),
          },
        }),
      ),
    );
  }

  /**
   * One write of the circuit and lane (circuit.ts, CircuitUpdate). Counting
   * is an ADD, so concurrent workers never lose each other's failures; it
   * and opening hold only while the circuit is closed. The count that would
   * reach the threshold is refused (a conditional check, which writes
   * nothing) and opens the circuit instead. Like the counters it leaves
   * `version` alone.
   */
  async updateCircuit(tenant: string, webhookId: string, update: CircuitUpdate): Promise<boolean> {
    const closed = 'attribute_exists(#pk) AND attribute_not_exists(circuit_opened_at)';
    const write = (expression: string, condition: string, values: Record<string, unknown>) =>
      conditionHeld(
        this.#db.send(
          new UpdateCommand({
            TableName: this.#table,
            Key: this.#key(tenant, webhookId),
            UpdateExpression: expression,
            ConditionExpression: condition,
            ExpressionAttributeNames: { '#pk': KEYS.partition },
            ...(Object.keys(values).length > 0 ? { ExpressionAttributeValues: values } : {}),
          }),
        ),
      );
    switch (update.kind) {
      case 'open':
        return write(
          'SET circuit_opened_at = :at, circuit_retry_at = :retry, circuit_reopens = :zero, circuit_failures = :failures, circuit_timeouts = :timeouts, circuit_last_failure = :why REMOVE circuit_probe_at',
          closed,
          {
            ':at': update.at,
            ':retry': update.retryAt,
            ':zero': 0,
            ':failures': update.run.failures,
            ':timeouts': update.run.timeouts,
            ':why': update.lastFailure,
          },
        );
      case 'add-failures': {
        // Adds while the run stays short of both thresholds; the batch whose
        // failures reach one (however many workers count) opens the circuit.
        const { run, thresholds } = update;
        const short = (field: string, room: string) =>
          `(attribute_not_exists(${field}) OR ${field} < ${room})`;
        const added = await write(
          'ADD circuit_failures :failures, circuit_timeouts :timeouts SET circuit_last_failure = :why',
          [
            closed,
            short('circuit_failures', ':failureRoom'),
            ...(thresholds.timeouts > 0 ? [short('circuit_timeouts', ':timeoutRoom')] : []),
          ].join(' AND '),
          {
            ':failures': run.failures,
            ':timeouts': run.timeouts,
            ':why': update.lastFailure,
            ':failureRoom': thresholds.failures - run.failures,
            ...(thresholds.timeouts > 0
              ? { ':timeoutRoom': thresholds.timeouts - run.timeouts }
              : {}),
          },
        );
        if (added) return true;
        return write(
          'SET circuit_opened_at = :at, circuit_retry_at = :retry, circuit_reopens = :zero, circuit_last_failure = :why ADD circuit_failures :failures, circuit_timeouts :timeouts REMOVE circuit_probe_at',
          closed,
          {
            ':at': update.at,
            ':retry': update.retryAt,
            ':zero': 0,
            ':failures': run.failures,
            ':timeouts': run.timeouts,
            ':why': update.lastFailure,
          },
        );
      }
      case 'set-failures':
        return update.run.failures === 0
          ? write('REMOVE circuit_failures, circuit_timeouts, circuit_last_failure', closed, {})
          : write('SET circuit_failures = :failures, circuit_timeouts = :timeouts', closed, {
              ':failures': update.run.failures,
              ':timeouts': update.run.timeouts,
            });
      case 'close':
        return write(
          'SET lane = :lane, lane_since = :at REMOVE circuit_opened_at, circuit_retry_at, circuit_reopens, circuit_probe_at, circuit_failures, circuit_timeouts, circuit_last_failure',
          'attribute_exists(#pk)',
          { ':lane': update.lane, ':at': update.at },
        );
      case 'lane':
        return write(
          'SET lane = :lane, lane_since = :at',
          'attribute_exists(#pk) AND (attribute_not_exists(lane) OR lane <> :lane)',
          { ':lane': update.lane, ':at': update.at },
        );
    }
  }

  #tenantKey(tenant: string) {
    return { [KEYS.partition]: tenantPartition(tenant), [KEYS.sort]: TENANT_SORT };
  }

  #key(tenant: string, webhookId: string) {
    return { [KEYS.partition]: tenantPartition(tenant), [KEYS.sort]: webhookSort(webhookId) };
  }

  #tenantQuery(tenant: string) {
    return {
      TableName: this.#table,
      // A webhook just created or deleted must show in the next list and count.
      ConsistentRead: true,
      KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
      ExpressionAttributeNames: { '#pk': KEYS.partition, '#sk': KEYS.sort },
      ExpressionAttributeValues: { ':pk': tenantPartition(tenant), ':prefix': WEBHOOK_SORT_PREFIX },
    };
  }
}
