import fc from 'fast-check';
import { exampleRequest, type Fixture, ROUTES, type RouteEntry } from '../api/routes.ts';
import type { RawRequest } from './http.ts';
import {
  fromPlain,
  hostileJson,
  hostileString,
  hostileValue,
  type Json,
  JsonObject,
  type Mutation,
  mutate,
  notAnObjectBody,
  pathsOf,
  RawJson,
  toJsonText,
} from './json.ts';

/**
 * Hostile requests to the API as plans (data fast-check can print and
 * shrink), turned into raw requests once the ids they name exist: a route of
 * the table or a path off it, any method, ids real, foreign, missing or
 * malformed, query strings and headers from lists of troublemakers, and a
 * body that is absent, not JSON, any hostile JSON, or the route's own body
 * with a few fields broken.
 */

type IdChoice = 'base' | 'upper' | 'foreign' | { missing: string } | { raw: string };
type DeliveryChoice = 'real' | 'test' | 'upper' | { missing: string } | { raw: string };

type BodyPlan =
  | { kind: 'none' }
  | { kind: 'text'; text: string }
  | { kind: 'tree'; tree: Json }
  | { kind: 'mutated'; mutations: Mutation[] }
  | { kind: 'sized'; path: (string | number)[]; unit: string; count: number }
  | { kind: 'flood'; path: (string | number)[]; item: string; count: number; keyed: boolean }
  | { kind: 'bytes'; before: string; bytes: readonly number[]; after: string };

export interface Plan {
  route: RouteEntry | undefined;
  /** For cases off the route table: a path template below /api/v1. */
  odd: string | undefined;
  method: string;
  id: IdChoice;
  delivery: DeliveryChoice;
  query: [string, string][];
  headers: [string, string][];
  jsonContentType: boolean;
  body: BodyPlan;
}

/** Path segments that have confused routers and id parsers; already percent-encoded. */
const RAW_SEGMENTS = [
  '',
  'null',
  '..',
  '.',
  '%2e%2e',
  'a%2Fb',
  '%00',
  '%ED%A0%80',
  '%',
  '%zz',
  'events',
  'verify',
  'analytics',
  '__proto__',
  'constructor',
  '%20',
  'a'.repeat(3000),
  '%7B00000000-0000-4000-8000-000000000000%7D',
  '00000000000040008000000000000000',
  'urn:uuid:00000000-0000-4000-8000-000000000000',
  '00000000-0000-4000-8000-000000000000%20',
  '00000000-0000-4000-8000-00000000000g',
];

const rawSegment = fc.oneof(
  fc.constantFrom(...RAW_SEGMENTS),
  fc.string({ maxLength: 16 }).map(encodeURIComponent),
);

const idChoice: fc.Arbitrary<IdChoice> = fc.oneof(
  { weight: 6, arbitrary: fc.constant<IdChoice>('base') },
  { weight: 1, arbitrary: fc.constant<IdChoice>('upper') },
  { weight: 1, arbitrary: fc.constant<IdChoice>('foreign') },
  { weight: 1, arbitrary: fc.uuid().map((missing): IdChoice => ({ missing })) },
  { weight: 1, arbitrary: rawSegment.map((raw): IdChoice => ({ raw })) },
);

const deliveryChoice: fc.Arbitrary<DeliveryChoice> = fc.oneof(
  { weight: 5, arbitrary: fc.constant<DeliveryChoice>('real') },
  { weight: 1, arbitrary: fc.constant<DeliveryChoice>('test') },
  { weight: 1, arbitrary: fc.constant<DeliveryChoice>('upper') },
  { weight: 1, arbitrary: fc.uuid().map((missing): DeliveryChoice => ({ missing })) },
  { weight: 1, arbitrary: rawSegment.map((raw): DeliveryChoice => ({ raw })) },
);

/** Paths off the table, or on it in ways a router might get wrong. */
const ODD_PATHS = [
  '/',
  '/webhooks/',
  '/webhooks//events',
  '/webhooks/events/',
  '/webhooks/events/extra',
  '/webhooks/%2e%2e',
  '/webhooks/..%2Fevents',
  '/webhooks/{id}/unknown',
  '/webhooks/{id}/secret',
  '/webhooks/{id}/deliveries/{delivery_id}/unknown',
  '/webhooks/{id}/deliveries//retry',
  '/webhooks/analytics',
  '/webhooks/{id}/health',
  '/webhooks/{id}/analytics',
  '/WEBHOOKS',
  '/webhooks/%ZZ',
  '/webhooks/%00',
  '/other',
];

const QUERY_NAMES = [
  'page',
  'limit',
  'sort',
  'order',
  'name',
  'url',
  'event_type',
  'is_active',
  'is_test_mode',
  'payload_format',
  'has_failures',
  'search',
  'created_from',
  'created_to',
  'updated_from',
  'updated_to',
  'status',
  'from_date',
  'to_date',
  'cursor',
  'date_from',
  'date_to',
  'webhook_id',
  '__proto__',
  'constructor',
  'toString',
  'valueOf',
  'hasOwnProperty',
  '',
  'limit[]',
  'a[b]',
];

/** Query values, percent-encoded as they go on the wire (some deliberately broken). */
const QUERY_VALUES = [
  '',
  '0',
  '-1',
  '1',
  '100',
  '101',
  '1e3',
  '0x10',
  '999999999999',
  'true',
  'TRUE',
  'asc',
  'DESC',
  'name',
  'last_delivery_at',
  'delivered',
  'ticket.created',
  'webhook.test',
  '2024-02-30',
  '2024-01-01',
  '2024-01-01T00%3A00%3A00Z',
  '9999-12-31T23%3A59%3A59Z',
  '0000-01-01',
  '%00',
  '%ED%A0%80',
  '%',
  '%zz',
  '%E2%80%AE',
  '+',
  'a%26b%3Dc',
  'MDAwMDAwMDAtMDAwMC00MDAwLTgwMDAtMDAwMDAwMDAwMDAw',
  'x'.repeat(3000),
];

const queryPair: fc.Arbitrary<[string, string]> = fc.tuple(
  fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...QUERY_NAMES) },
    { weight: 1, arbitrary: fc.string({ maxLength: 8 }).map(encodeURIComponent) },
  ),
  fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...QUERY_VALUES) },
    { weight: 1, arbitrary: fc.uuid() },
    { weight: 1, arbitrary: fc.string({ maxLength: 16 }).map(encodeURIComponent) },
  ),
);

const HEADER_NAMES = [
  'content-type',
  'Content-Type',
  'content-encoding',
  'accept',
  'accept-charset',
  'constructor',
  '__proto__',
  'toString',
  'valueOf',
  'hasOwnProperty',
  'x-forwarded-for',
  'authorization',
  'x-http-method-override',
  'x-amzn-requestid',
  'cookie',
  'origin',
  'if-match',
];

const HEADER_VALUES = [
  '',
  'application/json',
  'application/json; charset=utf-16',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/xml',
  'gzip',
  'br',
  '*/*',
  'DELETE',
  '__proto__',
  'x'.repeat(4000),
];

const headerPair: fc.Arbitrary<[string, string]> = fc.tuple(
  fc.oneof(
    { weight: 20, arbitrary: fc.constantFrom(...HEADER_NAMES) },
    // Another key, or junk, beside the real one: the answer is a 401, in the envelope.
    { weight: 1, arbitrary: fc.constantFrom('x-api-key', 'X-API-Key') },
  ),
  fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...HEADER_VALUES) },
    // Printable ASCII: what a header value can carry on the wire.
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme-ascii', maxLength: 40 }) },
  ),
);

/** A webhook with every field set, so that mutations reach each field's rules. */
const richWebhook = (receiverUrl: string) => ({
  name: 'Everything',
  description: 'All fields',
  url: receiverUrl,
  method: 'POST',
  event_types: ['ticket.created', 'ticket.updated'],
  security: { type: 'basic_auth', username: 'user', password: 'fuzz-password-0001' },
  payload_format: 'json',
  content_type: 'application/json',
  custom_headers: { 'X-Team': 'ops' },
  event_filter: {
    entity_types: ['ticket'],
    entity_ids: ['00000000-0000-4000-8000-000000000001'],
    conditions: [{ field: 'priority', operator: 'in', value: ['high', 'urgent'] }],
    tags: ['vip'],
  },
  payload_fields: { ticket: ['id', 'title'] },
  payload_transformation: {
    template: '{"id": {{json data.id}} }',
    include_fields: ['data'],
    exclude_fields: ['data.secret'],
    custom_fields: { source: 'fuzz' },
    flatten_nested: false,
  },
  retry_config: {
    strategy: 'custom',
    max_attempts: 3,
    initial_delay: 1000,
    max_delay: 300_000,
    backoff_multiplier: 2,
    timeout: 5000,
    delays: [1000, 2000],
  },
  is_active: true,
  is_test_mode: false,
  verify_ssl: true,
  secret_token: 'fuzz-secret-token-0001',
  rate_limit: { enabled: true, requests_per_minute: 60, burst_limit: 10 },
  metadata: { tags: ['x'], properties: { team: 'ops', nested: { a: [1, 2] } }, notes: 'n' },
  tags: ['t'],
});

/** The body a route's mutations start from: a full webhook for create and update. */
const startingBody = (route: RouteEntry | undefined, ids: Fixture): Json => {
  if (!route) return new JsonObject([]);
  const writesWebhook =
    (route.method === 'POST' && route.path === '/webhooks') ||
    (route.method === 'PUT' && route.path === '/webhooks/{id}');
  if (writesWebhook) return fromPlain(richWebhook(ids.receiverUrl));
  return fromPlain(exampleRequest(route, ids).body ?? {});
};

/** Ids to shape the mutations with before the real ones exist; only the structure matters. */
const PLACEHOLDER: Fixture = {
  webhookId: '00000000-0000-4000-8000-000000000000',
  deliveryId: '00000000-0000-4000-8000-000000000000',
  receiverUrl: 'http://127.0.0.1:9/hook',
};

/** Field names worth adding where they do not belong, or twice. */
const FIELD_NAMES = [
  ...Object.keys(richWebhook('')),
  'webhook_id',
  'tenant',
  'signing_secret',
  'created_at',
  'test_event_type',
  'test_payload',
  'grace_period_hours',
  'algorithm',
  'signature',
  'timestamp',
  'body',
  '__proto__',
  'constructor',
  'prototype',
];

const mutationsFor = (base: Json): fc.Arbitrary<Mutation[]> => {
  const all = pathsOf(base);
  const objects = all.filter(({ isObject }) => isObject).map(({ path }) => path);
  const paths = all.map(({ path }) => path);
  const inner = paths.filter((path) => path.length > 0);
  const key = fc.oneof(fc.constantFrom(...FIELD_NAMES), hostileString);
  const mutation: fc.Arbitrary<Mutation> = fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant('set' as const),
        path: fc.constantFrom(...paths),
        value: hostileValue,
      }),
    },
    ...(inner.length > 0
      ? [
          {
            weight: 1,
            arbitrary: fc.record({
              kind: fc.constant('remove' as const),
              path: fc.constantFrom(...inner),
            }),
          },
        ]
      : []),
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('add' as const),
        path: fc.constantFrom(...objects),
        key,
        value: hostileValue,
      }),
    },
  );
  return fc.array(mutation, { minLength: 1, maxLength: 2 });
};

const bodyPlan = (route: RouteEntry | undefined): fc.Arbitrary<BodyPlan> => {
  const base = startingBody(route, PLACEHOLDER);
  const paths = pathsOf(base).map(({ path }) => path);
  return fc.oneof(
    { weight: 2, arbitrary: fc.constant<BodyPlan>({ kind: 'none' }) },
    { weight: 1, arbitrary: notAnObjectBody.map((text): BodyPlan => ({ kind: 'text', text })) },
    { weight: 2, arbitrary: hostileJson.map((tree): BodyPlan => ({ kind: 'tree', tree })) },
    {
      weight: 6,
      arbitrary: mutationsFor(base).map((mutations): BodyPlan => ({ kind: 'mutated', mutations })),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('sized' as const),
        path: fc.constantFrom(...paths),
        unit: fc.constantFrom('a', 'é', '€', '𝕏'),
        // Around 256 KiB in bytes, on both sides, whatever the unit's width.
        count: fc.constantFrom(5000, 70_000, 87_000, 131_000, 131_100, 262_000, 262_200),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('flood' as const),
        path: fc.constantFrom(...paths),
        item: fc.constantFrom('0', '""', 'null', '{}', '[]', '"\\ud800"', '"ticket.created"'),
        count: fc.constantFrom(100, 5000, 40_000, 80_000),
        keyed: fc.boolean(),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('bytes' as const),
        before: fc.constantFrom('{"name":"', '{"test_payload":{"k":"', '{"'),
        bytes: fc.constantFrom(
          [0xff],
          [0xc3],
          [0xed, 0xa0, 0x80],
          [0xf4, 0x90, 0x80, 0x80],
          [0x00],
        ),
        after: fc.constantFrom('"}', '"}}', '":1}', ''),
      }),
    },
  );
};

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'];

export const plan: fc.Arbitrary<Plan> = fc
  .oneof(
    {
      weight: 9,
      arbitrary: fc.constantFrom(...ROUTES).map((route) => ({ route, odd: undefined })),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(...ODD_PATHS).map((odd) => ({ route: undefined, odd })),
    },
  )
  .chain(({ route, odd }) =>
    fc.record({
      route: fc.constant(route),
      odd: fc.constant(odd),
      method: route
        ? fc.oneof({ weight: 6, arbitrary: fc.constant(route.method) }, fc.constantFrom(...METHODS))
        : fc.constantFrom(...METHODS),
      id: idChoice,
      delivery: deliveryChoice,
      query: fc.array(queryPair, { maxLength: 4 }),
      headers: fc.array(headerPair, { maxLength: 3 }),
      jsonContentType: fc.boolean(),
      body: bodyPlan(route),
    }),
  );

/** The ids and key a plan is turned into a request with. */
export interface Target extends Fixture {
  testDeliveryId: string;
  foreignWebhookId: string;
  apiKey: string;
}

const idSegment = (choice: IdChoice, fixture: Target): string => {
  if (choice === 'base') return fixture.webhookId;
  if (choice === 'upper') return fixture.webhookId.toUpperCase();
  if (choice === 'foreign') return fixture.foreignWebhookId;
  return 'missing' in choice ? choice.missing : choice.raw;
};

const deliverySegment = (choice: DeliveryChoice, fixture: Target): string => {
  if (choice === 'real') return fixture.deliveryId;
  if (choice === 'test') return fixture.testDeliveryId;
  if (choice === 'upper') return fixture.deliveryId.toUpperCase();
  return 'missing' in choice ? choice.missing : choice.raw;
};

const setAt = (path: (string | number)[], value: Json): Mutation => ({ kind: 'set', path, value });

const bodyOf = (planned: Plan, fixture: Target): string | Buffer | undefined => {
  const body = planned.body;
  switch (body.kind) {
    case 'none':
      return undefined;
    case 'text':
      return body.text;
    case 'tree':
      return toJsonText(body.tree);
    case 'mutated':
      return toJsonText(body.mutations.reduce(mutate, startingBody(planned.route, fixture)));
    case 'sized':
      return toJsonText(
        mutate(
          startingBody(planned.route, fixture),
          setAt(body.path, body.unit.repeat(body.count)),
        ),
      );
    case 'flood': {
      const items = Array.from({ length: body.count }, (_, index) =>
        body.keyed ? `"k${index}":${body.item}` : body.item,
      ).join(',');
      const flood = new RawJson(body.keyed ? `{${items}}` : `[${items}]`);
      return toJsonText(mutate(startingBody(planned.route, fixture), setAt(body.path, flood)));
    }
    case 'bytes':
      return Buffer.concat([
        Buffer.from(body.before),
        Buffer.from(body.bytes),
        Buffer.from(body.after),
      ]);
  }
};

export const requestOf = (planned: Plan, fixture: Target): RawRequest => {
  const template = planned.route ? planned.route.path : (planned.odd ?? '/');
  const path = template
    .replaceAll('{id}', idSegment(planned.id, fixture))
    .replaceAll('{delivery_id}', deliverySegment(planned.delivery, fixture))
    .replaceAll('{template_id}', idSegment(planned.id, { ...fixture, webhookId: 'slack' }));
  const query = planned.query.map(([name, value]) => `${name}=${value}`).join('&');
  const body = bodyOf(planned, fixture);
  const contentType: [string, string][] =
    body !== undefined && planned.jsonContentType ? [['content-type', 'application/json']] : [];
  return {
    method: planned.method,
    target: `/api/v1${path}${query ? `?${query}` : ''}`,
    headers: [['x-api-key', fixture.apiKey], ...contentType, ...planned.headers],
    body,
  };
};
