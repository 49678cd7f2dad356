import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { createDocumentClient } from '../functions/commons/clients.ts';
import { applyUpdate, conditionHolds, itemSize } from './dynamodb-expressions.ts';
import { FakeDynamoDb } from './fakes.ts';

const documentClient = (fake: FakeDynamoDb) => {
  const client = new DynamoDBClient({ region: 'us-east-1' });
  fake.attach(client);
  return createDocumentClient(client);
};

describe('itemSize', () => {
  it('counts names, UTF-8 strings, significant digits and container overhead', () => {
    // Prepare
    const item = { id: 'é', n: 1200, ok: true, list: ['ab'], map: { k: 7 } };

    // Act
    const bytes = itemSize(item);

    // Assess: id 2+2, n 1+2, ok 2+1, list 4+(3+1+2), map 3+(3+1+1+2)
    expect(bytes).toBe(4 + 3 + 3 + 10 + 10);
  });
});

describe('conditionHolds', () => {
  it('reads OR of ANDs of comparisons, IN lists and existence checks', () => {
    // Prepare
    const item = { attempt_count: 1, status: 'pending', in_flight: { attempt: 1 } };
    const expression = {
      names: { '#status': 'status' },
      values: { ':previous': 1, ':pending': 'pending', ':retrying': 'retrying', ':n': 2 },
    };

    // Act
    const claimable = conditionHolds(
      'attempt_count = :previous AND attribute_not_exists(in_flight) AND #status IN (:pending, :retrying)',
      item,
      expression,
    );
    const inFlight = conditionHolds(
      'in_flight.attempt = :n OR #status = :pending',
      item,
      expression,
    );

    // Assess
    expect(claimable).toBe(false);
    expect(inFlight).toBe(true);
  });
});

describe('applyUpdate', () => {
  it('applies SET (list_append, if_not_exists, +), ADD and REMOVE', () => {
    // Prepare
    const item: Record<string, unknown> = { attempts: [1], total: 2, version: 1, in_flight: {} };
    const expression = { names: { '#v': 'version' }, values: { ':a': [2], ':one': 1, ':s': 'x' } };

    // Act
    applyUpdate(
      item,
      'ADD total :one SET attempts = list_append(attempts, :a), #v = #v + :one, since = if_not_exists(since, :s) REMOVE in_flight',
      expression,
    );

    // Assess
    expect(item).toEqual({ attempts: [1, 2], total: 3, version: 2, since: 'x' });
  });
});

describe('FakeDynamoDb', () => {
  it('answers the document client, honours conditions and bills writes by the larger image', async () => {
    // Prepare
    const fake = new FakeDynamoDb();
    const db = documentClient(fake);
    const key = { PK: 'p', SK: 's' };
    const put = () =>
      db.send(
        new PutCommand({
          TableName: 't',
          Item: { ...key, body: 'x'.repeat(1500) },
          ConditionExpression: 'attribute_not_exists(PK)',
        }),
      );

    // Act
    await put();
    const second = await put().then(
      () => 'written',
      (error: Error) => error.name,
    );
    await db.send(
      new UpdateCommand({
        TableName: 't',
        Key: key,
        UpdateExpression: 'SET extra = :extra',
        ExpressionAttributeValues: { ':extra': 'y'.repeat(700) },
      }),
    );
    const { Item } = await db.send(new GetCommand({ TableName: 't', Key: key }));

    // Assess
    expect(second).toBe('ConditionalCheckFailedException');
    expect(Item?.extra).toHaveLength(700);
    expect(fake.counts()).toMatchObject({
      'PutItemCommand t': { requests: 2, writeUnits: 4, conditionFailures: 1 },
      'UpdateItemCommand t': { requests: 1, writeUnits: 3 },
      'GetItemCommand t': { requests: 1, readUnits: 0.5 },
    });
  });

  it('bills each item of a BatchWriteItem by its larger image', async () => {
    // Prepare
    const fake = new FakeDynamoDb();
    const db = documentClient(fake);
    const item = (size: number, id: string) => ({ PK: 'p', SK: id, body: 'x'.repeat(size) });
    await db.send(new PutCommand({ TableName: 't', Item: item(2000, 'a') }));
    fake.resetCounts();

    // Act
    await db.send(
      new BatchWriteCommand({
        RequestItems: {
          t: [{ PutRequest: { Item: item(10, 'a') } }, { PutRequest: { Item: item(10, 'b') } }],
        },
      }),
    );

    // Assess: "a" replaced a 2 KB item (2 units), "b" is new and small (1 unit)
    expect(fake.counts()).toEqual({
      'BatchWriteItemCommand t': expect.objectContaining({
        requests: 1,
        itemsWritten: 2,
        writeUnits: 3,
      }),
    });
  });
});
