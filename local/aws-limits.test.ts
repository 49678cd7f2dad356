import { describe, expect, it } from 'vitest';
import type { AwsService } from './aws-errors.ts';
import {
  AWS_LIMITS,
  batchEntryFailures,
  itemBytes,
  limitError,
  messageBytes,
} from './aws-limits.ts';

const { dynamodb: DDB, sqs: SQS } = AWS_LIMITS;
const QUEUE_URL = 'http://127.0.0.1:9324/000000000000/q';

/** An item of exactly `bytes`: `pk` = 'k' (3 bytes) and `p` holding the rest (1 byte of name). */
const itemOf = (bytes: number) => ({ pk: { S: 'k' }, p: { S: 'x'.repeat(bytes - 4) } });
const key = (index: number) => ({ pk: { S: `k${index}` } });
const puts = (count: number, bytes = 10) =>
  Array.from({ length: count }, () => ({ PutRequest: { Item: itemOf(bytes) } }));
const keys = (count: number) => Array.from({ length: count }, (_, index) => key(index));
const transact = (count: number, bytes = 10) =>
  Array.from({ length: count }, () => ({ Put: { TableName: 'T', Item: itemOf(bytes) } }));
const entries = (count: number, body = 'x', extra: Record<string, unknown> = {}) =>
  Array.from({ length: count }, (_, index) => ({
    Id: `e${index}`,
    MessageBody: body,
    ReceiptHandle: `r${index}`,
    ...extra,
  }));

const tooLarge = {
  status: 400,
  code: 'ValidationException',
  message: 'Item size has exceeded the maximum allowed size',
};
const invalid = (message: string) => ({ status: 400, code: 'InvalidParameterValue', message });
const tooManyEntries = (count: number) => ({
  status: 400,
  code: 'AWS.SimpleQueueService.TooManyEntriesInBatchRequest',
  message: `Maximum number of entries per request are 10. You have sent ${count}.`,
});

describe('limitError', () => {
  it.each<[string, AwsService, string, unknown, object | undefined]>([
    // DynamoDB: item size, on every write that carries a whole item.
    ['PutItem at 400 KB', 'dynamodb', 'PutItem', { Item: itemOf(DDB.maxItemBytes) }, undefined],
    [
      'PutItem a byte over',
      'dynamodb',
      'PutItem',
      { Item: itemOf(DDB.maxItemBytes + 1) },
      tooLarge,
    ],
    [
      'BatchWriteItem put at 400 KB',
      'dynamodb',
      'BatchWriteItem',
      { RequestItems: { T: puts(1, DDB.maxItemBytes) } },
      undefined,
    ],
    [
      'BatchWriteItem put a byte over',
      'dynamodb',
      'BatchWriteItem',
      {
        RequestItems: { T: [{ DeleteRequest: { Key: key(0) } }, ...puts(1, DDB.maxItemBytes + 1)] },
      },
      tooLarge,
    ],
    [
      'TransactWriteItems put at 400 KB',
      'dynamodb',
      'TransactWriteItems',
      { TransactItems: transact(1, DDB.maxItemBytes) },
      undefined,
    ],
    [
      'TransactWriteItems put a byte over',
      'dynamodb',
      'TransactWriteItems',
      { TransactItems: transact(1, DDB.maxItemBytes + 1) },
      tooLarge,
    ],
    [
      'UpdateItem, which only the stored item can size',
      'dynamodb',
      'UpdateItem',
      { Key: key(0), ExpressionAttributeValues: { ':p': { S: 'x'.repeat(DDB.maxItemBytes) } } },
      undefined,
    ],
    // DynamoDB: request counts.
    [
      'BatchWriteItem of 25',
      'dynamodb',
      'BatchWriteItem',
      { RequestItems: { T: puts(25) } },
      undefined,
    ],
    [
      'BatchWriteItem of 26 to one table',
      'dynamodb',
      'BatchWriteItem',
      { RequestItems: { T: puts(26) } },
      {
        status: 400,
        code: 'ValidationException',
        message:
          "1 validation error detected: Value at 'requestItems' failed to satisfy constraint: Map value must satisfy constraint: [Member must have length less than or equal to 25, Member must have length greater than or equal to 1]",
      },
    ],
    [
      'BatchWriteItem of 13 and 13 to two tables',
      'dynamodb',
      'BatchWriteItem',
      { RequestItems: { T: puts(13), U: puts(13) } },
      {
        status: 400,
        code: 'ValidationException',
        message: 'Too many items requested for the BatchWriteItem call',
      },
    ],
    [
      'BatchGetItem of 100',
      'dynamodb',
      'BatchGetItem',
      { RequestItems: { T: { Keys: keys(100) } } },
      undefined,
    ],
    [
      'BatchGetItem of 101 from one table',
      'dynamodb',
      'BatchGetItem',
      { RequestItems: { T: { Keys: keys(101) } } },
      {
        status: 400,
        code: 'ValidationException',
        message:
          "1 validation error detected: Value at 'requestItems.T.member.keys' failed to satisfy constraint: Member must have length less than or equal to 100",
      },
    ],
    [
      'BatchGetItem of 50 and 51 from two tables',
      'dynamodb',
      'BatchGetItem',
      { RequestItems: { T: { Keys: keys(50) }, U: { Keys: keys(51) } } },
      {
        status: 400,
        code: 'ValidationException',
        message: 'Too many items requested for the BatchGetItem call',
      },
    ],
    [
      'TransactWriteItems of 100',
      'dynamodb',
      'TransactWriteItems',
      { TransactItems: transact(100) },
      undefined,
    ],
    [
      'TransactWriteItems of 101',
      'dynamodb',
      'TransactWriteItems',
      { TransactItems: transact(101) },
      {
        status: 400,
        code: 'ValidationException',
        message:
          "1 validation error detected: Value at 'transactItems' failed to satisfy constraint: Member must have length less than or equal to 100",
      },
    ],
    // SQS: entries per batch.
    [
      'SendMessageBatch of 10',
      'sqs',
      'SendMessageBatch',
      { QueueUrl: QUEUE_URL, Entries: entries(10) },
      undefined,
    ],
    [
      'SendMessageBatch of 11',
      'sqs',
      'SendMessageBatch',
      { QueueUrl: QUEUE_URL, Entries: entries(11) },
      tooManyEntries(11),
    ],
    [
      'DeleteMessageBatch of 10',
      'sqs',
      'DeleteMessageBatch',
      { QueueUrl: QUEUE_URL, Entries: entries(10) },
      undefined,
    ],
    [
      'DeleteMessageBatch of 11',
      'sqs',
      'DeleteMessageBatch',
      { QueueUrl: QUEUE_URL, Entries: entries(11) },
      tooManyEntries(11),
    ],
    [
      'ChangeMessageVisibilityBatch of 10',
      'sqs',
      'ChangeMessageVisibilityBatch',
      { QueueUrl: QUEUE_URL, Entries: entries(10) },
      undefined,
    ],
    [
      'ChangeMessageVisibilityBatch of 11',
      'sqs',
      'ChangeMessageVisibilityBatch',
      { QueueUrl: QUEUE_URL, Entries: entries(11) },
      tooManyEntries(11),
    ],
    // SQS: message size, attributes included.
    [
      'SendMessage of 1 MiB',
      'sqs',
      'SendMessage',
      { QueueUrl: QUEUE_URL, MessageBody: 'x'.repeat(SQS.maxMessageBytes) },
      undefined,
    ],
    [
      'SendMessage of 1 MiB and a byte',
      'sqs',
      'SendMessage',
      { QueueUrl: QUEUE_URL, MessageBody: 'x'.repeat(SQS.maxMessageBytes + 1) },
      invalid(
        'One or more parameters are invalid. Reason: Message must be shorter than 1048576 bytes.',
      ),
    ],
    [
      'SendMessage whose attribute (k, String, v: 8 bytes) takes it over',
      'sqs',
      'SendMessage',
      {
        QueueUrl: QUEUE_URL,
        MessageBody: 'x'.repeat(SQS.maxMessageBytes - 7),
        MessageAttributes: { k: { DataType: 'String', StringValue: 'v' } },
      },
      invalid(
        'One or more parameters are invalid. Reason: Message must be shorter than 1048576 bytes.',
      ),
    ],
    [
      'SendMessageBatch of 1 MiB in all',
      'sqs',
      'SendMessageBatch',
      { QueueUrl: QUEUE_URL, Entries: entries(2, 'x'.repeat(SQS.maxMessageBytes / 2)) },
      undefined,
    ],
    [
      'SendMessageBatch a byte over 1 MiB in all',
      'sqs',
      'SendMessageBatch',
      {
        QueueUrl: QUEUE_URL,
        Entries: [...entries(1, 'x'.repeat(SQS.maxMessageBytes)), { Id: 'last', MessageBody: 'y' }],
      },
      {
        status: 400,
        code: 'AWS.SimpleQueueService.BatchRequestTooLong',
        message: 'Batch requests cannot be longer than 1048576 bytes. You have sent 1048577 bytes.',
      },
    ],
    // SQS: delays, receive counts, visibility timeouts.
    [
      'SendMessage delayed 900 s',
      'sqs',
      'SendMessage',
      { QueueUrl: QUEUE_URL, MessageBody: 'x', DelaySeconds: 900 },
      undefined,
    ],
    [
      'SendMessage delayed 901 s',
      'sqs',
      'SendMessage',
      { QueueUrl: QUEUE_URL, MessageBody: 'x', DelaySeconds: 901 },
      invalid(
        'Value 901 for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900.',
      ),
    ],
    [
      'SendMessage delayed -1 s',
      'sqs',
      'SendMessage',
      { QueueUrl: QUEUE_URL, MessageBody: 'x', DelaySeconds: -1 },
      invalid(
        'Value -1 for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900.',
      ),
    ],
    [
      'SendMessageBatch with an entry delayed 901 s (an entry failure, not a request error)',
      'sqs',
      'SendMessageBatch',
      { QueueUrl: QUEUE_URL, Entries: entries(1, 'x', { DelaySeconds: 901 }) },
      undefined,
    ],
    [
      'ReceiveMessage of 10',
      'sqs',
      'ReceiveMessage',
      { QueueUrl: QUEUE_URL, MaxNumberOfMessages: 10 },
      undefined,
    ],
    [
      'ReceiveMessage of 1',
      'sqs',
      'ReceiveMessage',
      { QueueUrl: QUEUE_URL, MaxNumberOfMessages: 1 },
      undefined,
    ],
    [
      'ReceiveMessage of 11',
      'sqs',
      'ReceiveMessage',
      { QueueUrl: QUEUE_URL, MaxNumberOfMessages: 11 },
      invalid(
        'Value 11 for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.',
      ),
    ],
    [
      'ReceiveMessage of 0',
      'sqs',
      'ReceiveMessage',
      { QueueUrl: QUEUE_URL, MaxNumberOfMessages: 0 },
      invalid(
        'Value 0 for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.',
      ),
    ],
    [
      'ReceiveMessage hiding for 12 h',
      'sqs',
      'ReceiveMessage',
      { QueueUrl: QUEUE_URL, VisibilityTimeout: 43_200 },
      undefined,
    ],
    [
      'ReceiveMessage hiding for 12 h and a second',
      'sqs',
      'ReceiveMessage',
      { QueueUrl: QUEUE_URL, VisibilityTimeout: 43_201 },
      invalid(
        'Value 43201 for parameter VisibilityTimeout is invalid. Reason: Must be >= 0 and <= 43200, if provided.',
      ),
    ],
    [
      'ChangeMessageVisibility to 12 h',
      'sqs',
      'ChangeMessageVisibility',
      { QueueUrl: QUEUE_URL, ReceiptHandle: 'r', VisibilityTimeout: 43_200 },
      undefined,
    ],
    [
      'ChangeMessageVisibility to 12 h and a second',
      'sqs',
      'ChangeMessageVisibility',
      { QueueUrl: QUEUE_URL, ReceiptHandle: 'r', VisibilityTimeout: 43_201 },
      invalid(
        'Value 43201 for parameter VisibilityTimeout is invalid. Reason: Must be >= 0 and <= 43200, if provided.',
      ),
    ],
    // Bodies it cannot read go to the emulator unjudged.
    ['a PutItem without an item', 'dynamodb', 'PutItem', { TableName: 'T' }, undefined],
    [
      'a batch whose entries are not a list',
      'sqs',
      'SendMessageBatch',
      { Entries: 'many' },
      undefined,
    ],
    ['no body at all', 'sqs', 'SendMessage', undefined, undefined],
  ])('%s', (_case, service, operation, body, expected) => {
    // Act
    const error = limitError(service, operation, body);

    // Assess
    expect(error).toEqual(expected);
  });
});

describe('batchEntryFailures', () => {
  it('fails the SendMessageBatch entries delayed out of range, alone', () => {
    // Prepare
    const body = {
      QueueUrl: QUEUE_URL,
      Entries: [
        { Id: 'late', MessageBody: 'x', DelaySeconds: 901 },
        { Id: 'ok', MessageBody: 'x', DelaySeconds: 900 },
        { Id: 'early', MessageBody: 'x', DelaySeconds: -1 },
      ],
    };

    // Act
    const failures = batchEntryFailures('sqs', 'SendMessageBatch', body);

    // Assess
    expect(failures).toEqual([
      {
        Id: 'late',
        SenderFault: true,
        Code: 'InvalidParameterValue',
        Message:
          'Value 901 for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900.',
      },
      {
        Id: 'early',
        SenderFault: true,
        Code: 'InvalidParameterValue',
        Message:
          'Value -1 for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900.',
      },
    ]);
  });

  it('fails the ChangeMessageVisibilityBatch entries hidden past 12 h', () => {
    // Prepare
    const body = {
      QueueUrl: QUEUE_URL,
      Entries: [
        { Id: 'ok', ReceiptHandle: 'r1', VisibilityTimeout: 43_200 },
        { Id: 'long', ReceiptHandle: 'r2', VisibilityTimeout: 43_201 },
      ],
    };

    // Act
    const failures = batchEntryFailures('sqs', 'ChangeMessageVisibilityBatch', body);

    // Assess
    expect(failures.map(({ Id }) => Id)).toEqual(['long']);
  });

  it('finds nothing in other operations or services', () => {
    expect(batchEntryFailures('sqs', 'DeleteMessageBatch', { Entries: entries(2) })).toEqual([]);
    expect(batchEntryFailures('dynamodb', 'SendMessageBatch', { Entries: entries(2) })).toEqual([]);
  });
});

describe('itemBytes', () => {
  it.each<[string, Parameters<typeof itemBytes>[0], number]>([
    ['a string, in UTF-8 bytes', { name: { S: 'héllo' } }, 4 + 6],
    ['an attribute name in UTF-8 bytes', { ñ: { S: '' } }, 2],
    ['a binary, decoded', { b: { B: Buffer.from('abcd').toString('base64') } }, 1 + 4],
    ['a boolean and a null', { t: { BOOL: true }, n: { NULL: true } }, 2 + 2],
    [
      'a number, a byte per two significant digits plus one',
      { n: { N: '-12345.6700' } },
      1 + 4 + 1,
    ],
    ['zero', { n: { N: '0' } }, 1 + 2],
    ['a string set, its members', { s: { SS: ['ab', 'cde'] } }, 1 + 5],
    ['a number set, its members', { s: { NS: ['1', '22'] } }, 1 + 2 + 2],
    ['a binary set, its decoded members', { s: { BS: ['AAE=', 'AA=='] } }, 1 + 3],
    ['an empty list, 3 bytes', { l: { L: [] } }, 1 + 3],
    [
      'a list, 3 bytes plus a byte per element',
      { l: { L: [{ S: 'ab' }, { BOOL: false }] } },
      1 + 3 + 3 + 2,
    ],
    [
      'a map, names included',
      { m: { M: { ab: { S: 'c' }, d: { NULL: true } } } },
      1 + 3 + 2 + 3 + 2,
    ],
  ])('sizes %s', (_case, item, expected) => {
    expect(itemBytes(item)).toBe(expected);
  });
});

describe('messageBytes', () => {
  it('counts the body and each attribute name, type and value, binaries decoded', () => {
    // Prepare
    const entry = {
      MessageBody: 'héllo',
      MessageAttributes: {
        trace: { DataType: 'String', StringValue: 'abc' },
        blob: { DataType: 'Binary', BinaryValue: Buffer.from([1, 2, 3, 4]).toString('base64') },
      },
    };

    // Act
    const bytes = messageBytes(entry);

    // Assess
    expect(bytes).toBe(6 + (5 + 6 + 3) + (4 + 6 + 4));
  });
});
