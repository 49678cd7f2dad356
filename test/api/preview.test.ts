import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '../../local/runtime.ts';
import { startReceiver, type TestReceiver } from '../support/receiver.ts';
import {
  type ApiClient,
  apiClient,
  createKey,
  documentClientFor,
  emitEvents,
  startDeliveryRuntime,
} from '../support/runtime.ts';
import { tenantState } from './routes.ts';

/**
 * The previews through the local runtime: a saved webhook's and a draft's.
 * Each answers the request a delivery would send (the same body and headers
 * as the real delivery that follows, but for ids, times and signatures),
 * with secrets redacted; neither sends nor stores anything; a key that may
 * only read may use them.
 */

const TENANT = 'preview';
const PASSWORD = 'pw-preview-5e1c9a';
const TOKEN = 'st-preview-0b7d24';

let runtime: LocalRuntime;
let db: DynamoDBDocumentClient;
let api: ApiClient;
let reader: ApiClient;
let receiver: TestReceiver;

beforeAll(async () => {
  runtime = await startDeliveryRuntime();
  db = documentClientFor(runtime);
  api = apiClient(runtime, await createKey(runtime, TENANT));
  reader = apiClient(runtime, await createKey(runtime, TENANT, ['read']));
  receiver = await startReceiver();
}, 60_000);

afterAll(async () => {
  await receiver?.close();
  await runtime?.stop();
});

interface Preview {
  webhook_id: string | null;
  matches: boolean;
  event: { event_id: string; event_type: string; data: Record<string, unknown> };
  request: { method: string; url: string; headers: Record<string, string>; body: string | null };
  error: { error_class: string; error_message: string } | null;
}

type Answer = { data: Preview; error: { details: { field: string; message: string }[] } };

const WEBHOOK = {
  name: 'Preview',
  event_types: ['ticket.created', 'ticket.closed'],
  security: { type: 'basic_auth', username: 'hook', password: PASSWORD },
  secret_token: TOKEN,
  custom_headers: { 'X-Team': 'support' },
  payload_transformation: { include_fields: ['event_type', 'data.title'], flatten_nested: true },
};

/** What varies between two requests for one event: ids, times, signatures. */
const VARYING = [
  'x-alga-delivery-id',
  'webhook-id',
  'webhook-timestamp',
  'x-alga-signature',
  'webhook-signature',
];
const comparable = (headers: Record<string, unknown>) =>
  Object.fromEntries(
    Object.entries(headers)
      .map(([name, value]): [string, string] => [name.toLowerCase(), String(value)])
      .filter(([name]) => !VARYING.includes(name)),
  );

describe('a saved webhook’s preview', () => {
  it('is the request its delivery then sends, with the secrets redacted', async () => {
    // Prepare
    const created = await api.post<{ data: { webhook_id: string } }>('/webhooks', {
      ...WEBHOOK,
      url: receiver.url,
    });
    const id = created.body.data.webhook_id;
    const event = {
      event_id: 'evt-preview-1',
      event_type: 'ticket.created',
      occurred_at: '2026-02-01T10:00:00.000Z',
      data: { id: 't-9', title: 'Printer on fire', priority: 'high' },
    };
    const before = await tenantState(db, runtime, TENANT);

    // Act
    const preview = await reader.post<Answer>(`/webhooks/${id}/preview`, { event });
    const after = await tenantState(db, runtime, TENANT);
    await emitEvents(runtime, [{ ...event, tenant_id: TENANT }]);
    const [sent] = await receiver.waitFor(1, 20_000);

    // Assess
    expect(preview.status, preview.text).toBe(200);
    expect(after).toEqual(before);
    const { data } = preview.body;
    expect(data).toMatchObject({ webhook_id: id, matches: true, error: null });
    expect(data.request.method).toBe(sent?.method);
    expect(data.request.url).toBe(receiver.url);
    expect(data.request.body).toBe(sent?.body);
    expect(JSON.parse(data.request.body ?? '')).toEqual({
      event_type: 'ticket.created',
      'data.title': 'Printer on fire',
    });
    const {
      host: _host,
      connection: _connection,
      'content-length': _length,
      ...received
    } = sent?.headers ?? {};
    expect(comparable(data.request.headers)).toEqual({
      ...comparable(received),
      authorization: '[redacted]',
      'x-alga-secret-token': '[redacted]',
    });
    expect(data.request.headers['X-Alga-Signature']).toMatch(/^t=\d+,v1=\[redacted\]$/);
    expect(data.request.headers['webhook-signature']).toBe('v1,[redacted]');
    expect(preview.text).not.toContain(PASSWORD);
    expect(preview.text).not.toContain(TOKEN);
  });

  it('takes the catalog’s sample of the webhook’s first event type without an event', async () => {
    // Prepare
    const created = await api.post<{ data: { webhook_id: string } }>('/webhooks', {
      name: 'Sample',
      url: receiver.url,
      event_types: ['invoice.paid'],
    });
    const sent = receiver.requests.length;

    // Act
    const preview = await reader.post<Answer>(`/webhooks/${created.body.data.webhook_id}/preview`);

    // Assess
    expect(preview.status, preview.text).toBe(200);
    expect(preview.body.data.event).toMatchObject({
      event_type: 'invoice.paid',
      data: { status: 'paid', amount_paid: 1250 },
    });
    expect(JSON.parse(preview.body.data.request.body ?? '').data).toEqual(
      preview.body.data.event.data,
    );
    expect(receiver.requests).toHaveLength(sent);
  });

  it('says when the webhook would not get the event, and why a body cannot be made', async () => {
    // Prepare
    const created = await api.post<{ data: { webhook_id: string } }>('/webhooks', {
      name: 'Broken template',
      url: receiver.url,
      event_types: ['ticket.created'],
      payload_transformation: { template: 'not json {{event_type}}' },
    });

    // Act
    const preview = await reader.post<Answer>(`/webhooks/${created.body.data.webhook_id}/preview`, {
      event: { event_type: 'project.created' },
    });

    // Assess
    expect(preview.body.data).toMatchObject({
      matches: false,
      request: null,
      error: {
        error_class: 'config',
        error_message: 'The payload template must render JSON for payload_format json',
      },
    });
  });
});

describe('a draft’s preview', () => {
  it('shows what the webhook would send before it is created, storing nothing', async () => {
    // Prepare
    const before = await tenantState(db, runtime, TENANT);

    // Act
    const preview = await reader.post<Answer>('/webhooks/preview', {
      webhook: { ...WEBHOOK, url: 'https://hooks.example/acme', method: 'PUT' },
      event: { event_type: 'ticket.closed', data: { title: 'Done' } },
    });

    // Assess
    expect(preview.status, preview.text).toBe(200);
    expect(preview.body.data).toMatchObject({
      webhook_id: null,
      matches: true,
      request: {
        method: 'PUT',
        url: 'https://hooks.example/acme',
        body: '{"event_type":"ticket.closed","data.title":"Done"}',
      },
    });
    expect(preview.body.data.request.headers).toMatchObject({
      'X-Alga-Webhook-Id': '00000000-0000-0000-0000-000000000000',
      Authorization: '[redacted]',
      'X-Team': 'support',
    });
    expect(await tenantState(db, runtime, TENANT)).toEqual(before);
  });

  it('takes a chat preset by template, as a create does', async () => {
    // Act
    const preview = await reader.post<Answer>('/webhooks/preview', {
      webhook: {
        name: 'Slack',
        url: 'https://hooks.example/slack',
        event_types: ['ticket.created'],
        template: 'slack',
      },
    });

    // Assess
    expect(preview.status, preview.text).toBe(200);
    expect(JSON.parse(preview.body.data.request.body ?? '')).toHaveProperty('text');
  });

  it('is checked as a create is, the problems named under webhook', async () => {
    // Act
    const invalid = await reader.post<Answer>('/webhooks/preview', {
      webhook: { name: '', url: 'ftp://x', event_types: ['nope'] },
      event: { event_type: 'nope', extra: 1 },
    });
    const colliding = await reader.post<Answer>('/webhooks/preview', {
      webhook: {
        name: 'x',
        url: 'https://hooks.example/',
        event_types: ['ticket.created'],
        security: { type: 'api_key', token: 'k', header_name: 'X-Key' },
        custom_headers: { 'x-key': 'other' },
      },
    });

    // Assess
    expect(invalid.status).toBe(400);
    expect(invalid.body.error.details.map(({ field }) => field).sort()).toEqual([
      'event.event_type',
      'event.extra',
      'webhook.event_types.0',
      'webhook.name',
      'webhook.url',
    ]);
    expect(colliding.status).toBe(400);
    expect(colliding.body.error.details).toEqual([
      {
        field: 'webhook.custom_headers.x-key',
        message: 'collides with the api_key header set by security',
      },
    ]);
  });
});
