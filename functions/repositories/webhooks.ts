import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  paginateQuery,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import * as v from 'valibot';
import { KEYS, tenantPartition, WEBHOOK_SORT_PREFIX, webhookSort } from '../commons/table.ts';
import { type WebhookRecord, webhookRecordSchema } from '../domain/webhooks/schema.ts';
import type { WebhookStore } from '../domain/webhooks/service.ts';

/**
 * Webhooks in the config table: one item each in their tenant's partition.
 * Lists query that partition; nothing here scans.
 */
export class WebhookRepository implements WebhookStore {
  readonly #db: DynamoDBDocumentClient;
  readonly #table: string;

  constructor(db: DynamoDBDocumentClient, tableName: string) {
    this.#db = db;
    this.#table = tableName;
  }

  async get(tenant: string, webhookId: string): Promise<WebhookRecord | undefined> {
    const { Item } = await this.#db.send(
      new GetCommand({
        TableName: this.#table,
        Key: this.#key(tenant, webhookId),
        ConsistentRead: true,
      }),
    );
    return Item ? v.parse(webhookRecordSchema, Item) : undefined;
  }

  async listByTenant(tenant: string): Promise<WebhookRecord[]> {
    const webhooks: WebhookRecord[] = [];
    for await (const page of paginateQuery({ client: this.#db }, this.#tenantQuery(tenant))) {
      for (const item of page.Items ?? []) webhooks.push(v.parse(webhookRecordSchema, item));
    }
    return webhooks;
  }

  async countByTenant(tenant: string): Promise<number> {
    let count = 0;
    const query = { ...this.#tenantQuery(tenant), Select: 'COUNT' as const };
    for await (const page of paginateQuery({ client: this.#db }, query)) count += page.Count ?? 0;
    return count;
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
    Object.entries(changes).forEach(([field, value], index) => {
      if (field === 'version' || value === undefined) return;
      names[`#f${index}`] = field;
      values[`:v${index}`] = value;
      assignments.push(`#f${index} = :v${index}`);
    });
    try {
      await this.#db.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: this.#key(tenant, webhookId),
          UpdateExpression: `SET ${assignments.join(', ')}`,
          // Requires the item to exist: a delete that won the race is final.
          ConditionExpression: '#version = :expected',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async delete(tenant: string, webhookId: string): Promise<boolean> {
    try {
      await this.#db.send(
        new DeleteCommand({
          TableName: this.#table,
          Key: this.#key(tenant, webhookId),
          ConditionExpression: 'attribute_exists(#pk)',
          ExpressionAttributeNames: { '#pk': KEYS.partition },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  #key(tenant: string, webhookId: string) {
    return { [KEYS.partition]: tenantPartition(tenant), [KEYS.sort]: webhookSort(webhookId) };
  }

  #tenantQuery(tenant: string) {
    return {
      TableName: this.#table,
      KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
      ExpressionAttributeNames: { '#pk': KEYS.partition, '#sk': KEYS.sort },
      ExpressionAttributeValues: { ':pk': tenantPartition(tenant), ':prefix': WEBHOOK_SORT_PREFIX },
    };
  }
}
