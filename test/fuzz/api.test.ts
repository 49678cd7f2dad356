import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { DeleteCommand, type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '../../local/runtime.ts';
import { expectErrorEnvelope, ROUTES, type RouteEntry, tenantState } from '../api/routes.ts';
import { startReceiver, type TestReceiver } from '../support/receiver.ts';
import {
  apiClient,
  createKey,
  documentClientFor,
  emitEvents,
  eventually,
  sqsClientFor,
  startDeliveryRuntime,
} from '../support/runtime.ts';
import { type Plan, plan, requestOf, type Target } from './api-requests.ts';
import { closeRawClient, type RawRequest, send } from './http.ts';
import { hostileJson, hostileNumber, hostileString, type Json } from './json.ts';
import { fuzzParameters } from './settings.ts';

/**
 * Every route of the route table, fuzzed through the local gateway: hostile
 * paths, query strings, headers and bodies (wrong types, arrays for objects,
 * huge and deep documents, prototype keys, NUL, lone surrogates, numbers a
 * double or DynamoDB cannot hold, bytes that are not UTF-8). Whatever comes
 * in: never a 5xx, every error in the contract's envelope, and a refused
 * request leaves the tenant's stored webhooks and deliveries (and another
 * tenant's) exactly as they were. An accepted write is undone afterwards, so
 * every case starts from the same stored state.
 */

const TENANT = 'fuzz';
const OTHER_TENANT = 'fuzz-other';

let runtime: LocalRuntime;
let receiver: TestReceiver;
let db: DynamoDBDocumentClient;
let apiKey: string;
let fixture: Target;
type State = Awaited<ReturnType<typeof tenantState>>;
let baseline: State;
let foreignBaseline: State;

const stateOf = (tenant: string) => tenantState(db, runtime, tenant);

const baseWebhook = (url: string) => ({
  name: 'Fuzz target',
  url,
  event_types: ['ticket.created'],
  security: { type: 'hmac_signature', secret: 'fuzz-hmac-secret-0001' },
});

/** Two equal reads in a row, with nothing in flight: the stored state has stopped moving. */
const settledState = async (tenant: string): Promise<State> => {
  let previous = await stateOf(tenant);
  return eventually(
    async () => {
      await new Promise((resolve) => setTimeout(resolve, 150));
      const current = await stateOf(tenant);
      const busy = Object.values(current.deliveries)
        .flat()
        .some((item) => item.status === 'pending' || item.status === 'retrying' || item.in_flight);
      const stable = JSON.stringify(current) === JSON.stringify(previous);
      previous = current;
      return stable && !busy && current;
    },
    15_000,
    'the stored state to settle',
  );
};

beforeAll(async () => {
  runtime = await startDeliveryRuntime();
  receiver = await startReceiver();
  db = documentClientFor(runtime);
  apiKey = await createKey(runtime, TENANT);
  const api = apiClient(runtime, apiKey);
  const other = apiClient(runtime, await createKey(runtime, OTHER_TENANT));

  const created = await api.post<{ data: { webhook_id: string } }>(
    '/webhooks',
    baseWebhook(receiver.url),
  );
  expect(created.status, created.text).toBe(201);
  const webhookId = created.body.data.webhook_id;
  const foreign = await other.post<{ data: { webhook_id: string } }>(
    '/webhooks',
    baseWebhook(receiver.url),
  );
  expect(foreign.status, foreign.text).toBe(201);

  await emitEvents(runtime, [
    { event_type: 'ticket.created', tenant_id: TENANT, data: { id: 'ticket-1' } },
  ]);
  const deliveryId = await eventually(
    async () => {
      const list = await api.get<{ data: { delivery_id: string; status: string }[] }>(
        `/webhooks/${webhookId}/deliveries`,
      );
      const first = list.body.data[0];
      return first?.status === 'delivered' && first.delivery_id;
    },
    20_000,
    'the first delivery',
  );
  const test = await api.post<{ data: { delivery_id: string } }>(`/webhooks/${webhookId}/test`);
  expect(test.status, test.text).toBe(200);

  fixture = {
    apiKey,
    webhookId,
    deliveryId,
    receiverUrl: receiver.url,
    testDeliveryId: test.body.data.delivery_id,
    foreignWebhookId: foreign.body.data.webhook_id,
  };
  baseline = await settledState(TENANT);
  foreignBaseline = await settledState(OTHER_TENANT);
}, 60_000);

afterAll(async () => {
  closeRawClient();
  await receiver?.close();
  await runtime?.stop();
});

const itemKey = (item: Record<string, unknown>) => `${String(item.PK)}\u0000${String(item.SK)}`;

/** Nothing waiting or in flight on the ingest or deliveries queue. */
const queuesDrained = async () => {
  const client = sqsClientFor(runtime);
  try {
    await eventually(
      async () => {
        for (const queue of [runtime.queues.events, runtime.queues.deliveries]) {
          const { Attributes = {} } = await client.send(
            new GetQueueAttributesCommand({ QueueUrl: queue.url, AttributeNames: ['All'] }),
          );
          const held = [
            Attributes.ApproximateNumberOfMessages,
            Attributes.ApproximateNumberOfMessagesNotVisible,
            Attributes.ApproximateNumberOfMessagesDelayed,
          ].some((count) => Number(count ?? 0) > 0);
          if (held) return false;
        }
        return true;
      },
      15_000,
      'the queues to drain',
    );
  } finally {
    client.destroy();
  }
};

/**
 * Puts the tenant's stored state back as it was before the fuzz began. Only
 * what answers 202 (a manual retry, published events) goes on working after
 * its answer: it is waited for, through the queues, before the state is read.
 */
const restoreBaseline = async (status: number) => {
  if (status === 202) await queuesDrained();
  const current = status === 202 ? await settledState(TENANT) : await stateOf(TENANT);
  const tables: [string, Record<string, unknown>[], Record<string, unknown>[]][] = [
    [runtime.tableName, baseline.config, current.config],
    [
      runtime.deliveriesTableName,
      Object.values(baseline.deliveries).flat(),
      Object.values(current.deliveries).flat(),
    ],
  ];
  for (const [table, wanted, present] of tables) {
    const keep = new Set(wanted.map(itemKey));
    for (const item of present.filter((each) => !keep.has(itemKey(each)))) {
      await db.send(new DeleteCommand({ TableName: table, Key: { PK: item.PK, SK: item.SK } }));
    }
    for (const item of wanted) await db.send(new PutCommand({ TableName: table, Item: item }));
  }
};

const shortened = (request: RawRequest) => {
  const body = request.body === undefined ? '' : String(request.body);
  return `${request.method} ${request.target.slice(0, 300)} ${JSON.stringify(request.headers.slice(1))} ${body.length > 600 ? `${body.slice(0, 600)}... (${body.length} characters)` : body}`;
};

/** Sends a request and holds the answer to the contract; undoes what an accepted write did. */
const check = async (request: RawRequest) => {
  const answer = await send(runtime.apiUrl, request);
  const context = `${shortened(request)}\n→ ${answer.status} ${answer.text.slice(0, 500)}`;

  expect(answer.status, context).toBeLessThan(500);
  if (answer.status >= 400) {
    expectErrorEnvelope(answer);
  } else if (answer.status === 204) {
    expect(answer.text, context).toBe('');
  } else {
    expect(JSON.parse(answer.text), context).toHaveProperty('data');
  }

  if (answer.status < 400 && request.method !== 'GET') {
    await restoreBaseline(answer.status);
    expect(await stateOf(TENANT), `restoring the stored state after ${context}`).toEqual(baseline);
  } else {
    // Refused, or a read: nothing stored may have moved.
    expect(await stateOf(TENANT), context).toEqual(baseline);
  }
  expect(await stateOf(OTHER_TENANT), context).toEqual(foreignBaseline);
};

/** Where a body's JSON is kept as the client wrote it (or as text people read), per route. */
const KEPT_AS_GIVEN: Record<string, (string | number)[][]> = {
  'POST /webhooks': [
    ['metadata', 'properties', 'team'],
    ['metadata', 'properties', 'nested'],
    ['metadata', 'notes'],
    ['payload_transformation', 'custom_fields', 'source'],
    ['event_filter', 'conditions', 0, 'value'],
    ['description'],
    ['name'],
    ['tags', 0],
  ],
  'POST /webhooks/{id}/test': [['test_payload', 'hello'], ['test_payload']],
  // Rendered into the answer as given (every format, flattening, templates), never stored.
  'POST /webhooks/{id}/preview': [
    ['event', 'data', 'id'],
    ['event', 'data'],
  ],
  'POST /webhooks/preview': [
    ['webhook', 'name'],
    ['webhook', 'description'],
  ],
};
KEPT_AS_GIVEN['PUT /webhooks/{id}'] = KEPT_AS_GIVEN['POST /webhooks'] ?? [];

/** A plan that sends the route's body with one value set at `path`. */
const keptPlan = (route: RouteEntry, path: (string | number)[], value: Json): Plan => ({
  route,
  odd: undefined,
  method: route.method,
  id: 'base',
  delivery: 'real',
  query: [],
  headers: [],
  jsonContentType: true,
  body: { kind: 'mutated', mutations: [{ kind: 'set', path, value }] },
});

const keptAsGiven = fc.constantFrom(
  ...ROUTES.flatMap((route) =>
    (KEPT_AS_GIVEN[`${route.method} ${route.path}`] ?? []).map((path) => ({
      route,
      path,
    })),
  ),
);

describe('every route under hostile input', () => {
  it('never answers 5xx, errs in the envelope, and a refused request changes nothing', async () => {
    await fc.assert(
      fc.asyncProperty(plan, (planned) => check(requestOf(planned, fixture))),
      fuzzParameters(300),
    );
  }, 240_000);

  it('stores any JSON it keeps as given, or refuses it in the envelope: never a 5xx', async () => {
    const value = fc.oneof(hostileJson, hostileNumber, hostileString);
    await fc.assert(
      fc.asyncProperty(keptAsGiven, value, ({ route, path }, given) =>
        check(requestOf(keptPlan(route, path, given), fixture)),
      ),
      fuzzParameters(150),
    );
  }, 240_000);
});
