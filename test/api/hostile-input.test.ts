import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_JSON_DEPTH } from '../../functions/domain/json-shape.ts';
import type { LocalRuntime } from '../../local/runtime.ts';
import { startReceiver, type TestReceiver } from '../support/receiver.ts';
import { type ApiClient, apiClient, createKey, startTestRuntime } from '../support/runtime.ts';

/**
 * What a hostile client found: bodies that crashed the handler, shapes that
 * were silently turned into others, text and ids read wrongly. Each answers
 * 400 in the error envelope and changes nothing.
 */

let runtime: LocalRuntime;
let api: ApiClient;
let receiver: TestReceiver;
let webhookId: string;

beforeAll(async () => {
  runtime = await startTestRuntime();
  api = apiClient(runtime, await createKey(runtime, 'hostile'));
  receiver = await startReceiver();
  webhookId = (await create({})).body.data.webhook_id;
}, 30_000);

afterAll(async () => {
  await receiver?.close();
  await runtime?.stop();
});

const minimal = () => ({ name: 'Hostile', url: receiver.url, event_types: ['ticket.created'] });

const create = (fields: Record<string, unknown>) =>
  api.post<{ data: { webhook_id: string } & Record<string, unknown> }>('/webhooks', {
    ...minimal(),
    ...fields,
  });

const count = async () =>
  (await api.get<{ pagination: { total: number } }>('/webhooks')).body.pagination.total;

const stored = async () => (await api.get(`/webhooks/${webhookId}`)).body;

/** `levels` objects inside each other around a 1, as JSON text. */
const nested = (levels: number) => `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;

describe('deeply nested JSON', () => {
  /** About 4 KB of brackets, 2,000 levels deep: it used to overflow the stack (500). */
  const deep = `{"a":${'['.repeat(2000)}${']'.repeat(2000)}}`;
  const deepProblem = {
    field: `a${'.0'.repeat(MAX_JSON_DEPTH - 1)}`,
    message: `is nested more than ${MAX_JSON_DEPTH} levels deep (objects and arrays, the outermost counting as the first)`,
  };

  it.each([
    ['POST', '/webhooks'],
    ['PUT', '/webhooks/{id}'],
    ['POST', '/webhooks/{id}/test'],
    ['POST', '/webhooks/verify'],
  ])('answers %s %s with 400 naming where, and changes nothing', async (method, path) => {
    // Prepare
    const before = { webhooks: await count(), webhook: await stored() };

    // Act
    const response = await api.call(method, path.replace('{id}', webhookId), deep);

    // Assess
    expect(response.status).toBe(400);
    expect(response.body).toEqual({
      error: {
        code: 'VALIDATION_ERROR',
        message: 'The request is invalid',
        details: [deepProblem],
      },
    });
    expect({ webhooks: await count(), webhook: await stored() }).toEqual(before);
    expect(receiver.requests).toHaveLength(0);
  });

  it('stores metadata as deep as DynamoDB can hold, and refuses one level more', async () => {
    // Prepare: body (1), metadata (2), properties (3), then `x` and what it holds.
    const body = (levels: number) =>
      `{"name":"Deep","url":"${receiver.url}","event_types":["ticket.created"],"metadata":{"properties":{"x":${nested(levels)}}}}`;
    const before = await count();

    // Act
    const deepest = await api.call('POST', '/webhooks', body(MAX_JSON_DEPTH - 3));
    const tooDeep = await api.call('POST', '/webhooks', body(MAX_JSON_DEPTH - 2));

    // Assess
    expect(deepest.status, deepest.text).toBe(201);
    expect(tooDeep.status).toBe(400);
    expect(tooDeep.body).toMatchObject({
      error: {
        code: 'VALIDATION_ERROR',
        details: [{ field: `metadata.properties.x${'.a'.repeat(MAX_JSON_DEPTH - 3)}` }],
      },
    });
    expect(await count()).toBe(before + 1);
  });

  it('takes a test payload as deep as its delivery record can hold, and refuses one level more', async () => {
    // Prepare: the payload is stored as the delivery's event.data, at the same level.
    const body = (levels: number) => `{"test_payload":{"x":${nested(levels)}}}`;

    // Act
    const deepest = await api.call('POST', `/webhooks/${webhookId}/test`, body(MAX_JSON_DEPTH - 2));
    const tooDeep = await api.call('POST', `/webhooks/${webhookId}/test`, body(MAX_JSON_DEPTH - 1));

    // Assess
    expect(deepest.status, deepest.text).toBe(200);
    expect(tooDeep.status).toBe(400);
    expect(receiver.requests).toHaveLength(1);
    receiver.requests.length = 0;
  });
});

describe('arrays where objects are expected', () => {
  const fields = [
    'retry_config',
    'rate_limit',
    'metadata',
    'custom_headers',
    'event_filter',
    'payload_fields',
    'payload_transformation',
  ];

  it.each(fields)('refuses %s: [] on create and on update, naming it', async (field) => {
    // Prepare
    const before = { webhooks: await count(), webhook: await stored() };
    const problem = { field, message: 'must be an object, not an array' };

    // Act
    const created = await create({ [field]: [] });
    const updated = await api.put(`/webhooks/${webhookId}`, { [field]: [] });

    // Assess
    expect(created.status).toBe(400);
    expect(created.body).toEqual({
      error: { code: 'VALIDATION_ERROR', message: 'The request is invalid', details: [problem] },
    });
    expect(updated.status).toBe(400);
    expect(updated.body).toMatchObject({ error: { details: [problem] } });
    expect({ webhooks: await count(), webhook: await stored() }).toEqual(before);
  });

  it('refuses test_payload: [] on the test route, sending nothing', async () => {
    const response = await api.post(`/webhooks/${webhookId}/test`, { test_payload: [] });

    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({
      error: {
        code: 'VALIDATION_ERROR',
        details: [{ field: 'test_payload', message: 'must be an object, not an array' }],
      },
    });
    expect(receiver.requests).toHaveLength(0);
  });
});

describe('URLs', () => {
  it.each([
    [
      'CR LF',
      'https://example.com/ho\r\nok',
      'must not contain control characters (such as CR, LF or tab)',
    ],
    ['port 0', 'https://example.com:0/hook', 'must not use port 0'],
  ])('refuses %s on create and update', async (_what, url, message) => {
    const before = { webhooks: await count(), webhook: await stored() };

    const created = await create({ url });
    const updated = await api.put(`/webhooks/${webhookId}`, { url });

    for (const response of [created, updated]) {
      expect(response.status).toBe(400);
      expect(response.body).toMatchObject({ error: { details: [{ field: 'url', message }] } });
    }
    expect({ webhooks: await count(), webhook: await stored() }).toEqual(before);
  });
});

describe('names', () => {
  it.each([
    ['NUL', '"Orders\\u0000"', 'must not contain control characters'],
    ['a lone surrogate', '"Orders \\ud800"', 'is not valid Unicode'],
    ['a right-to-left override', '"Orders \\u202efdp.exe"', 'must not contain bidirectional'],
  ])('refuses %s', async (_what, name, message) => {
    const before = await count();

    const response = await api.call(
      'POST',
      '/webhooks',
      `{"name":${name},"url":"${receiver.url}","event_types":["ticket.created"]}`,
    );

    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({
      error: { code: 'VALIDATION_ERROR', details: [{ field: 'name' }] },
    });
    expect(response.text).toContain(message);
    expect(await count()).toBe(before);
  });

  it('refuses a lone surrogate anywhere in a body, which UTF-8 cannot store', async () => {
    const response = await api.call(
      'PUT',
      `/webhooks/${webhookId}`,
      '{"metadata":{"properties":{"k":"\\udc00"}}}',
    );

    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({
      error: {
        details: [
          { field: 'metadata.properties.k', message: expect.stringContaining('lone surrogate') },
        ],
      },
    });
  });
});

describe('ids', () => {
  it('reads an upper-case UUID as the same id', async () => {
    const upper = webhookId.toUpperCase();

    const fetched = await api.get<{ data: { webhook_id: string } }>(`/webhooks/${upper}`);
    const subscriptions = await api.get(`/webhooks/${upper}/subscriptions`);
    const deliveries = await api.get(`/webhooks/${upper}/deliveries`);
    const verified = await api.post<{ data: { valid: boolean } }>('/webhooks/verify', {
      signature: 't=1,v1=00',
      body: '{}',
      webhook_id: upper,
    });

    expect(fetched.status).toBe(200);
    expect(fetched.body.data.webhook_id).toBe(webhookId);
    expect(subscriptions.status).toBe(200);
    expect(deliveries.status).toBe(200);
    expect(verified.status).toBe(200);
    expect(verified.body.data.valid).toBe(false);
  });
});

describe('list date ranges', () => {
  it('refuses created_from later than created_to, as the deliveries list does', async () => {
    const response = await api.get('/webhooks?created_from=2026-02-01&created_to=2026-01-01');

    expect(response.status).toBe(400);
    expect(response.body).toEqual({
      error: {
        code: 'VALIDATION_ERROR',
        message: 'The query string is invalid',
        details: [{ field: 'created_from', message: 'must not be after created_to' }],
      },
    });
  });
});
