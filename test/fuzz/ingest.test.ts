import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_TYPES } from '../../functions/domain/events/catalog.ts';
import type { LocalRuntime } from '../../local/runtime.ts';
import { startReceiver, type TestReceiver } from '../support/receiver.ts';
import {
  apiClient,
  createKey,
  emitEvents,
  eventually,
  sqsClientFor,
  startDeliveryRuntime,
} from '../support/runtime.ts';
import {
  type Json,
  JsonObject,
  type Mutation,
  mutate,
  nestedText,
  notAnObjectBody,
  RawJson,
  toJsonText,
} from './json.ts';
import { fuzzParameters } from './settings.ts';

/**
 * Producer messages on the ingest queue, valid and malformed side by side, as
 * a producer (or an attacker with the queue's send right) could write them.
 * Each malformed one lands in the events dead-letter queue as it was sent,
 * with a `reason`; each valid one is delivered to the receiver exactly once,
 * even when sent twice; events of a tenant without webhooks go nowhere; and
 * nothing malformed holds the others up.
 */

const TENANT = 'ingest-fuzz';
/** A tenant with no webhooks: its valid events are matched to nothing. */
const QUIET_TENANT = 'ingest-quiet';

let runtime: LocalRuntime;
let receiver: TestReceiver;
let sqs: SQSClient;

beforeAll(async () => {
  runtime = await startDeliveryRuntime();
  receiver = await startReceiver();
  sqs = sqsClientFor(runtime);
  const api = apiClient(runtime, await createKey(runtime, TENANT));
  const created = await api.post('/webhooks', {
    name: 'Every event',
    url: receiver.url,
    event_types: [...EVENT_TYPES],
  });
  expect(created.status, created.text).toBe(201);
}, 60_000);

afterAll(async () => {
  sqs?.destroy();
  await receiver?.close();
  await runtime?.stop();
});

// --- Messages ----------------------------------------------------------------------------

/**
 * Characters a valid event may carry: NUL and controls included, lone
 * surrogates and U+FFFE/U+FFFF (which SQS refuses) not. Astral characters
 * (emoji) are left out for now: AWS SQS takes them, but the local emulator
 * (fauxqs) refuses them in the delivery job, so such an event is never
 * delivered locally (a defect of the local runtime, reported).
 */
const character = fc
  .integer({ min: 0, max: 0xfffd })
  .filter((code) => code < 0xd800 || code > 0xdfff)
  .map((code) => String.fromCharCode(code));
const text = (maxLength: number, minLength = 0) =>
  fc.string({ unit: character, minLength, maxLength });
const PROTOTYPE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const dataKey = text(10).filter((key) => !PROTOTYPE_KEYS.has(key));

/** Numbers stored exactly: within ±(2^53 - 1), and 0 or at least 1e-130 from it. */
const storableNumber = fc.oneof(
  fc.integer(),
  fc.maxSafeInteger(),
  fc
    .double({ min: -1e15, max: 1e15, noNaN: true })
    .filter((value) => value === 0 || Math.abs(value) >= 1e-130),
);

const validData: fc.Arbitrary<Json> = fc.letrec<{ value: Json }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', maxDepth: 4 },
    fc.constant(null),
    fc.boolean(),
    storableNumber,
    text(20),
    fc.array(tie('value'), { maxLength: 3 }),
    fc
      .array(fc.tuple(dataKey, tie('value')), { maxLength: 3 })
      .map((entries) => new JsonObject(entries)),
  ),
})).value;

const isoInstant = fc
  .date({
    min: new Date('1970-01-01T00:00:00Z'),
    max: new Date('2100-01-01T00:00:00Z'),
    noInvalidDate: true,
  })
  .chain((date) =>
    fc.constantFrom(
      date.toISOString(),
      date.toISOString().slice(0, 10),
      date.toISOString().replace('Z', '+05:30'),
      date.toISOString().slice(0, 19),
    ),
  );

interface EventFields {
  event_type: string;
  occurred_at?: string;
  entity_type?: string;
  entity_id?: string;
  tags?: string[];
  withId: boolean;
  data: [string, Json][];
}

const eventFields: fc.Arbitrary<EventFields> = fc.record(
  {
    event_type: fc.constantFrom(...EVENT_TYPES),
    occurred_at: isoInstant,
    entity_type: fc.constantFrom('ticket', 'project', 'x', 'a_1', 'z'.repeat(64)),
    entity_id: text(128, 1),
    tags: fc.array(text(100, 1), { maxLength: 50 }),
    withId: fc.boolean(),
    data: fc.array(fc.tuple(dataKey, validData), { maxLength: 4 }),
  },
  { requiredKeys: ['event_type', 'withId', 'data'] },
);

/** A valid event as a tree; `probe` in its data tells the receiver's copies apart. */
const eventTree = (fields: EventFields, tenant: string, probe: string): Json =>
  new JsonObject([
    ...(fields.withId ? ([['event_id', `fz-${probe}`]] as const) : []),
    ['event_type', fields.event_type],
    ['tenant_id', tenant],
    ...(fields.occurred_at === undefined ? [] : ([['occurred_at', fields.occurred_at]] as const)),
    ...(fields.entity_type === undefined ? [] : ([['entity_type', fields.entity_type]] as const)),
    ...(fields.entity_id === undefined ? [] : ([['entity_id', fields.entity_id]] as const)),
    ...(fields.tags === undefined ? [] : ([['tags', fields.tags]] as const)),
    // The probe last: a data key of the same name from the generator must not hide it.
    ['data', new JsonObject([...fields.data.filter(([key]) => key !== 'probe'), ['probe', probe]])],
  ]);

/** One change that makes a valid event malformed, whatever else it holds. */
const BREAKS: Mutation[] = [
  ...['event_type', 'tenant_id', 'data'].map(
    (field): Mutation => ({ kind: 'remove', path: [field] }),
  ),
  ...(['webhook.test', 'ticket.created ', 'TICKET.CREATED', '', 1, null, []] as Json[]).map(
    (value): Mutation => ({ kind: 'set', path: ['event_type'], value }),
  ),
  ...([' x', '-x', 'x/y', '', 'a'.repeat(129), 1, null] as Json[]).map(
    (value): Mutation => ({ kind: 'set', path: ['tenant_id'], value }),
  ),
  ...(['', 'a b', 'a'.repeat(129), 'é', '\u0000', 1, null] as Json[]).map(
    (value): Mutation => ({ kind: 'set', path: ['event_id'], value }),
  ),
  ...(['2024-02-30', 'yesterday', '', 1_700_000_000, null] as Json[]).map(
    (value): Mutation => ({ kind: 'set', path: ['occurred_at'], value }),
  ),
  ...(['Ticket', '1x', '', 'a'.repeat(65), 1] as Json[]).map(
    (value): Mutation => ({ kind: 'set', path: ['entity_type'], value }),
  ),
  ...(['', 'a'.repeat(129), 'x\uffff', 1, null] as Json[]).map(
    (value): Mutation => ({ kind: 'set', path: ['entity_id'], value }),
  ),
  ...(['x', [''], [1], ['\ufffe'], Array(51).fill('x'), ['a'.repeat(101)]] as Json[]).map(
    (value): Mutation => ({ kind: 'set', path: ['tags'], value }),
  ),
  ...([[], 'x', null, 1, true] as Json[]).map(
    (value): Mutation => ({ kind: 'set', path: ['data'], value }),
  ),
  ...['extra', 'eventType', '__proto__', 'constructor'].map(
    (key): Mutation => ({ kind: 'add', path: [], key, value: 1 }),
  ),
  ...(
    [
      new JsonObject([['__proto__', new JsonObject([['polluted', true]])]]),
      new JsonObject([['prototype', 1]]),
      'lone \ud800 surrogate',
      'not for a queue \uffff',
      new RawJson(nestedText(30, 'mixed')),
      new RawJson(nestedText(3000, 'array')),
      new RawJson('1e400'),
      new RawJson('-1e400'),
      new RawJson('9007199254740993'),
      new RawJson('1e-200'),
      'a'.repeat(130 * 1024),
    ] as Json[]
  ).map((value): Mutation => ({ kind: 'add', path: ['data'], key: 'bad', value })),
];

type Planned =
  | { kind: 'valid'; fields: EventFields; twice: boolean }
  | { kind: 'quiet'; fields: EventFields }
  | { kind: 'broken'; fields: EventFields; breaks: Mutation[] }
  | { kind: 'junk'; body: string };

/**
 * Characters a message body may not hold: SQS takes #x9 #xA #xD #x20-#xD7FF
 * #xE000-#xFFFD and astral ones, and the local emulator (fauxqs) no astral
 * ones either.
 */
const SQS_REFUSES = /[^\t\n\r\u0020-\ud7ff\ue000-\ufffd]/u;

const planned: fc.Arbitrary<Planned> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('valid' as const),
      fields: eventFields,
      twice: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('quiet' as const), fields: eventFields }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('broken' as const),
      fields: eventFields,
      breaks: fc.subarray(BREAKS, { minLength: 1, maxLength: 2 }),
    }),
  },
  {
    weight: 1,
    arbitrary: notAnObjectBody
      .filter((body) => body.length > 0 && !SQS_REFUSES.test(body))
      .map((body) => ({ kind: 'junk' as const, body })),
  },
);

/** JSON text SQS will carry: what it refuses, escaped (the same JSON value once parsed). */
const sqsSafe = (json: string) =>
  json.replace(/[\ufffe\uffff]|[\u{10000}-\u{10ffff}]/gu, (character) =>
    Array.from(
      { length: character.length },
      (_, index) => `\\u${character.charCodeAt(index).toString(16).padStart(4, '0')}`,
    ).join(''),
  );

// --- Queues ------------------------------------------------------------------------------

/** Takes every message off the events dead-letter queue until `count` have come, or time is up. */
const drainDeadLetters = async (count: number, timeoutMs: number): Promise<Message[]> => {
  const taken = new Map<string, Message>();
  const deadline = Date.now() + timeoutMs;
  while (taken.size < count && Date.now() < deadline) {
    const { Messages } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: runtime.queues.events.deadLetterUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        VisibilityTimeout: 60,
        MessageAttributeNames: ['All'],
      }),
    );
    for (const received of Messages ?? []) {
      if (received.MessageId) taken.set(received.MessageId, received);
    }
    if (Messages?.length) {
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: runtime.queues.events.deadLetterUrl,
          Entries: Messages.map((received, index) => ({
            Id: String(index),
            ReceiptHandle: received.ReceiptHandle,
          })),
        }),
      );
    }
  }
  return [...taken.values()];
};

const queueIsEmpty = async (url: string) => {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: url,
      AttributeNames: [
        'ApproximateNumberOfMessages',
        'ApproximateNumberOfMessagesNotVisible',
        'ApproximateNumberOfMessagesDelayed',
      ],
    }),
  );
  return Object.values(Attributes ?? {}).every((value) => value === '0');
};

const probeOf = (body: string): string | undefined => {
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed !== 'object' || parsed === null || !('data' in parsed)) return undefined;
    const data: unknown = parsed.data;
    return typeof data === 'object' && data !== null && 'probe' in data
      ? String(data.probe)
      : undefined;
  } catch {
    return undefined;
  }
};

let batchNumber = 0;

/** Sends the messages, waits for every outcome, and checks each one. */
const sendAndCheck = async (messages: readonly Planned[]) => {
  batchNumber += 1;
  receiver.requests.length = 0;
  const sent: { body: string; expect: 'delivered' | 'ignored' | 'rejected'; probe?: string }[] = [];
  messages.forEach((each, index) => {
    const probe = `${process.pid}-${batchNumber}-${index}`;
    if (each.kind === 'junk') {
      sent.push({ body: each.body, expect: 'rejected' });
      return;
    }
    const tenant = each.kind === 'quiet' ? QUIET_TENANT : TENANT;
    const tree = eventTree(each.fields, tenant, probe);
    if (each.kind === 'broken') {
      sent.push({
        body: sqsSafe(toJsonText(each.breaks.reduce(mutate, tree))),
        expect: 'rejected',
      });
      return;
    }
    const body = sqsSafe(toJsonText(tree));
    const outcome = each.kind === 'quiet' ? 'ignored' : 'delivered';
    sent.push({ body, expect: outcome, probe });
    // The same event again: with its event_id it is one event; without, two messages are two.
    if (each.kind === 'valid' && each.twice) {
      sent.push({ body, expect: outcome, ...(each.fields.withId ? {} : { probe }) });
    }
  });

  await emitEvents(
    runtime,
    sent.map(({ body }) => ({ raw: body })),
  );

  const rejected = sent.filter((each) => each.expect === 'rejected');
  const delivered = sent.filter((each) => each.expect === 'delivered');
  const deliveredCount = new Map<string, number>();
  for (const { probe } of delivered) {
    if (probe) deliveredCount.set(probe, (deliveredCount.get(probe) ?? 0) + 1);
  }
  const expectedDeliveries = delivered.filter(({ probe }) => probe).length;
  const dead = await drainDeadLetters(rejected.length, 30_000);
  await eventually(
    async () =>
      receiver.requests.length >= expectedDeliveries &&
      (await queueIsEmpty(runtime.queues.events.url)) &&
      (await queueIsEmpty(runtime.queues.deliveries.url)),
    30_000,
    `${expectedDeliveries} deliveries and empty queues`,
  );
  const summary = sent.map(({ body, expect }) => `${expect}: ${body.slice(0, 300)}`).join('\n');

  // Every malformed message, as it was sent, with its reason; nothing else.
  expect(dead.map((each) => each.Body).sort(), summary).toEqual(
    rejected.map(({ body }) => body).sort(),
  );
  for (const each of dead) {
    expect(each.MessageAttributes?.reason?.StringValue, each.Body?.slice(0, 300)).toMatch(
      /^Invalid event: ./,
    );
  }
  // Every valid event of the tenant, once (twice only when sent twice without an event_id).
  const received = new Map<string, number>();
  for (const request of receiver.requests) {
    const probe = probeOf(request.body) ?? `unknown: ${request.body.slice(0, 200)}`;
    received.set(probe, (received.get(probe) ?? 0) + 1);
  }
  expect(received, summary).toEqual(deliveredCount);
};

describe('ingest under malformed and valid messages', () => {
  it('sets each malformed one aside with a reason and delivers every valid one once', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(planned, { minLength: 1, maxLength: 12 }), sendAndCheck),
      // Each case waits for real deliveries: a few, and no shrinking against the runtime.
      { ...fuzzParameters(25), endOnFailure: true },
    );
  }, 240_000);

  it('sets aside events delivery could not store or queue, rather than retrying them for ever', async () => {
    // Found by fuzzing: these passed ingest, then failed every delivery attempt (the SDK refuses
    // numbers past 2^53 - 1, DynamoDB below 1e-130), went out changed (1e400 became null), or
    // could not be queued as a delivery job (SQS refuses U+FFFF).
    const valid: EventFields = { event_type: 'ticket.created', withId: true, data: [] };
    const breaks = ['1e400', '-1e400', '9007199254740993', '1e-200', '"\\uffff"'].map(
      (value): Planned => ({
        kind: 'broken',
        fields: valid,
        breaks: [{ kind: 'add', path: ['data'], key: 'n', value: new RawJson(value) }],
      }),
    );

    await sendAndCheck([...breaks, { kind: 'valid', fields: valid, twice: false }]);
  }, 60_000);
});
