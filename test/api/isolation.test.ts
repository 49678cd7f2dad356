import { randomUUID } from 'node:crypto';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PERMISSIONS } from '../../functions/domain/keys/api-keys.ts';
import type { LocalRuntime } from '../../local/runtime.ts';
import { startReceiver, type TestReceiver } from '../support/receiver.ts';
import {
  type ApiClient,
  type ApiResponse,
  apiClient,
  createKey,
  documentClientFor,
  emitEvents,
  eventually,
  startDeliveryRuntime,
} from '../support/runtime.ts';
import {
  type ExampleRequest,
  exampleRequest,
  expectErrorEnvelope,
  type Fixture,
  fillPath,
  ROUTES,
  type RouteEntry,
  routeName,
  tenantState,
} from './routes.ts';

/**
 * Tenant isolation and permissions on every route of the route table, so a
 * route added to it is tested here without anyone remembering to: a key of
 * another tenant (holding every permission) finds none of the tenant's
 * webhooks or deliveries, changes nothing and sends nothing; a key lacking
 * the route's permission gets 403 and changes nothing; a key with only that
 * permission gets the route's answer.
 */

const OWNER = 'iso-owner';
const INTRUDER = 'iso-intruder';
const OWNER_WEBHOOK_NAME = 'Owner webhook 7c1e';

let runtime: LocalRuntime;
let db: DynamoDBDocumentClient;
let ownerReceiver: TestReceiver;
let intruderReceiver: TestReceiver;
let owner: ApiClient;
let intruder: ApiClient;
/** The owner's webhook with a delivered (not test) delivery. */
let fixture: Fixture;
let intruderWebhookId: string;

const ownerState = () => tenantState(db, runtime, OWNER);

const call = (client: ApiClient, request: Pick<ExampleRequest, 'method' | 'path' | 'body'>) =>
  client.call(request.method, request.path, request.body);

const createWebhook = async (client: ApiClient, name: string, url: string) => {
  const created = await client.post<{ data: { webhook_id: string } }>('/webhooks', {
    name,
    url,
    event_types: ['ticket.created'],
    security: { type: 'basic_auth', username: 'owner', password: 'iso-password-0001' },
  });
  expect(created.status, created.text).toBe(201);
  return created.body.data.webhook_id;
};

/** Waits until the delivery has finished (a manual retry goes on after its answer). */
const deliveryFinished = (webhookId: string, deliveryId: string) =>
  eventually(
    async () => {
      const detail = await owner.get<{ data: { status: string } }>(
        `/webhooks/${webhookId}/deliveries/${deliveryId}`,
      );
      return !['pending', 'retrying'].includes(detail.body.data.status);
    },
    15_000,
    `delivery ${deliveryId} to finish`,
  );

beforeAll(async () => {
  runtime = await startDeliveryRuntime();
  db = documentClientFor(runtime);
  ownerReceiver = await startReceiver();
  intruderReceiver = await startReceiver();
  owner = apiClient(runtime, await createKey(runtime, OWNER));
  intruder = apiClient(runtime, await createKey(runtime, INTRUDER));

  const webhookId = await createWebhook(owner, OWNER_WEBHOOK_NAME, ownerReceiver.url);
  intruderWebhookId = await createWebhook(intruder, 'Intruder webhook', intruderReceiver.url);
  await emitEvents(runtime, [
    { event_type: 'ticket.created', tenant_id: OWNER, data: { id: 'ticket-owner' } },
  ]);
  const deliveryId = await eventually(
    async () => {
      const list = await owner.get<{ data: { delivery_id: string; status: string }[] }>(
        `/webhooks/${webhookId}/deliveries`,
      );
      const first = list.body.data[0];
      return first?.status === 'delivered' && first.delivery_id;
    },
    20_000,
    "the owner's first delivery",
  );
  fixture = { webhookId, deliveryId, receiverUrl: ownerReceiver.url };
}, 60_000);

afterAll(async () => {
  await ownerReceiver?.close();
  await intruderReceiver?.close();
  await runtime?.stop();
});

/** Whether a request names one of the owner's webhooks, in its path or its body. */
const namesWebhook = (request: ExampleRequest) =>
  request.path.includes(fixture.webhookId) ||
  JSON.stringify(request.body ?? null).includes(fixture.webhookId);

/** The same request with every id of the owner's swapped for an id nobody has. */
const withUnknownIds = (request: ExampleRequest) => {
  const unknown = { webhook: randomUUID(), delivery: randomUUID() };
  const swap = (text: string) =>
    text
      .replaceAll(fixture.webhookId, unknown.webhook)
      .replaceAll(fixture.deliveryId, unknown.delivery);
  return {
    request: {
      ...request,
      path: swap(request.path),
      body: request.body === undefined ? undefined : JSON.parse(swap(JSON.stringify(request.body))),
    },
    unknown,
  };
};

const masked = (text: string, ids: Record<string, string>) =>
  Object.entries(ids).reduce((result, [name, id]) => result.replaceAll(id, `<${name}>`), text);

const envelopeOf = (response: ApiResponse) => ({
  status: response.status,
  contentType: response.headers.get('content-type') ?? undefined,
  header: (name: string) => response.headers.get(name) ?? undefined,
  text: response.text,
});

describe('the route table', () => {
  it('has an example request for every route, so that each is tested below', () => {
    expect(ROUTES.length).toBeGreaterThan(0);
    for (const route of ROUTES) expect(() => exampleRequest(route, fixture)).not.toThrow();
  });
});

describe.each(ROUTES.map((route) => [routeName(route), route] as const))('%s', (_, route) => {
  it("answers another tenant's key as if the owner's ids did not exist, and changes nothing", async () => {
    // Prepare
    const request = exampleRequest(route, fixture);
    const before = await ownerState();
    const sent = ownerReceiver.requests.length;

    // Act
    const answer = await call(intruder, request);

    // Assess
    if (namesWebhook(request)) {
      expect(answer.status, answer.text).toBe(404);
      expectErrorEnvelope(envelopeOf(answer));
      const { request: unknownRequest, unknown } = withUnknownIds(request);
      const unknownAnswer = await call(intruder, unknownRequest);
      expect(masked(answer.text, { id: fixture.webhookId, delivery: fixture.deliveryId })).toBe(
        masked(unknownAnswer.text, { id: unknown.webhook, delivery: unknown.delivery }),
      );
    } else {
      expect(answer.status, answer.text).toBe(request.okStatus);
      for (const owned of [OWNER, OWNER_WEBHOOK_NAME, fixture.webhookId, fixture.deliveryId]) {
        expect(answer.text).not.toContain(owned);
      }
    }
    expect(await ownerState()).toEqual(before);
    expect(ownerReceiver.requests).toHaveLength(sent);
  });

  it(`refuses a key of the same tenant without ${route.permission} with 403, changing nothing`, async () => {
    // Prepare
    const request = exampleRequest(route, fixture);
    const without = apiClient(
      runtime,
      await createKey(
        runtime,
        OWNER,
        PERMISSIONS.filter((permission) => permission !== route.permission),
      ),
    );
    const before = await ownerState();
    const sent = ownerReceiver.requests.length;

    // Act
    const answer = await call(without, request);

    // Assess
    expect(answer.status, answer.text).toBe(403);
    expect(answer.body).toEqual({
      error: {
        code: 'FORBIDDEN',
        message: `This API key lacks the ${route.permission} permission`,
      },
    });
    expect(await ownerState()).toEqual(before);
    expect(ownerReceiver.requests).toHaveLength(sent);
  });
});

const deliveryRoutes = ROUTES.filter((route) => route.path.includes('{delivery_id}'));

describe.each(deliveryRoutes.map((route) => [routeName(route), route] as const))(
  '%s',
  (_, route) => {
    it("finds no delivery of the owner's under the other tenant's own webhook", async () => {
      // Prepare
      const before = await ownerState();
      const path = fillPath(route.path, { id: intruderWebhookId, deliveryId: fixture.deliveryId });
      const missing = fillPath(route.path, { id: intruderWebhookId, deliveryId: randomUUID() });

      // Act
      const answer = await intruder.call(route.method, path);
      const unknownAnswer = await intruder.call(route.method, missing);

      // Assess
      expect(answer.status, answer.text).toBe(404);
      expect(answer.body).toEqual({
        error: { code: 'NOT_FOUND', message: `Delivery ${fixture.deliveryId} not found` },
      });
      expect(unknownAnswer.status).toBe(404);
      expect(await ownerState()).toEqual(before);
    });
  },
);

describe('a key with only the route’s permission', () => {
  // Destructive routes last: each one acts on the webhook the others use.
  const order = (route: RouteEntry) => (route.method === 'DELETE' ? 1 : 0);
  const routes = [...ROUTES].sort((a, b) => order(a) - order(b));

  it.each(routes.map((route) => [routeName(route), route] as const))(
    'gets the answer of %s',
    async (_, route) => {
      // Prepare
      const request = exampleRequest(route, fixture);
      const only = apiClient(runtime, await createKey(runtime, OWNER, [route.permission]));

      // Act
      const answer = await call(only, request);

      // Assess
      expect(answer.status, answer.text).toBe(request.okStatus);
      if (answer.status === 202) await deliveryFinished(fixture.webhookId, fixture.deliveryId);
    },
  );
});
