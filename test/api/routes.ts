import { type DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { expect } from 'vitest';
import {
  tenantPartition,
  WEBHOOK_SORT_PREFIX,
  webhookPartition,
} from '../../functions/commons/table.ts';
import { AnalyticsService } from '../../functions/domain/analytics/service.ts';
import { DeliveryService } from '../../functions/domain/delivery/service.ts';
import type { Permission } from '../../functions/domain/keys/api-keys.ts';
import { WebhookService } from '../../functions/domain/webhooks/service.ts';
import { isKeyRoute, type PublicRoute, type Route } from '../../functions/http/router.ts';
import { DeliveryRepository } from '../../functions/repositories/deliveries.ts';
import { type ApiServices, apiRoutes } from '../../functions/routes/table.ts';

/**
 * The API's route table as the api handler serves it, and what the suites
 * that walk it share: an example request per route, the tenant's stored
 * state, and the contract's error envelope.
 */

export interface RouteEntry {
  method: string;
  /** Below /api/v1, with `{id}` and `{delivery_id}` placeholders. */
  path: string;
  permission: Permission;
}

/**
 * Building the table calls no service, so it gets bare instances (any call
 * would throw on their missing private fields).
 */
const neverCalled: ApiServices = {
  webhooks: Object.create(WebhookService.prototype),
  deliveries: Object.create(DeliveryService.prototype),
  history: Object.create(DeliveryRepository.prototype),
  events: {
    send: () => {
      throw new Error('The route table was built to be read, not called');
    },
  },
  analytics: Object.create(AnalyticsService.prototype),
};

/** Every route of the table, as built. */
export const TABLE: readonly Route[] = apiRoutes(neverCalled);

/** The routes behind a key: the ones isolation, permission and fuzz suites walk. */
export const ROUTES: readonly RouteEntry[] = TABLE.filter(isKeyRoute).map(
  ({ method, path, permission }) => ({ method, path, permission }),
);

/** The routes anyone may call (test/api/openapi.test.ts covers them). */
export const PUBLIC_ROUTES: readonly PublicRoute[] = TABLE.filter(
  (route): route is PublicRoute => !isKeyRoute(route),
);

export const routeName = (route: Pick<RouteEntry, 'method' | 'path'>) =>
  `${route.method} ${route.path}`;

/** The ids an example request is made of. */
export interface Fixture {
  webhookId: string;
  /** A finished delivery of that webhook (not a test), so that it may be retried. */
  deliveryId: string;
  receiverUrl: string;
}

export interface ExampleRequest {
  method: string;
  /** Below /api/v1. */
  path: string;
  body?: unknown;
  /** What the route answers a key with the permission, for this request. */
  okStatus: number;
}

/**
 * A request each route answers with success when the key may use it. A route
 * without one fails the suites that walk the table, naming it: add its
 * example here and it is covered by isolation, permission and fuzz tests.
 */
const EXAMPLES: Record<string, (fixture: Fixture) => Omit<ExampleRequest, 'method' | 'path'>> = {
  'GET /webhooks': () => ({ okStatus: 200 }),
  'POST /webhooks': ({ receiverUrl }) => ({
    body: { name: 'Example', url: receiverUrl, event_types: ['ticket.created'] },
    okStatus: 201,
  }),
  'GET /webhooks/events': () => ({ okStatus: 200 }),
  'GET /webhooks/{id}': () => ({ okStatus: 200 }),
  'PUT /webhooks/{id}': () => ({ body: { name: 'Renamed' }, okStatus: 200 }),
  'DELETE /webhooks/{id}': () => ({ okStatus: 204 }),
  'GET /webhooks/{id}/subscriptions': () => ({ okStatus: 200 }),
  'GET /webhooks/{id}/deliveries': () => ({ okStatus: 200 }),
  'GET /webhooks/{id}/deliveries/{delivery_id}': () => ({ okStatus: 200 }),
  'POST /webhooks/{id}/deliveries/{delivery_id}/retry': () => ({ okStatus: 202 }),
  'POST /webhooks/{id}/test': () => ({ body: { test_payload: { hello: 'world' } }, okStatus: 200 }),
  'POST /webhooks/{id}/secret/rotate': () => ({ body: { grace_period_hours: 1 }, okStatus: 200 }),
  'POST /webhooks/{id}/preview': () => ({
    body: { event: { event_type: 'ticket.created', data: { id: 'ticket-preview' } } },
    okStatus: 200,
  }),
  'POST /webhooks/preview': ({ receiverUrl }) => ({
    body: { webhook: { name: 'Draft', url: receiverUrl, event_types: ['ticket.created'] } },
    okStatus: 200,
  }),
  'GET /webhooks/templates': () => ({ okStatus: 200 }),
  'GET /webhooks/templates/{template_id}': () => ({ okStatus: 200 }),
  // An event type no fixture webhook subscribes to: published, matched by nothing, sent nowhere.
  'POST /events': () => ({
    body: { event_type: 'custom.event', data: { example: true } },
    okStatus: 202,
  }),
  'GET /webhooks/{id}/health': () => ({ okStatus: 200 }),
  'GET /webhooks/{id}/analytics': () => ({ okStatus: 200 }),
  'GET /webhooks/analytics': () => ({ okStatus: 200 }),
  'POST /webhooks/verify': ({ webhookId }) => ({
    body: {
      algorithm: 'sha256',
      signature: `t=1700000000,v1=${'0'.repeat(64)}`,
      timestamp: 1_700_000_000,
      body: '{}',
      webhook_id: webhookId,
    },
    okStatus: 200,
  }),
};

/** A path template with the fixture's ids (and a chat preset's) in it. */
export const fillPath = (path: string, ids: { id: string; deliveryId: string }): string =>
  path
    .replaceAll('{id}', ids.id)
    .replaceAll('{delivery_id}', ids.deliveryId)
    .replaceAll('{template_id}', 'slack');

export const exampleRequest = (route: RouteEntry, fixture: Fixture): ExampleRequest => {
  const make = EXAMPLES[routeName(route)];
  if (!make) {
    throw new Error(
      `No example request for ${routeName(route)}: add one to test/api/routes.ts so the route is tested`,
    );
  }
  return {
    method: route.method,
    path: fillPath(route.path, { id: fixture.webhookId, deliveryId: fixture.deliveryId }),
    ...make(fixture),
  };
};

const queryPartition = async (
  db: DynamoDBDocumentClient,
  table: string,
  partition: string,
): Promise<Record<string, unknown>[]> => {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await db.send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: 'PK = :pk',
        ExpressionAttributeValues: { ':pk': partition },
        ConsistentRead: true,
        ExclusiveStartKey: start,
      }),
    );
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
};

/**
 * Everything stored for a tenant: its items in the config table (webhooks,
 * slot counter) and each webhook's partition of the deliveries table
 * (deliveries with their attempts, rate-limit state), read consistently.
 */
export const tenantState = async (
  db: DynamoDBDocumentClient,
  tables: { tableName: string; deliveriesTableName: string },
  tenant: string,
) => {
  const config = await queryPartition(db, tables.tableName, tenantPartition(tenant));
  const webhookIds = config
    .map((item) => String(item.SK))
    .filter((sort) => sort.startsWith(WEBHOOK_SORT_PREFIX))
    .map((sort) => sort.slice(WEBHOOK_SORT_PREFIX.length));
  const deliveries = Object.fromEntries(
    await Promise.all(
      webhookIds.map(
        async (id) =>
          [id, await queryPartition(db, tables.deliveriesTableName, webhookPartition(id))] as const,
      ),
    ),
  );
  return { config, deliveries };
};

/** The contract's codes for each error status. */
const CODES: Record<number, readonly string[]> = {
  400: ['VALIDATION_ERROR', 'BAD_REQUEST'],
  401: ['UNAUTHORIZED'],
  403: ['FORBIDDEN'],
  404: ['NOT_FOUND'],
  405: ['METHOD_NOT_ALLOWED'],
  409: ['CONFLICT'],
  413: ['PAYLOAD_TOO_LARGE'],
  429: ['RATE_LIMITED'],
};

export interface AnswerLike {
  status: number;
  contentType: string | undefined;
  header(name: string): string | undefined;
  text: string;
}

/**
 * An error answer in the contract's envelope: JSON `{error: {code, message,
 * details?}}` and nothing else, the code the contract gives its status,
 * details a list of `{field, message}`.
 */
export const expectErrorEnvelope = (answer: AnswerLike): void => {
  const context = `${answer.status} ${answer.text.slice(0, 500)}`;
  expect(Object.keys(CODES), context).toContain(String(answer.status));
  expect(answer.contentType, context).toMatch(/^application\/json/);
  const body: unknown = JSON.parse(answer.text);
  expect(body, context).toEqual({
    error: {
      code: expect.toBeOneOf([...(CODES[answer.status] ?? [])]),
      message: expect.any(String),
      ...(isRecord(body) && isRecord(body.error) && 'details' in body.error
        ? { details: expect.any(Array) }
        : {}),
    },
  });
  if (!isRecord(body) || !isRecord(body.error)) return;
  expect(String(body.error.message).length, context).toBeGreaterThan(0);
  const details = body.error.details;
  if (Array.isArray(details)) {
    expect(details.length, context).toBeGreaterThan(0);
    for (const detail of details) {
      expect(detail, context).toEqual({ field: expect.any(String), message: expect.any(String) });
    }
  }
  if (answer.status === 405) expect(answer.header('allow'), context).toBeTruthy();
  if (answer.status === 429) expect(answer.header('retry-after'), context).toBeTruthy();
};

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
