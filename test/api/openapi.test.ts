import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import ajvFormats from 'ajv-formats';
import type * as v from 'valibot';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import type {
  deliveryDetailView,
  deliverySummaryView,
} from '../../functions/domain/delivery/record.ts';
import type { TestDeliveryResult } from '../../functions/domain/delivery/service.ts';
import type { VerifyResult } from '../../functions/domain/delivery/verify.ts';
import { isKeyRoute } from '../../functions/http/router.ts';
import type {
  deliveryDetailSchema,
  deliverySummarySchema,
  testResultSchema,
  verifyResultSchema,
} from '../../functions/routes/answers.ts';
import { resourceFor } from '../../local/gateway.ts';
import type { LocalRuntime } from '../../local/runtime.ts';
import { startReceiver, type TestReceiver } from '../support/receiver.ts';
import {
  type ApiClient,
  type ApiResponse,
  apiClient,
  createKey,
  eventually,
  startDeliveryRuntime,
} from '../support/runtime.ts';
import { stackModelForTests } from '../support/stack.ts';
import {
  exampleRequest,
  type Fixture,
  fillPath,
  PUBLIC_ROUTES,
  ROUTES,
  type RouteEntry,
  TABLE,
} from './routes.ts';

/**
 * The OpenAPI document: valid OpenAPI 3.1 by a maintained validator, made
 * from every route of the table, served without a key by the stack as the
 * local runtime runs it, and true to what the API answers: recorded answers
 * of requests to every route (and their errors) are held to its schemas.
 */

type Document = {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown> };
};
type Operation = {
  operationId: string;
  parameters?: { schema: unknown }[];
  requestBody?: { content: Record<string, { schema: unknown }> };
  security?: unknown[];
  'x-permission'?: string;
  responses: Record<string, { content?: { 'application/json': { schema: unknown } } }>;
};

/** ajv-formats is CommonJS: its plugin is the module's `default` export. */
const addFormats = ajvFormats.default;

const documentRoute = PUBLIC_ROUTES.find((route) => route.path === '/openapi.json');

const buildDocument = async (): Promise<Document> => {
  if (!documentRoute) throw new Error('The route table has no /openapi.json');
  const answer = await documentRoute.handle({
    method: 'GET',
    params: {},
    query: {},
    headers: {},
    requestId: 'test',
    body: () => ({}),
    optionalBody: () => ({}),
  });
  return JSON.parse(answer.body);
};

describe('the OpenAPI document', () => {
  let document: Document;
  beforeAll(async () => {
    document = await buildDocument();
  });

  it('is valid OpenAPI 3.1 (@seriousme/openapi-schema-validator)', async () => {
    const validator = new Validator();

    const result = await validator.validate(structuredClone(document));

    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('describes every route of the table, with its permission, or as needing no key', () => {
    for (const route of TABLE) {
      const operation = document.paths[route.path]?.[route.method.toLowerCase()];
      expect(operation, `${route.method} ${route.path}`).toBeDefined();
      if (isKeyRoute(route)) {
        expect(operation?.['x-permission']).toBe(route.permission);
        expect(operation?.security).toBeUndefined();
      } else {
        expect(operation?.security).toEqual([]);
      }
    }
    const documented = Object.values(document.paths).flatMap((item) => Object.keys(item));
    expect(documented).toHaveLength(TABLE.length);
    const ids = Object.values(document.paths).flatMap((item) =>
      Object.values(item).map((operation) => operation.operationId),
    );
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('has docs for every route, with a schema for every answer that has a body', () => {
    const undocumented = TABLE.filter(
      (route) => !route.docs || (route.docs.success.status !== 204 && !route.docs.success.schema),
    ).map((route) => `${route.method} ${route.path}`);

    expect(undocumented).toEqual([]);
  });

  it('holds schemas that compile as JSON Schema 2020-12 (ajv, strict: no unknown keyword)', () => {
    const ajv = new Ajv2020({ strict: true, strictTypes: false, allErrors: true });
    addFormats(ajv);
    const withDefs = (schema: unknown) =>
      JSON.parse(JSON.stringify(schema).replaceAll('#/components/schemas/', '#/$defs/'));
    const $defs = withDefs(document.components.schemas);
    const operations = Object.values(document.paths).flatMap((item) => Object.values(item));
    const schemas = operations.flatMap((operation) => {
      const { requestBody, parameters = [], responses } = operation;
      return [
        ...Object.values(requestBody?.content ?? {}).map((content) => content.schema),
        ...parameters.map((parameter) => parameter.schema),
        ...Object.values(responses).flatMap((response) =>
          Object.values(response.content ?? {}).map((content) => content.schema),
        ),
      ];
    });

    expect(schemas.length).toBeGreaterThan(TABLE.length);
    for (const schema of schemas) {
      expect(() => ajv.compile({ ...withDefs(schema), $defs })).not.toThrow();
    }
  });

  it('matches what the stack serves: each route in a resource of the template, with its access', async () => {
    const stack = await stackModelForTests();

    for (const route of TABLE) {
      const path = `/api/v1${fillPath(route.path, { id: 'x', deliveryId: 'y' })}`;
      const served = resourceFor(stack.api.resources, path, route.method);
      expect(served, `${route.method} ${path}`).toBeDefined();
      expect(served?.method.access).toBe(isKeyRoute(route) ? 'key' : 'public');
    }
  });

  it('describes the views built elsewhere by their types (checked by tsc)', () => {
    expectTypeOf<ReturnType<typeof deliverySummaryView>>().toExtend<
      v.InferOutput<typeof deliverySummarySchema>
    >();
    expectTypeOf<ReturnType<typeof deliveryDetailView>>().toExtend<
      v.InferOutput<typeof deliveryDetailSchema>
    >();
    expectTypeOf<TestDeliveryResult>().toExtend<v.InferOutput<typeof testResultSchema>>();
    expectTypeOf<VerifyResult>().toExtend<v.InferOutput<typeof verifyResultSchema>>();
  });
});

describe('the OpenAPI document, served and held to the API’s answers', () => {
  const TENANT = 'openapi';
  let runtime: LocalRuntime;
  let receiver: TestReceiver;
  let owner: ApiClient;
  let fixture: Fixture;
  let document: Document;
  let validators: (pointer: string) => ValidateFunction;

  beforeAll(async () => {
    runtime = await startDeliveryRuntime();
    receiver = await startReceiver();
    owner = apiClient(runtime, await createKey(runtime, TENANT));
    const created = await owner.post<{ data: { webhook_id: string } }>('/webhooks', {
      name: 'Described',
      url: receiver.url,
      event_types: ['ticket.created'],
      security: { type: 'basic_auth', username: 'doc', password: 'doc-password-0001' },
    });
    expect(created.status, created.text).toBe(201);
    const webhookId = created.body.data.webhook_id;
    await owner.post('/events', { event_type: 'ticket.created', data: { id: 'ticket-doc' } });
    const deliveryId = await eventually(
      async () => {
        const list = await owner.get<{ data: { delivery_id: string; status: string }[] }>(
          `/webhooks/${webhookId}/deliveries`,
        );
        const first = list.body.data[0];
        return first?.status === 'delivered' && first.delivery_id;
      },
      20_000,
      'the first delivery',
    );
    fixture = { webhookId, deliveryId, receiverUrl: receiver.url };

    const served = await apiClient(runtime, undefined).get<Document>('/openapi.json');
    expect(served.status).toBe(200);
    document = served.body;
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(ajv);
    ajv.addSchema(document as object, 'openapi.json');
    validators = (pointer) => ajv.compile({ $ref: `openapi.json#${pointer}` });
  }, 60_000);

  afterAll(async () => {
    await receiver?.close();
    await runtime?.stop();
  });

  it('is served without a key, the same with any key, and to GET alone', async () => {
    const withKey = await apiClient(runtime, 'not-a-key-of-anyone-at-all').get('/openapi.json');
    const post = await apiClient(runtime, undefined).post('/openapi.json', {});

    expect(withKey.status).toBe(200);
    expect(withKey.body).toEqual(document);
    expect(document).toEqual(await buildDocument());
    expect(post.status).toBe(404);
  });

  const pointer = (...segments: string[]) =>
    `/${segments.map((segment) => segment.replaceAll('~', '~0').replaceAll('/', '~1')).join('/')}`;

  /** An answer held to its operation's response for its status. */
  const expectDocumented = (route: Pick<RouteEntry, 'method' | 'path'>, answer: ApiResponse) => {
    const context = `${route.method} ${route.path} → ${answer.status} ${answer.text.slice(0, 300)}`;
    const method = route.method.toLowerCase();
    const responses = document.paths[route.path]?.[method]?.responses ?? {};
    expect(Object.keys(responses), context).toContain(String(answer.status));
    if (answer.status === 204) {
      expect(answer.text, context).toBe('');
      return;
    }
    const validate = validators(
      pointer(
        'paths',
        route.path,
        method,
        'responses',
        String(answer.status),
        'content',
        'application/json',
        'schema',
      ),
    );
    expect(validate(answer.body), `${context}\n${JSON.stringify(validate.errors)}`).toBe(true);
  };

  it('answers every route’s example request with a body its success schema accepts', async () => {
    // Destructive routes last: each acts on the webhook the others use.
    const order = (route: RouteEntry) => (route.method === 'DELETE' ? 1 : 0);
    for (const route of [...ROUTES].sort((a, b) => order(a) - order(b))) {
      const request = exampleRequest(route, fixture);
      const answer = await owner.call(request.method, request.path, request.body);
      expect(answer.status, `${route.method} ${route.path}: ${answer.text}`).toBe(request.okStatus);
      expectDocumented(route, answer);
      if (answer.status === 202 && route.path.includes('/retry')) {
        await eventually(
          async () => {
            const detail = await owner.get<{ data: { status: string } }>(
              `/webhooks/${fixture.webhookId}/deliveries/${fixture.deliveryId}`,
            );
            return !['pending', 'retrying'].includes(detail.body.data.status);
          },
          15_000,
          'the retried delivery to finish',
        );
      }
    }
  });

  it('answers other successes and every kind of error with bodies their schemas accept', async () => {
    const created = await owner.post<{ data: { webhook_id: string } }>('/webhooks', {
      name: 'From a preset',
      url: receiver.url,
      event_types: ['ticket.created'],
      template: 'teams',
      is_test_mode: true,
      tags: ['chat'],
    });
    const id = created.body.data.webhook_id;
    const readOnly = apiClient(runtime, await createKey(runtime, TENANT, ['read']));
    const cases: [Pick<RouteEntry, 'method' | 'path'>, () => Promise<ApiResponse>][] = [
      [{ method: 'POST', path: '/webhooks' }, async () => created],
      [
        { method: 'GET', path: '/webhooks' },
        () => owner.get('/webhooks?is_active=true&sort=name&order=asc&created_from=2020-01-01'),
      ],
      [{ method: 'POST', path: '/webhooks' }, () => owner.post('/webhooks', { name: '' })],
      [{ method: 'POST', path: '/webhooks' }, () => owner.call('POST', '/webhooks', 'not json')],
      [
        { method: 'POST', path: '/webhooks' },
        () => owner.post('/webhooks', { name: 'x'.repeat(300 * 1024) }),
      ],
      [
        { method: 'GET', path: '/webhooks/{id}' },
        () => owner.get(`/webhooks/${crypto.randomUUID()}`),
      ],
      [{ method: 'GET', path: '/webhooks/{id}' }, () => owner.get('/webhooks/not-a-uuid')],
      [
        { method: 'GET', path: '/webhooks/{id}' },
        () => apiClient(runtime, undefined).get(`/webhooks/${id}`),
      ],
      [
        { method: 'PUT', path: '/webhooks/{id}' },
        () => readOnly.put(`/webhooks/${id}`, { name: 'y' }),
      ],
      [
        { method: 'PUT', path: '/webhooks/{id}' },
        () => owner.put(`/webhooks/${id}`, { retry_config: { max_attempts: 99 } }),
      ],
      [
        { method: 'GET', path: '/webhooks/{id}/deliveries' },
        () => owner.get(`/webhooks/${id}/deliveries?status=delivered&limit=5`),
      ],
      [
        { method: 'GET', path: '/webhooks/templates/{template_id}' },
        () => owner.get('/webhooks/templates/irc'),
      ],
      [
        { method: 'POST', path: '/events' },
        () =>
          owner.post('/events', {
            events: [
              { event_type: 'ticket.updated', data: {} },
              { event_type: 'nope', data: {} },
            ],
          }),
      ],
      [
        { method: 'POST', path: '/events' },
        () => owner.post('/events', { events: [{ event_type: 'custom.event', data: { a: 1 } }] }),
      ],
    ];
    for (const [route, send] of cases) expectDocumented(route, await send());
  });

  it('answers a wrong method with the error envelope its schema describes', async () => {
    const answer = await owner.call('PATCH', `/webhooks/${fixture.webhookId}`);
    const validate = validators('/components/schemas/Error');

    expect(answer.status).toBe(405);
    expect(validate(answer.body)).toBe(true);
  });
});
