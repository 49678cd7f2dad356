import {
  BatchWriteCommand,
  type BatchWriteCommandOutput,
  type DynamoDBDocumentClient,
  paginateQuery,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import * as v from 'valibot';
import { EXPIRES_AT, KEYS } from '../commons/table.ts';
import {
  type Aggregate,
  type AggregateDelta,
  aggregateExpiresAt,
  FINAL_STATUSES,
  type Scope,
} from '../domain/analytics/aggregate.ts';
import type { Bucketed } from '../domain/analytics/report.ts';
import type { AnalyticsSink, AnalyticsStore } from '../domain/analytics/service.ts';
import { readRecord } from './records.ts';

/**
 * Delivery aggregates in the analytics table (docs/data-model.md): a
 * partition per tenant (its rollup) and per webhook of a tenant, an item per
 * hour (`HOUR#2026-03-01T12`) and, once a day is over and someone read it,
 * per day (`DAY#2026-03-01`). Every number is its own top-level attribute,
 * so a batch adds to an hour with one `ADD`, whatever was there before:
 * `delivered`, `failed`, `abandoned` (deliveries by final status),
 * `e:<event type>` (deliveries by event type), `attempts_ok`,
 * `attempts_failed`, `response_ms` (the attempts' durations summed) and
 * `h<n>` (the latency histogram's bucket n). `last_attempt_at`,
 * `last_success_at` and `last_failure_at` are the latest a batch wrote.
 */

export const tenantAnalyticsPartition = (tenant: string) => `TENANT#${tenant}`;
export const webhookAnalyticsPartition = (tenant: string, webhookId: string) =>
  `TENANT#${tenant}#WEBHOOK#${webhookId}`;
export const hourSort = (hour: string) => `HOUR#${hour}`;
export const daySort = (day: string) => `DAY#${day}`;

const partitionOf = (scope: Scope) =>
  scope.webhookId === undefined
    ? tenantAnalyticsPartition(scope.tenant)
    : webhookAnalyticsPartition(scope.tenant, scope.webhookId);

const EVENT_TYPE_PREFIX = 'e:';
const BUCKET_ATTRIBUTE = /^h(\d{1,3})$/;

const count = v.optional(v.pipe(v.number(), v.integer(), v.minValue(0)), 0);
const itemSchema = v.looseObject({
  SK: v.string(),
  delivered: count,
  failed: count,
  abandoned: count,
  attempts_ok: count,
  attempts_failed: count,
  response_ms: v.optional(v.pipe(v.number(), v.minValue(0)), 0),
  last_attempt_at: v.optional(v.string()),
  last_success_at: v.optional(v.string()),
  last_failure_at: v.optional(v.string()),
  [EXPIRES_AT]: v.number(),
});

const toAggregate = (item: Record<string, unknown>): Bucketed => {
  const read = readRecord(
    itemSchema,
    item,
    `analytics item ${String(item.SK)} of ${String(item.PK)}`,
  );
  const aggregate: Aggregate = {
    deliveries: { delivered: read.delivered, failed: read.failed, abandoned: read.abandoned },
    byEventType: new Map(),
    attempts: { ok: read.attempts_ok, failed: read.attempts_failed },
    responseMsSum: read.response_ms,
    histogram: new Map(),
    lastAttemptAt: read.last_attempt_at,
    lastSuccessAt: read.last_success_at,
    lastFailureAt: read.last_failure_at,
  };
  for (const [name, value] of Object.entries(item)) {
    if (typeof value !== 'number') continue;
    if (name.startsWith(EVENT_TYPE_PREFIX)) {
      aggregate.byEventType.set(name.slice(EVENT_TYPE_PREFIX.length), value);
    }
    const bucket = BUCKET_ATTRIBUTE.exec(name)?.[1];
    if (bucket !== undefined) aggregate.histogram.set(Number(bucket), value);
  }
  return { bucket: read.SK.slice(read.SK.indexOf('#') + 1), aggregate };
};

/** The aggregate's numbers as attributes, zeros left out. */
const numbersOf = (aggregate: Aggregate): [string, number][] =>
  [
    ...FINAL_STATUSES.map((status): [string, number] => [status, aggregate.deliveries[status]]),
    ['attempts_ok', aggregate.attempts.ok] as [string, number],
    ['attempts_failed', aggregate.attempts.failed] as [string, number],
    ['response_ms', aggregate.responseMsSum] as [string, number],
    ...[...aggregate.byEventType].map(([type, n]): [string, number] => [
      `${EVENT_TYPE_PREFIX}${type}`,
      n,
    ]),
    ...[...aggregate.histogram].map(([bucket, n]): [string, number] => [`h${bucket}`, n]),
  ].filter(([, value]) => value !== 0);

const lastTimesOf = (aggregate: Aggregate): [string, string][] =>
  (
    [
      ['last_attempt_at', aggregate.lastAttemptAt],
      ['last_success_at', aggregate.lastSuccessAt],
      ['last_failure_at', aggregate.lastFailureAt],
    ] as const
  ).flatMap(([name, at]) => (at === undefined ? [] : [[name, at] as [string, string]]));

/** DynamoDB's limit of items per BatchWriteItem. */
const MAX_BATCH_WRITE = 25;
const BATCH_WRITE_ROUNDS = 5;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class AnalyticsRepository implements AnalyticsSink, AnalyticsStore {
  readonly #db: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #retentionMonths: number;

  constructor(db: DynamoDBDocumentClient, tableName: string, retentionMonths: number) {
    this.#db = db;
    this.#table = tableName;
    this.#retentionMonths = retentionMonths;
  }

  /** One UpdateItem per delta, all at once: `ADD` to the counters, `SET` the last times. */
  async add(deltas: readonly AggregateDelta[]): Promise<AggregateDelta[]> {
    const results = await Promise.allSettled(deltas.map((delta) => this.#add(delta)));
    return deltas.filter((_, index) => results[index]?.status === 'rejected');
  }

  async #add({ scope, hour, aggregate }: AggregateDelta): Promise<void> {
    const names: Record<string, string> = { '#expires': EXPIRES_AT };
    const values: Record<string, unknown> = {
      ':expires': aggregateExpiresAt(hour, this.#retentionMonths),
    };
    const additions = numbersOf(aggregate).map(([name, value], index) => {
      names[`#n${index}`] = name;
      values[`:n${index}`] = value;
      return `#n${index} :n${index}`;
    });
    const sets = [
      '#expires = :expires',
      ...lastTimesOf(aggregate).map(([name, at], index) => {
        names[`#t${index}`] = name;
        values[`:t${index}`] = at;
        return `#t${index} = :t${index}`;
      }),
    ];
    await this.#db.send(
      new UpdateCommand({
        TableName: this.#table,
        Key: { [KEYS.partition]: partitionOf(scope), [KEYS.sort]: hourSort(hour) },
        UpdateExpression: `${additions.length > 0 ? `ADD ${additions.join(', ')} ` : ''}SET ${sets.join(', ')}`,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      }),
    );
  }

  async read(
    scope: Scope,
    kind: 'hour' | 'day',
    from: string,
    to: string,
    nowMs: number,
  ): Promise<Bucketed[]> {
    const sort = kind === 'hour' ? hourSort : daySort;
    const found: Bucketed[] = [];
    const pages = paginateQuery(
      { client: this.#db },
      {
        TableName: this.#table,
        KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :from AND :to',
        ExpressionAttributeNames: { '#pk': KEYS.partition, '#sk': KEYS.sort },
        ExpressionAttributeValues: {
          ':pk': partitionOf(scope),
          ':from': sort(from),
          ':to': sort(to),
        },
      },
    );
    for await (const page of pages) {
      for (const item of page.Items ?? []) {
        // DynamoDB's TTL deletes lazily (and the local emulator never does).
        if (typeof item[EXPIRES_AT] === 'number' && item[EXPIRES_AT] * 1000 <= nowMs) continue;
        found.push(toAggregate(item));
      }
    }
    return found;
  }

  /** Day items whole, 25 to a request; a day already past its expiry is not written. */
  async saveDays(scope: Scope, days: readonly Bucketed[], nowMs: number): Promise<void> {
    const nowSeconds = nowMs / 1000;
    const items = days.flatMap(({ bucket, aggregate }) => {
      const expires = aggregateExpiresAt(bucket, this.#retentionMonths);
      if (expires <= nowSeconds) return [];
      return [
        {
          PutRequest: {
            Item: {
              [KEYS.partition]: partitionOf(scope),
              [KEYS.sort]: daySort(bucket),
              ...Object.fromEntries(numbersOf(aggregate)),
              ...Object.fromEntries(lastTimesOf(aggregate)),
              [EXPIRES_AT]: expires,
            },
          },
        },
      ];
    });
    for (let start = 0; start < items.length; start += MAX_BATCH_WRITE) {
      let pending = items.slice(start, start + MAX_BATCH_WRITE);
      for (let round = 0; pending.length > 0; round++) {
        if (round === BATCH_WRITE_ROUNDS) {
          throw new Error('DynamoDB left day aggregates unwritten after retries');
        }
        if (round > 0) await sleep(50 * 2 ** round);
        const answer: BatchWriteCommandOutput = await this.#db.send(
          new BatchWriteCommand({ RequestItems: { [this.#table]: pending } }),
        );
        pending = (answer.UnprocessedItems?.[this.#table] ?? []) as typeof pending;
      }
    }
  }
}
