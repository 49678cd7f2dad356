import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_TYPES } from '../../functions/domain/events/catalog.ts';
import type { LocalRuntime } from '../../local/runtime.ts';
import { type ApiClient, apiClient, guidePayload, startTestRuntime } from '../support/runtime.ts';

interface Webhook {
  webhook_id: string;
  tenant: string;
  name: string;
  signing_secret: string;
  security: Record<string, unknown>;
  secret_token: string | null;
  [field: string]: unknown;
}

let runtime: LocalRuntime;
let api: ApiClient;

beforeAll(async () => {
  runtime = await startTestRuntime();
  api = apiClient(runtime, runtime.devApiKey);
});
afterAll(() => runtime?.stop());

const create = async (overrides: Record<string, unknown> = {}) => {
  const response = await api.post<{ data: Webhook }>('/webhooks', {
    ...guidePayload(),
    ...overrides,
  });
  expect(response.status, response.text).toBe(201);
  return response.body.data;
};

describe('POST /webhooks', () => {
  it("accepts the public guide's payload as is and answers 201 with the whole webhook", async () => {
    const response = await api.post<{ data: Webhook }>('/webhooks', guidePayload());

    expect(response.status).toBe(201);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const webhook = response.body.data;
    expect(webhook.webhook_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(webhook).toMatchObject({
      tenant: 'dev',
      name: 'Ticket notifications',
      description: null,
      url: 'https://example.com/webhooks/alga',
      method: 'POST',
      event_types: ['ticket.created', 'ticket.updated'],
      payload_format: 'json',
      content_type: 'application/json',
      is_active: true,
      is_test_mode: false,
      verify_ssl: true,
      retry_config: {
        strategy: 'exponential_backoff',
        max_attempts: 3,
        initial_delay: 1000,
        max_delay: 300000,
        backoff_multiplier: 2,
        timeout: 10000,
      },
      rate_limit: { enabled: false, requests_per_minute: 60, burst_limit: 10 },
      total_deliveries: 0,
      successful_deliveries: 0,
      failed_deliveries: 0,
      last_delivery_at: null,
      last_success_at: null,
      last_failure_at: null,
      auto_disabled_at: null,
    });
    expect(webhook.created_at).toBe(webhook.updated_at);
    expect(new Date(String(webhook.created_at)).toISOString()).toBe(webhook.created_at);
  });

  it('returns the given hmac secret once as signing_secret and masks it in security', async () => {
    const webhook = await create();

    expect(webhook.signing_secret).toBe('replace-me');
    expect(webhook.security).toEqual({
      type: 'hmac_signature',
      secret: '********',
      algorithm: 'sha256',
      signature_header: 'X-Signature',
    });
  });

  it('generates a whsec_ signing secret of 32 random bytes when the body gives none', async () => {
    const first = await create({ security: { type: 'none' } });
    const second = await create({ security: { type: 'none' } });

    for (const webhook of [first, second]) {
      expect(webhook.signing_secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
      expect(Buffer.from(webhook.signing_secret.slice(6), 'base64')).toHaveLength(32);
    }
    expect(first.signing_secret).not.toBe(second.signing_secret);
  });

  it('applies the defaults of the contract to a minimal body', async () => {
    const response = await api.post<{ data: Webhook }>('/webhooks', {
      name: 'Minimal',
      url: 'http://receiver.example/hook',
      event_types: ['invoice.paid'],
    });

    expect(response.status).toBe(201);
    expect(response.body.data).toMatchObject({
      method: 'POST',
      security: { type: 'none' },
      payload_format: 'json',
      content_type: 'application/json',
      is_active: true,
      is_test_mode: false,
      verify_ssl: true,
      custom_headers: null,
      event_filter: null,
      payload_fields: null,
      payload_transformation: null,
      metadata: null,
      tags: null,
    });
  });

  it('stores every optional field of the contract and answers with it', async () => {
    const webhook = await create({
      description: 'All the fields',
      method: 'PUT',
      security: { type: 'bearer_token', token: 'tok_1234567890abcdef' },
      payload_format: 'xml',
      custom_headers: { 'X-Team': 'billing' },
      event_filter: {
        entity_types: ['ticket'],
        entity_ids: ['1f0c2a7e-3a35-4d39-9a53-0c2c1f5b8a11'],
        conditions: [
          { field: 'ticket.priority', operator: 'in', value: ['high', 'urgent'] },
          { field: 'ticket.amount', operator: 'greater_than', value: 100 },
        ],
        tags: ['vip'],
      },
      payload_fields: { ticket: ['title', 'status'], project: null },
      payload_transformation: {
        template: '{"title": "{{data.title}}"}',
        include_fields: ['data.title'],
        exclude_fields: ['data.internal'],
        custom_fields: { source: 'hookline' },
        flatten_nested: true,
      },
      retry_config: { strategy: 'custom', max_attempts: 4, delays: [5000, 300000, 1800000] },
      is_test_mode: true,
      verify_ssl: false,
      secret_token: 'token-secret-value-9876',
      rate_limit: { enabled: true, requests_per_minute: 120, burst_limit: 20 },
      metadata: { tags: ['a'], properties: { owner: 'ops', level: 3 }, notes: 'note' },
      tags: ['prod', 'prod', 'eu'],
    });

    expect(webhook).toMatchObject({
      description: 'All the fields',
      method: 'PUT',
      security: { type: 'bearer_token', token: '****cdef', header_name: 'Authorization' },
      payload_format: 'xml',
      content_type: 'application/xml',
      custom_headers: { 'X-Team': 'billing' },
      payload_fields: { ticket: ['title', 'status'], project: null },
      payload_transformation: { flatten_nested: true, custom_fields: { source: 'hookline' } },
      retry_config: {
        strategy: 'custom',
        max_attempts: 4,
        delays: [5000, 300000, 1800000],
        initial_delay: 1000,
      },
      is_test_mode: true,
      verify_ssl: false,
      secret_token: '****9876',
      rate_limit: { enabled: true, requests_per_minute: 120, burst_limit: 20 },
      metadata: { properties: { owner: 'ops', level: 3 } },
      tags: ['prod', 'eu'],
    });
    const fetched = await api.get<{ data: Webhook }>(`/webhooks/${webhook.webhook_id}`);
    expect(fetched.body.data).toEqual({
      ...webhook,
      signing_secret: fetched.body.data.signing_secret,
    });
  });

  it('ignores read-only response fields sent back in a body', async () => {
    const webhook = await create({
      webhook_id: '00000000-0000-4000-8000-000000000000',
      tenant: 'someone-else',
      total_deliveries: 99,
      created_at: '2000-01-01T00:00:00.000Z',
    });

    expect(webhook.webhook_id).not.toBe('00000000-0000-4000-8000-000000000000');
    expect(webhook.tenant).toBe('dev');
    expect(webhook.total_deliveries).toBe(0);
  });
});

describe('GET /webhooks/{id}', () => {
  it('answers the webhook with every secret masked, the signing secret included', async () => {
    const created = await create({
      security: { type: 'basic_auth', username: 'alga', password: 'correct-horse-battery' },
      secret_token: 'abc',
    });

    const response = await api.get<{ data: Webhook }>(`/webhooks/${created.webhook_id}`);

    expect(response.status).toBe(200);
    const webhook = response.body.data;
    expect(webhook.security).toEqual({
      type: 'basic_auth',
      username: 'alga',
      password: '****tery',
    });
    expect(webhook.secret_token).toBe('********');
    expect(webhook.signing_secret).toBe(`****${created.signing_secret.slice(-4)}`);
    expect(response.text).not.toContain('correct-horse-battery');
    expect(response.text).not.toContain(created.signing_secret);
  });

  it('masks oauth2 and api_key secrets too', async () => {
    const oauth = await create({
      security: {
        type: 'oauth2',
        client_id: 'client',
        client_secret: 'oauth-client-secret-xyz1',
        token_url: 'https://auth.example/token',
        scope: 'webhooks',
      },
    });
    const apiKey = await create({
      security: { type: 'api_key', token: 'key-value-0000-1111', header_name: 'X-Receiver-Key' },
    });

    expect(
      (await api.get<{ data: Webhook }>(`/webhooks/${oauth.webhook_id}`)).body.data.security,
    ).toEqual({
      type: 'oauth2',
      client_id: 'client',
      client_secret: '****xyz1',
      token_url: 'https://auth.example/token',
      scope: 'webhooks',
    });
    expect(
      (await api.get<{ data: Webhook }>(`/webhooks/${apiKey.webhook_id}`)).body.data.security,
    ).toEqual({
      type: 'api_key',
      token: '****1111',
      header_name: 'X-Receiver-Key',
    });
  });

  it('masks secrets in lists too', async () => {
    const created = await create({
      security: { type: 'bearer_token', token: 'listed-bearer-token-5678' },
      secret_token: 'listed-secret-token-4321',
    });

    const response = await api.get<{ data: Webhook[] }>('/webhooks?limit=100');

    const listed = response.body.data.find((webhook) => webhook.webhook_id === created.webhook_id);
    expect(listed?.security).toEqual({
      type: 'bearer_token',
      token: '****5678',
      header_name: 'Authorization',
    });
    expect(listed?.secret_token).toBe('****4321');
    expect(listed?.signing_secret).toBe(`****${created.signing_secret.slice(-4)}`);
    expect(response.text).not.toContain('listed-bearer-token-5678');
    expect(response.text).not.toContain('listed-secret-token-4321');
    expect(response.text).not.toContain(created.signing_secret);
  });

  it('answers 404 in the error envelope for an unknown id', async () => {
    const response = await api.get('/webhooks/7d4f5f0e-9d51-4a53-a7d2-8f0f1c3f6b11');

    expect(response.status).toBe(404);
    expect(response.body).toEqual({
      error: {
        code: 'NOT_FOUND',
        message: 'Webhook 7d4f5f0e-9d51-4a53-a7d2-8f0f1c3f6b11 not found',
      },
    });
  });

  it('answers 400 for an id that is not a UUID', async () => {
    const response = await api.get('/webhooks/not-a-uuid');

    expect(response.status).toBe(400);
    expect(response.body).toEqual({
      error: {
        code: 'VALIDATION_ERROR',
        message: 'The webhook id is invalid',
        details: [{ field: 'id', message: 'must be a UUID' }],
      },
    });
  });
});

describe('PUT /webhooks/{id}', () => {
  it('changes only the given fields and bumps updated_at', async () => {
    const created = await create({ description: 'before', tags: ['x'] });
    await new Promise((resolve) => setTimeout(resolve, 5));

    const response = await api.put<{ data: Webhook }>(`/webhooks/${created.webhook_id}`, {
      name: 'Renamed',
      is_active: false,
    });

    expect(response.status).toBe(200);
    const updated = response.body.data;
    expect(updated).toMatchObject({
      name: 'Renamed',
      is_active: false,
      description: 'before',
      tags: ['x'],
      url: created.url,
      event_types: created.event_types,
      created_at: created.created_at,
    });
    expect(String(updated.updated_at) > String(created.updated_at)).toBe(true);
    const fetched = await api.get<{ data: Webhook }>(`/webhooks/${created.webhook_id}`);
    expect(fetched.body.data).toEqual(updated);
  });

  it('clears optional fields sent as null', async () => {
    const created = await create({
      description: 'gone soon',
      tags: ['x'],
      custom_headers: { 'X-A': '1' },
    });

    const response = await api.put<{ data: Webhook }>(`/webhooks/${created.webhook_id}`, {
      description: null,
      tags: null,
      custom_headers: null,
    });

    expect(response.body.data).toMatchObject({
      description: null,
      tags: null,
      custom_headers: null,
    });
  });

  it('replaces a nested object as a whole, with its own defaults', async () => {
    const created = await create({ retry_config: { max_attempts: 7, timeout: 5000 } });

    const response = await api.put<{ data: Webhook }>(`/webhooks/${created.webhook_id}`, {
      retry_config: { strategy: 'linear_backoff' },
    });

    expect(response.body.data.retry_config).toEqual({
      strategy: 'linear_backoff',
      max_attempts: 3,
      initial_delay: 1000,
      max_delay: 300000,
      backoff_multiplier: 2,
      timeout: 10000,
    });
  });

  it('keeps stored secrets when a fetched webhook is sent back with its masked values', async () => {
    const created = await create({
      security: { type: 'hmac_signature', secret: 'original-hmac-secret-1', algorithm: 'sha512' },
      secret_token: 'original-secret-token-1',
    });
    const fetched = (await api.get<{ data: Webhook }>(`/webhooks/${created.webhook_id}`)).body.data;

    const response = await api.put<{ data: Webhook }>(`/webhooks/${created.webhook_id}`, {
      ...fetched,
      name: 'Edited in a form',
    });

    expect(response.status, response.text).toBe(200);
    expect(response.body.data.name).toBe('Edited in a form');
    expect(response.body.data.signing_secret).toBe('****et-1');
    expect(response.body.data.secret_token).toBe('****en-1');
    expect(response.body.data.security).toEqual({
      type: 'hmac_signature',
      secret: '****et-1',
      algorithm: 'sha512',
      signature_header: 'X-Signature',
    });
  });

  it('keeps a default Content-Type a default through a GET and PUT round trip', async () => {
    const created = await create({ payload_format: 'json' });
    const fetched = (await api.get<{ data: Webhook }>(`/webhooks/${created.webhook_id}`)).body.data;
    expect(fetched.content_type).toBe('application/json');

    await api.put(`/webhooks/${created.webhook_id}`, { ...fetched, name: 'round trip' });
    const switched = await api.put<{ data: Webhook }>(`/webhooks/${created.webhook_id}`, {
      payload_format: 'xml',
    });

    expect(switched.body.data.content_type).toBe('application/xml');
  });

  it('makes a new hmac secret the signing secret', async () => {
    const created = await create();

    const response = await api.put<{ data: Webhook }>(`/webhooks/${created.webhook_id}`, {
      security: { type: 'hmac_signature', secret: 'a-brand-new-secret-42' },
    });

    expect(response.body.data.signing_secret).toBe('****t-42');
  });

  it('validates as on create and changes nothing when invalid', async () => {
    const created = await create();

    const response = await api.put(`/webhooks/${created.webhook_id}`, {
      name: '',
      event_types: [],
      retry_config: { max_attempts: 0 },
    });

    expect(response.status).toBe(400);
    expect(response.body).toEqual({
      error: {
        code: 'VALIDATION_ERROR',
        message: 'The request is invalid',
        details: [
          { field: 'name', message: 'must not be empty' },
          { field: 'event_types', message: 'must list at least one event type' },
          { field: 'retry_config.max_attempts', message: 'must be an integer from 1 to 10' },
        ],
      },
    });
    const fetched = await api.get<{ data: Webhook }>(`/webhooks/${created.webhook_id}`);
    expect(fetched.body.data).toEqual({
      ...created,
      signing_secret: fetched.body.data.signing_secret,
    });
  });

  it('answers an empty body with the webhook unchanged', async () => {
    const created = await create();

    const response = await api.put<{ data: Webhook }>(`/webhooks/${created.webhook_id}`, {});

    expect(response.status).toBe(200);
    expect(response.body.data.updated_at).toBe(created.updated_at);
  });

  it('answers 404 for an unknown id', async () => {
    const response = await api.put('/webhooks/7d4f5f0e-9d51-4a53-a7d2-8f0f1c3f6b11', { name: 'x' });

    expect(response.status).toBe(404);
  });
});

describe('DELETE /webhooks/{id}', () => {
  it('answers 204 with no body, after which the webhook is gone', async () => {
    const created = await create();

    const response = await api.delete(`/webhooks/${created.webhook_id}`);

    expect(response.status).toBe(204);
    expect(response.text).toBe('');
    expect((await api.get(`/webhooks/${created.webhook_id}`)).status).toBe(404);
    expect((await api.delete(`/webhooks/${created.webhook_id}`)).status).toBe(404);
    expect((await api.put(`/webhooks/${created.webhook_id}`, { name: 'back?' })).status).toBe(404);
  });
});

describe('GET /webhooks/events', () => {
  it('lists the 40 event types of the catalog', async () => {
    const response = await api.get<{ data: string[] }>('/webhooks/events');

    expect(response.status).toBe(200);
    expect(response.body.data).toEqual([...EVENT_TYPES]);
    expect(response.body.data).toHaveLength(40);
  });
});

describe('GET /webhooks/{id}/subscriptions', () => {
  it("answers the webhook's id and event types", async () => {
    const created = await create({ event_types: ['invoice.paid', 'ticket.closed'] });

    const response = await api.get(`/webhooks/${created.webhook_id}/subscriptions`);

    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      data: { webhook_id: created.webhook_id, event_types: ['invoice.paid', 'ticket.closed'] },
    });
  });

  it('answers 404 for an unknown webhook', async () => {
    const response = await api.get('/webhooks/7d4f5f0e-9d51-4a53-a7d2-8f0f1c3f6b11/subscriptions');

    expect(response.status).toBe(404);
  });
});
