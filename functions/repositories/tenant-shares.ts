import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { EXPIRES_AT, KEYS, SHARE_SORT, tenantPartition } from '../commons/table.ts';
import type { TenantShareStore } from '../domain/delivery/fan-out.ts';
import { conditionHeld } from './records.ts';

/**
 * Each tenant's share clock (`tat`, ms) in the deliveries table, shared by
 * every fan-out. Moving it is one conditional update and never a read:
 * a tenant that was idle starts from now, a busy one adds to its clock.
 * The path tried first is the one this environment last saw the tenant
 * take, so a steady tenant pays one write per batch; the other path
 * costs a second write only when the tenant changes between idle and busy.
 */

const ROUNDS = 3;

export class TenantShareRepository implements TenantShareStore {
  readonly #db: DynamoDBDocumentClient;
  readonly #table: string;
  /** The clock last seen per tenant, to guess the path. */
  readonly #seen = new Map<string, number>();

  constructor(db: DynamoDBDocumentClient, tableName: string) {
    this.#db = db;
    this.#table = tableName;
  }

  async advance(tenant: string, costMs: number, nowMs: number): Promise<number> {
    const key = { [KEYS.partition]: tenantPartition(tenant), [KEYS.sort]: SHARE_SORT };
    const expires = (tat: number) => Math.ceil(tat / 1000) + 3600;
    let busyFirst = (this.#seen.get(tenant) ?? 0) > nowMs;
    for (let round = 0; round < ROUNDS; round++) {
      if (!busyFirst) {
        const tat = nowMs + costMs;
        const idle = await conditionHeld(
          this.#db.send(
            new UpdateCommand({
              TableName: this.#table,
              Key: key,
              UpdateExpression: 'SET tat = :tat, #expires = :expires',
              ConditionExpression: 'attribute_not_exists(tat) OR tat < :now',
              ExpressionAttributeNames: { '#expires': EXPIRES_AT },
              ExpressionAttributeValues: { ':tat': tat, ':now': nowMs, ':expires': expires(tat) },
            }),
          ),
        );
        if (idle) {
          this.#seen.set(tenant, tat);
          return nowMs;
        }
      }
      busyFirst = false;
      try {
        const { Attributes } = await this.#db.send(
          new UpdateCommand({
            TableName: this.#table,
            Key: key,
            UpdateExpression: 'SET tat = tat + :cost, #expires = :expires',
            ConditionExpression: 'tat >= :now',
            ExpressionAttributeNames: { '#expires': EXPIRES_AT },
            ExpressionAttributeValues: {
              ':cost': costMs,
              ':now': nowMs,
              // Generous: the real clock is later than now; an hour past any likely tat.
              ':expires': expires(nowMs + 24 * 3600_000),
            },
            ReturnValues: 'UPDATED_NEW',
          }),
        );
        const tat = Attributes?.tat;
        if (typeof tat === 'number') {
          this.#seen.set(tenant, tat);
          return tat - costMs;
        }
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      }
    }
    throw new Error(`The share of tenant ${tenant} is too contended; try again`);
  }
}
