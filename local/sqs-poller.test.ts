import { createHash } from 'node:crypto';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { QUEUES } from '../lib/resources.ts';
import { type RunningEmulator, startSqs } from './emulators.ts';
import {
  type Poller,
  type PollerOptions,
  settleBatch,
  startPoller,
  toSqsRecord,
} from './sqs-poller.ts';

const VISIBILITY_TIMEOUT_SECONDS = 1;

let sqs: RunningEmulator;
let client: SQSClient;
let queue: { url: string; deadLetterUrl: string };
let queueArn: string;
let poller: Poller | undefined;

beforeEach(async () => {
  sqs = await startSqs({ port: 0, host: '127.0.0.1' });
  client = new SQSClient({
    endpoint: sqs.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  queue = await createQueuePair();
  queueArn = (await attributes(queue.url)).QueueArn ?? '';
});

afterEach(async () => {
  await poller?.stop();
  poller = undefined;
  client.destroy();
  await sqs.stop();
});

/** A queue with a dead-letter queue, redriven as the stack's ingest queue is. */
const createQueuePair = async () => {
  const create = async (name: string, attributes: Record<string, string>) =>
    (await client.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes })))
      .QueueUrl ?? '';
  const deadLetterUrl = await create('poller-test-dlq', {});
  const deadLetterArn = (await attributes(deadLetterUrl)).QueueArn;
  const url = await create('poller-test', {
    VisibilityTimeout: String(VISIBILITY_TIMEOUT_SECONDS),
    RedrivePolicy: JSON.stringify({
      deadLetterTargetArn: deadLetterArn,
      maxReceiveCount: String(QUEUES.events.maxReceiveCount),
    }),
  });
  return { url, deadLetterUrl };
};

const attributes = async (queueUrl: string) =>
  (
    await client.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['All'] }),
    )
  ).Attributes ?? {};

/** Messages anywhere in the queue: visible, in flight or delayed. */
const messagesIn = async (queueUrl: string) => {
  const found = await attributes(queueUrl);
  return (
    Number(found.ApproximateNumberOfMessages) +
    Number(found.ApproximateNumberOfMessagesNotVisible) +
    Number(found.ApproximateNumberOfMessagesDelayed ?? 0)
  );
};

const send = async (bodies: string[]) => {
  const { Successful } = await client.send(
    new SendMessageBatchCommand({
      QueueUrl: queue.url,
      Entries: bodies.map((body, index) => ({
        Id: String(index),
        MessageBody: body,
        MessageAttributes: { origin: { DataType: 'String', StringValue: 'test' } },
      })),
    }),
  );
  return (Successful ?? []).map((entry) => entry.MessageId ?? '');
};

const waitUntil = async (condition: () => boolean | Promise<boolean>, timeoutMs = 15_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('Timed out waiting for the condition');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

type Handler = (event: SQSEvent) => ReturnType<PollerOptions['handler']>;

/** A poller on the test queue that records every batch its handler got. */
const poll = (handler: Handler, overrides: Partial<PollerOptions> = {}) => {
  const batches: SQSRecord[][] = [];
  const lines: string[] = [];
  poller = startPoller({
    client,
    queueUrl: queue.url,
    queueArn,
    functionName: 'fan-out',
    timeoutMs: 5_000,
    handler: (event) => {
      batches.push(event.Records);
      return handler(event);
    },
    batchSize: 10,
    maxBatchingWindowSeconds: 0,
    reportBatchItemFailures: true,
    waitTimeSeconds: 1,
    log: (line) => lines.push(line),
    ...overrides,
  });
  return { batches, lines };
};

describe('startPoller against fauxqs', () => {
  it('delivers a batch shaped as Lambda does and deletes it', async () => {
    // Prepare
    const ids = await send(['{"n":1}', '{"n":2}', '{"n":3}']);

    // Act
    const { batches } = poll(async () => undefined);
    await waitUntil(() => batches.length === 1);
    await poller?.stop();

    // Assess
    const [batch] = batches;
    expect(batch?.map((record) => record.messageId)).toEqual(ids);
    expect(batch?.[0]).toEqual({
      messageId: ids[0],
      receiptHandle: expect.any(String),
      body: '{"n":1}',
      attributes: expect.objectContaining({
        ApproximateReceiveCount: '1',
        SentTimestamp: expect.stringMatching(/^\d+$/),
        SenderId: expect.any(String),
        ApproximateFirstReceiveTimestamp: expect.stringMatching(/^\d+$/),
      }),
      messageAttributes: {
        origin: {
          stringValue: 'test',
          stringListValues: [],
          binaryListValues: [],
          dataType: 'String',
        },
      },
      md5OfBody: createHash('md5').update('{"n":1}').digest('hex'),
      md5OfMessageAttributes: expect.any(String),
      eventSource: 'aws:sqs',
      eventSourceARN: queueArn,
      awsRegion: 'us-east-1',
    });
    expect(await messagesIn(queue.url)).toBe(0);
  });

  it('deletes all but the reported failures, which come back alone', async () => {
    // Prepare
    const [, failing] = await send(['{"n":1}', '{"n":2}', '{"n":3}']);

    // Act
    const { batches } = poll(async (event) =>
      event.Records.length > 1
        ? { batchItemFailures: [{ itemIdentifier: failing ?? '' }] }
        : undefined,
    );
    await waitUntil(() => batches.length === 2);
    await poller?.stop();

    // Assess
    expect(batches[1]?.map((record) => record.messageId)).toEqual([failing]);
    expect(batches[1]?.[0]?.attributes.ApproximateReceiveCount).toBe('2');
    expect(await messagesIn(queue.url)).toBe(0);
  });

  it('brings the whole batch back when the handler throws', async () => {
    // Prepare
    const ids = await send(['{"n":1}', '{"n":2}']);
    let calls = 0;

    // Act
    const { batches, lines } = poll(async () => {
      calls += 1;
      if (calls === 1) throw new Error('boom');
    });
    await waitUntil(() => batches.length === 2);
    await poller?.stop();

    // Assess
    expect(batches[1]?.map((record) => record.messageId).sort()).toEqual([...ids].sort());
    expect(batches[1]?.every((record) => record.attributes.ApproximateReceiveCount === '2')).toBe(
      true,
    );
    expect(lines.some((line) => line.includes('boom'))).toBe(true);
    expect(await messagesIn(queue.url)).toBe(0);
  });

  it('brings the whole batch back when the handler outlives the function timeout', async () => {
    // Prepare
    const [id] = await send(['{"slow":true}']);
    let calls = 0;

    // Act
    const { batches, lines } = poll(
      async () => {
        calls += 1;
        if (calls === 1) await new Promise((resolve) => setTimeout(resolve, 300));
      },
      { timeoutMs: 100 },
    );
    await waitUntil(() => batches.length === 2);
    await poller?.stop();

    // Assess
    expect(batches[1]?.[0]?.messageId).toBe(id);
    expect(lines.some((line) => line.includes('timed out'))).toBe(true);
  });

  it('brings the whole batch back when a reported id is not in the batch', async () => {
    // Prepare
    await send(['{"n":1}', '{"n":2}']);

    // Act
    const { batches } = poll(async () =>
      batches.length === 1
        ? { batchItemFailures: [{ itemIdentifier: 'not-in-batch' }] }
        : undefined,
    );
    await waitUntil(() => batches.length === 2);
    await poller?.stop();

    // Assess
    expect(batches[1]).toHaveLength(2);
  });

  it('leaves redrive to fauxqs: after maxReceiveCount failures the message is in the DLQ', async () => {
    // Prepare
    const [id] = await send(['{"poison":true}']);

    // Act
    const { batches } = poll(async () => {
      throw new Error('always fails');
    });
    await waitUntil(async () => (await messagesIn(queue.deadLetterUrl)) === 1, 20_000);
    await poller?.stop();

    // Assess
    expect(batches).toHaveLength(QUEUES.events.maxReceiveCount);
    expect(await messagesIn(queue.url)).toBe(0);
    const { Messages } = await client.send(
      new ReceiveMessageCommand({ QueueUrl: queue.deadLetterUrl }),
    );
    expect(Messages?.map((message) => message.MessageId)).toEqual([id]);
  }, 30_000);

  it('stops promptly in the middle of a long poll', async () => {
    // Prepare
    poll(async () => undefined, { waitTimeSeconds: 20 });
    await new Promise((resolve) => setTimeout(resolve, 200));

    // Act
    const started = performance.now();
    await poller?.stop();

    // Assess
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('waits for a batch in flight before stop resolves, and deletes it', async () => {
    // Prepare
    await send(['{"n":1}']);
    let finished = false;
    const { batches } = poll(async () => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      finished = true;
    });
    await waitUntil(() => batches.length === 1);

    // Act
    await poller?.stop();

    // Assess
    expect(finished).toBe(true);
    expect(await messagesIn(queue.url)).toBe(0);
  });

  it('logs SQS errors and keeps polling instead of crashing', async () => {
    // Prepare
    const { lines } = poll(async () => undefined, {
      queueUrl: `${sqs.endpoint}/000000000000/no-such-queue`,
    });

    // Act
    await waitUntil(() => lines.length >= 2);
    await poller?.stop();

    // Assess
    expect(lines[0]).toMatch(/polling no-such-queue failed, retrying in \d+ ms/);
  });
});

describe('settleBatch', () => {
  const record = (messageId: string) =>
    toSqsRecord({ MessageId: messageId, ReceiptHandle: `handle-${messageId}` }, 'arn', 0);
  const batch = [record('a'), record('b'), record('c')];
  const done = (response: unknown) =>
    settleBatch(batch, response).done.map((kept) => kept.messageId);

  it('deletes everything when the handler reports no failures', () => {
    expect(done(undefined)).toEqual(['a', 'b', 'c']);
    expect(done(null)).toEqual(['a', 'b', 'c']);
    expect(done({})).toEqual(['a', 'b', 'c']);
    expect(done({ batchItemFailures: [] })).toEqual(['a', 'b', 'c']);
    expect(done({ batchItemFailures: null })).toEqual(['a', 'b', 'c']);
  });

  it('keeps the reported failures', () => {
    expect(done({ batchItemFailures: [{ itemIdentifier: 'b' }] })).toEqual(['a', 'c']);
  });

  it('fails the whole batch on an unknown, empty or misnamed identifier', () => {
    expect(settleBatch(batch, { batchItemFailures: [{ itemIdentifier: 'z' }] })).toEqual({
      done: [],
      problem: 'itemIdentifier z is not in the batch',
    });
    expect(done({ batchItemFailures: [{ itemIdentifier: '' }] })).toEqual([]);
    expect(done({ batchItemFailures: [{ id: 'b' }] })).toEqual([]);
    expect(done('ok')).toEqual([]);
  });
});
