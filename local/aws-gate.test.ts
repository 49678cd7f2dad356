import {
  CreateQueueCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccessRecord } from './aws-gate.ts';
import { startGate } from './aws-gate.ts';
import { type RunningEmulator, startSqs } from './emulators.ts';
import { PolicyEvaluator } from './iam.ts';

/**
 * The gate in front of fauxqs: a function's call is held to its role's
 * policy and refused as AWS refuses it; an operator's call passes; a batch
 * entry AWS would fail alone fails alone.
 */

const where = { region: 'us-east-1', account: '000000000000' };
const QUEUE_ARN = 'arn:aws:sqs:us-east-1:000000000000:gated';
let sqs: RunningEmulator;
let gate: { endpoint: string; stop(): Promise<void> };
let queueUrl: string;
const records: AccessRecord[] = [];

const client = (accessKeyId: string) =>
  new SQSClient({
    endpoint: gate.endpoint,
    region: 'us-east-1',
    maxAttempts: 1,
    credentials: { accessKeyId, secretAccessKey: 'local' },
  });

beforeAll(async () => {
  sqs = await startSqs({ port: 0, host: '127.0.0.1' });
  const evaluator = new PolicyEvaluator(
    [
      {
        accessKeyId: 'ASIASENDER',
        functionName: 'sender',
        principalArn: 'arn:aws:sts::000000000000:assumed-role/SenderRole/sender',
        policies: [
          {
            name: 'send-only',
            document: {
              Version: '2012-10-17',
              Statement: [{ Effect: 'Allow', Action: 'sqs:SendMessage', Resource: QUEUE_ARN }],
            },
          },
        ],
      },
    ],
    new Map(),
    where.account,
  );
  gate = await startGate({
    service: 'sqs',
    host: '127.0.0.1',
    port: 0,
    target: sqs.endpoint,
    evaluator,
    where,
    onAccess: (record) => records.push(record),
  });
  const operator = client('operator');
  ({ QueueUrl: queueUrl = '' } = await operator.send(
    new CreateQueueCommand({ QueueName: 'gated' }),
  ));
});

afterAll(async () => {
  await gate.stop();
  await sqs.stop();
});

describe('the SQS gate', () => {
  it('lets a function make the calls its role allows, and records them', async () => {
    const sent = await client('ASIASENDER').send(
      new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'allowed' }),
    );

    expect(sent.MessageId).toEqual(expect.any(String));
    expect(records).toContainEqual({
      functionName: 'sender',
      principalArn: 'arn:aws:sts::000000000000:assumed-role/SenderRole/sender',
      action: 'sqs:SendMessage',
      resource: QUEUE_ARN,
      allowed: true,
    });
  });

  it('refuses a call the role does not allow as SQS does: AccessDenied, 403, action named', async () => {
    const error = await client('ASIASENDER')
      .send(new ReceiveMessageCommand({ QueueUrl: queueUrl }))
      .catch((caught: unknown) => caught);

    expect(error).toMatchObject({
      name: 'AccessDenied',
      $metadata: { httpStatusCode: 403 },
    });
    expect(String((error as Error).message)).toContain('sqs:receivemessage');
  });

  it('does not check an operator’s calls', async () => {
    const received = await client('operator').send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 0 }),
    );
    expect(received.$metadata.httpStatusCode).toBe(200);
  });

  it('fails alone a batch entry delayed past 900 seconds, and sends the others', async () => {
    const answer = await client('ASIASENDER').send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: [
          { Id: 'ok', MessageBody: 'fine' },
          { Id: 'late', MessageBody: 'too late', DelaySeconds: 901 },
        ],
      }),
    );

    expect(answer.Successful?.map((entry) => entry.Id)).toEqual(['ok']);
    expect(answer.Failed).toEqual([
      expect.objectContaining({ Id: 'late', Code: 'InvalidParameterValue', SenderFault: true }),
    ]);
  });
});
