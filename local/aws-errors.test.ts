import { createServer, type Server } from 'node:http';
import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import {
  BatchRequestTooLong,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
  TooManyEntriesInBatchRequest,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AwsError,
  type AwsService,
  accessDenied,
  dynamoDbError,
  encodeAwsError,
  sqsError,
} from './aws-errors.ts';
import { close, listen } from './http-server.ts';

const PRINCIPAL = 'arn:aws:sts::000000000000:assumed-role/DeliveryRole/delivery';
const TABLE_ARN = 'arn:aws:dynamodb:us-east-1:000000000000:table/T';
const QUEUE_ARN = 'arn:aws:sqs:us-east-1:000000000000:webhook-deliveries';
const QUEUE_URL = 'http://127.0.0.1/000000000000/webhook-deliveries';

/** A stand-in for AWS that answers every request with the error under test. */
let server: Server;
let endpoint: string;
let answer: { service: AwsService; error: AwsError } | undefined;

beforeAll(async () => {
  server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      if (!answer) throw new Error('no answer prepared');
      const encoded = encodeAwsError(answer.service, answer.error, 'REQUEST-1');
      response.writeHead(encoded.status, encoded.headers).end(encoded.body);
    });
  });
  endpoint = `http://127.0.0.1:${await listen(server, 0, '127.0.0.1')}`;
});

afterAll(() => close(server));

const clientOptions = () => ({
  endpoint,
  region: 'us-east-1',
  credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  maxAttempts: 1,
});

/** What the real SDK client throws when the service answers with `error`. */
const thrownBy = async (service: AwsService, error: AwsError): Promise<unknown> => {
  answer = { service, error };
  const send =
    service === 'dynamodb'
      ? new DynamoDBClient(clientOptions()).send(
          new PutItemCommand({ TableName: 'T', Item: { pk: { S: 'a' } } }),
        )
      : new SQSClient(clientOptions()).send(
          new SendMessageCommand({ QueueUrl: QUEUE_URL, MessageBody: 'x' }),
        );
  return send.then(
    () => expect.unreachable('the call should fail'),
    (thrown: unknown) => thrown,
  );
};

describe('accessDenied as the SDK sees it', () => {
  it('is an AccessDeniedException with status 400 on DynamoDB', async () => {
    // Prepare
    const error = accessDenied('dynamodb', {
      principalArn: PRINCIPAL,
      action: 'dynamodb:BatchWriteItem',
      resource: TABLE_ARN,
    });

    // Act
    const thrown = await thrownBy('dynamodb', error);

    // Assess
    expect(thrown).toMatchObject({
      name: 'AccessDeniedException',
      message: `User: ${PRINCIPAL} is not authorized to perform: dynamodb:BatchWriteItem on resource: ${TABLE_ARN} because no identity-based policy allows the dynamodb:BatchWriteItem action`,
      $fault: 'client',
      $metadata: { httpStatusCode: 400, requestId: 'REQUEST-1' },
    });
  });

  it('is AccessDenied (the query-compatible code) with status 403 on SQS', async () => {
    // Prepare
    const error = accessDenied('sqs', {
      principalArn: PRINCIPAL,
      action: 'sqs:SendMessage',
      resource: QUEUE_ARN,
    });

    // Act
    const thrown = await thrownBy('sqs', error);

    // Assess
    expect(thrown).toMatchObject({
      name: 'AccessDenied',
      message: `User: ${PRINCIPAL} is not authorized to perform: sqs:sendmessage on resource: ${QUEUE_ARN} because no identity-based policy allows the sqs:sendmessage action`,
      $fault: 'client',
      $metadata: { httpStatusCode: 403, requestId: 'REQUEST-1' },
      Error: { Code: 'AccessDenied', Type: 'Sender' },
    });
  });
});

describe('limit errors as the SDK sees them', () => {
  it.each<[string, AwsService, AwsError, string, number]>([
    [
      'a DynamoDB validation error',
      'dynamodb',
      dynamoDbError('ValidationException', 'Item size has exceeded the maximum allowed size'),
      'ValidationException',
      400,
    ],
    [
      'an SQS invalid parameter',
      'sqs',
      sqsError('InvalidParameterValue', 'Value 11 for parameter MaxNumberOfMessages is invalid.'),
      'InvalidParameterValue',
      400,
    ],
    [
      'too many SQS batch entries',
      'sqs',
      sqsError(
        'AWS.SimpleQueueService.TooManyEntriesInBatchRequest',
        'Maximum number of entries per request are 10. You have sent 11.',
      ),
      'TooManyEntriesInBatchRequest',
      400,
    ],
    [
      'an SQS batch over the size limit',
      'sqs',
      sqsError(
        'AWS.SimpleQueueService.BatchRequestTooLong',
        'Batch requests cannot be longer than 1048576 bytes. You have sent 1048577 bytes.',
      ),
      'BatchRequestTooLong',
      400,
    ],
  ])('names %s %s, status %s', async (_case, service, error, name, status) => {
    // Act
    const thrown = await thrownBy(service, error);

    // Assess
    expect(thrown).toMatchObject({
      name,
      message: error.message,
      $metadata: { httpStatusCode: status },
    });
  });

  it('surfaces modelled SQS errors as the client classes code can catch by type', async () => {
    // Prepare
    answer = {
      service: 'sqs',
      error: sqsError('AWS.SimpleQueueService.TooManyEntriesInBatchRequest', 'eleven'),
    };
    const client = new SQSClient(clientOptions());
    const send = () =>
      client.send(new SendMessageBatchCommand({ QueueUrl: QUEUE_URL, Entries: [] }));

    // Act & Assess
    await expect(send()).rejects.toBeInstanceOf(TooManyEntriesInBatchRequest);
    answer = { service: 'sqs', error: sqsError('AWS.SimpleQueueService.BatchRequestTooLong', '') };
    await expect(send()).rejects.toBeInstanceOf(BatchRequestTooLong);
  });
});

describe('encodeAwsError', () => {
  it('writes DynamoDB errors as AWS JSON 1.0 with the coral shape', () => {
    // Act
    const encoded = encodeAwsError(
      'dynamodb',
      accessDenied('dynamodb', {
        principalArn: PRINCIPAL,
        action: 'dynamodb:Query',
        resource: TABLE_ARN,
      }),
      'R',
    );

    // Assess
    expect(encoded.status).toBe(400);
    expect(encoded.headers).toEqual({
      'content-type': 'application/x-amz-json-1.0',
      'x-amzn-requestid': 'R',
    });
    expect(JSON.parse(encoded.body)).toEqual({
      __type: 'com.amazon.coral.service#AccessDeniedException',
      Message: expect.stringContaining('dynamodb:Query'),
    });
  });

  it('adds the query-compatible header to SQS errors', () => {
    // Act
    const denied = encodeAwsError(
      'sqs',
      accessDenied('sqs', {
        principalArn: PRINCIPAL,
        action: 'sqs:ReceiveMessage',
        resource: QUEUE_ARN,
      }),
      'R',
    );
    const tooMany = encodeAwsError(
      'sqs',
      sqsError('AWS.SimpleQueueService.TooManyEntriesInBatchRequest', 'm'),
      'R',
    );
    const internal = encodeAwsError('sqs', { status: 500, code: 'InternalFailure', message: 'm' });

    // Assess
    expect(denied.status).toBe(403);
    expect(denied.headers['x-amzn-query-error']).toBe('AccessDenied;Sender');
    expect(JSON.parse(denied.body).__type).toBe('com.amazon.coral.service#AccessDeniedException');
    expect(tooMany.headers['x-amzn-query-error']).toBe(
      'AWS.SimpleQueueService.TooManyEntriesInBatchRequest;Sender',
    );
    expect(JSON.parse(tooMany.body)).toEqual({
      __type: 'com.amazonaws.sqs#TooManyEntriesInBatchRequest',
      message: 'm',
    });
    expect(internal.headers['x-amzn-query-error']).toBe('InternalFailure;Receiver');
    expect(internal.headers['x-amzn-requestid']).toMatch(/^[0-9a-f-]{36}$/);
  });
});
