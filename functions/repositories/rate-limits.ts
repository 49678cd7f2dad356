import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { EXPIRES_AT, KEYS, RATE_SORT, webhookPartition } from '../commons/table.ts';
import type { RateLimiter } from '../domain/delivery/ports.ts';
import { reserve } from '../domain/delivery/rate-limit.ts';
import { conditionHeld } from './records.ts';

/**
 * Each rate-limited webhook's GCRA state, one number, in the deliveries
 * table, shared by every concurrent delivery worker. Updates are
 * compare-and-set on that number; a worker that loses the race reads again.
 */

const ROUNDS = 5;
const MINUTE_MS = 60_000;

export class RateLimitRepository implements RateLimiter {
  readonly #db: DynamoDBDocumentClient;
  readonly #table: string;

  constructor(db: DynamoDBDocumentClient, tableName: string) {
    this.#db = db;
    this.#table = tableName;
  }

  async reserve(
    webhookId: string,
    limit: { requests_per_minute: number; burst_limit: number },
    requested: number,
    nowMs: number,
  ): Promise<number[]> {
    const key = { [KEYS.partition]: webhookPartition(webhookId), [KEYS.sort]: RATE_SORT };
    for (let round = 0; round < ROUNDS; round++) {
      const { Item } = await this.#db.send(
        new GetCommand({ TableName: this.#table, Key: key, ConsistentRead: true }),
      );
      const previous = typeof Item?.tat === 'number' ? Item.tat : undefined;
      const decision = reserve(
        previous === undefined ? undefined : { tat: previous },
        nowMs,
        limit,
        requested,
      );
      const written = await conditionHeld(
        this.#db.send(
          new PutCommand({
            TableName: this.#table,
            Item: {
              ...key,
              tat: decision.tat,
              // The state means nothing once the bucket is full again.
              [EXPIRES_AT]: Math.ceil((decision.tat + MINUTE_MS) / 1000) + 3600,
            },
            ConditionExpression:
              previous === undefined ? 'attribute_not_exists(tat)' : 'tat = :previous',
            ...(previous === undefined
              ? {}
              : { ExpressionAttributeValues: { ':previous': previous } }),
          }),
        ),
      );
      if (written) return decision.slots;
    }
    throw new Error(`The rate limit of webhook ${webhookId} is too contended; try again`);
  }
}
