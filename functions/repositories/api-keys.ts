import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  paginateQuery,
  type QueryCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import {
  API_KEY_SORT,
  API_KEYS_INDEX_PARTITION,
  apiKeyIndexSort,
  apiKeyPartition,
  GSI1,
  KEYS,
  TENANT_SORT,
  tenantPartition,
} from '../commons/table.ts';
import {
  type ApiKeyLookup,
  type ApiKeyRecord,
  apiKeyRecordSchema,
} from '../domain/keys/api-keys.ts';
import { conditionHeld, readRecord } from './records.ts';

const readKey = (item: Record<string, unknown>): ApiKeyRecord =>
  readRecord(apiKeyRecordSchema, item, `API key ${String(item.key_id ?? '')}`);

/**
 * API keys in the config table, one item per key addressed by its id (derived
 * from the key's hash), so the authorizer needs a single GetItem. GSI1 lists
 * them for the keys CLI.
 */
export class ApiKeyRepository implements ApiKeyLookup {
  readonly #db: DynamoDBDocumentClient;
  readonly #table: string;

  constructor(db: DynamoDBDocumentClient, tableName: string) {
    this.#db = db;
    this.#table = tableName;
  }

  async get(keyId: string): Promise<ApiKeyRecord | undefined> {
    const { Item } = await this.#db.send(
      new GetCommand({
        TableName: this.#table,
        Key: { [KEYS.partition]: apiKeyPartition(keyId), [KEYS.sort]: API_KEY_SORT },
        ConsistentRead: true,
      }),
    );
    return Item ? readKey(Item) : undefined;
  }

  /**
   * Stores a key and makes sure its tenant exists. Returns false if the key
   * is already stored (the same key string registered twice).
   */
  async create(record: ApiKeyRecord): Promise<boolean> {
    await this.#db.send(
      new UpdateCommand({
        TableName: this.#table,
        Key: { [KEYS.partition]: tenantPartition(record.tenant), [KEYS.sort]: TENANT_SORT },
        UpdateExpression: 'SET #tenant = :tenant, #created = if_not_exists(#created, :now)',
        ExpressionAttributeNames: { '#tenant': 'tenant', '#created': 'created_at' },
        ExpressionAttributeValues: { ':tenant': record.tenant, ':now': record.created_at },
      }),
    );
    return conditionHeld(
      this.#db.send(
        new PutCommand({
          TableName: this.#table,
          Item: {
            ...record,
            [KEYS.partition]: apiKeyPartition(record.key_id),
            [KEYS.sort]: API_KEY_SORT,
            [KEYS.gsi1Partition]: API_KEYS_INDEX_PARTITION,
            [KEYS.gsi1Sort]: apiKeyIndexSort(record.tenant, record.created_at, record.key_id),
          },
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: { '#pk': KEYS.partition },
        }),
      ),
    );
  }

  /** Every key, or one tenant's, oldest first. */
  async list(tenant?: string): Promise<ApiKeyRecord[]> {
    const keys: ApiKeyRecord[] = [];
    const query: QueryCommandInput = {
      TableName: this.#table,
      IndexName: GSI1,
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': KEYS.gsi1Partition },
      ExpressionAttributeValues: { ':pk': API_KEYS_INDEX_PARTITION },
    };
    if (tenant !== undefined) {
      query.KeyConditionExpression = '#pk = :pk AND begins_with(#sk, :prefix)';
      query.ExpressionAttributeNames = { ...query.ExpressionAttributeNames, '#sk': KEYS.gsi1Sort };
      query.ExpressionAttributeValues = {
        ...query.ExpressionAttributeValues,
        ':prefix': `${tenant}#`,
      };
    }
    for await (const page of paginateQuery({ client: this.#db }, query)) {
      for (const item of page.Items ?? []) keys.push(readKey(item));
    }
    return keys;
  }

  /** Marks a key revoked; returns the revoked record, or undefined if there is no such key. */
  async revoke(keyId: string, at: Date): Promise<ApiKeyRecord | undefined> {
    const revoking = this.#db.send(
      new UpdateCommand({
        TableName: this.#table,
        Key: { [KEYS.partition]: apiKeyPartition(keyId), [KEYS.sort]: API_KEY_SORT },
        UpdateExpression: 'SET #revoked = if_not_exists(#revoked, :at)',
        ConditionExpression: 'attribute_exists(#pk)',
        ExpressionAttributeNames: { '#revoked': 'revoked_at', '#pk': KEYS.partition },
        ExpressionAttributeValues: { ':at': at.toISOString() },
        ReturnValues: 'ALL_NEW',
      }),
    );
    if (!(await conditionHeld(revoking))) return undefined;
    const { Attributes } = await revoking;
    return Attributes ? readKey(Attributes) : undefined;
  }
}
