import { createHmac } from 'node:crypto';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { Webhook as SvixWebhook } from 'svix';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '../../local/runtime.ts';
import { startReceiver, type TestReceiver } from '../support/receiver.ts';
import {
  type ApiClient,
  apiClient,
  emitEvents,
  eventually,
  peekQueue,
  startDeliveryRuntime,
} from '../support/runtime.ts';

/**
 * Events in, signed deliveries out, through the local runtime: the real
 * fan-out and delivery handlers behind SQS pollers, dynalite, fauxqs, and
 * receivers on 127.0.0.1.
 */

let runtime: LocalRuntime;
let api: ApiClient;
let receiver: TestReceiver;

beforeAll(async () => {
  runtime = await startDeliveryRuntime();
  api = apiClient(runtime, runtime.devApiKey);
}, 30_000);

afterAll(async () => {
  await runtime.stop();
});

beforeEach(async () => {
  receiver = await startReceiver();
});

afterEach(async () => {
  await receiver.close();
});

interface Created {
  webhook_id: string;
  signing_secret: string;
}

const createWebhook = async (config: Record<string, unknown> = {}): Promise<Created> => {
  const response = await api.post<{ data: Created }>('/webhooks', {
    name: 'e2e',
    url: receiver.url,
    event_types: ['ticket.created', 'ticket.updated'],
    ...config,
  });
  expect(response.status, response.text).toBe(201);
  return response.body.data;
};

let sequence = 0;
const ticketEvent = (overrides: Record<string, unknown> = {}) => {
  sequence += 1;
  return {
    event_id: `evt-${Date.now()}-${sequence}`,
    event_type: 'ticket.created',
    tenant_id: runtime.devTenant,
    occurred_at: new Date().toISOString(),
    data: { id: `t-${sequence}`, title: 'Printer on fire', priority: 'high', status: 'open' },
    ...overrides,
  };
};

const headersOf = (index: number) => {
  const request = receiver.requests[index];
  if (!request) throw new Error(`No request ${index}`);
  return Object.fromEntries(
    Object.entries(request.headers).map(([name, value]) => [name, String(value)]),
  );
};

describe('a signed delivery', () => {
  it('reaches the receiver with headers and signatures the public libraries accept', async () => {
    const webhook = await createWebhook();
    const event = ticketEvent();

    await emitEvents(runtime, [event]);
    const [request] = await receiver.waitFor(1);

    if (!request) throw new Error('no request');
    const headers = headersOf(0);
    expect(JSON.parse(request.body)).toEqual({
      event_id: event.event_id,
      event_type: 'ticket.created',
      occurred_at: event.occurred_at,
      tenant_id: runtime.devTenant,
      data: event.data,
    });
    expect(headers['content-type']).toBe('application/json');
    expect(headers['x-alga-webhook-id']).toBe(webhook.webhook_id);
    expect(headers['x-alga-event-id']).toBe(event.event_id);
    expect(headers['x-alga-event-type']).toBe('ticket.created');
    expect(headers['x-alga-delivery-attempt']).toBe('1');
    expect(headers['webhook-id']).toBe(headers['x-alga-delivery-id']);
    expect(() =>
      new StandardWebhook(webhook.signing_secret).verify(request.body, headers),
    ).not.toThrow();
    expect(() =>
      new SvixWebhook(webhook.signing_secret).verify(request.body, headers),
    ).not.toThrow();
    const [t, v1] = (headers['x-alga-signature'] ?? '').split(',');
    const expected = createHmac('sha256', webhook.signing_secret)
      .update(`${t?.slice(2)}.${request.body}`)
      .digest('hex');
    expect(v1).toBe(`v1=${expected}`);
  });

  it('is recorded in the history, newest first, with every attempt', async () => {
    const webhook = await createWebhook();
    const events = [ticketEvent(), ticketEvent(), ticketEvent()];
    for (const event of events) {
      await emitEvents(runtime, [event]);
      await receiver.waitFor(events.indexOf(event) + 1);
    }

    const list = await eventually(async () => {
      const page = await api.get<{
        data: { status: string; delivery_id: string; event_id: string }[];
        pagination: { hasNext: boolean; next_cursor: string };
      }>(`/webhooks/${webhook.webhook_id}/deliveries?limit=2`);
      return page.body.data.every((entry) => entry.status === 'delivered') ? page : undefined;
    });
    const body = list.body;
    const next = await api.get<{ data: { event_id: string }[]; pagination: { hasNext: boolean } }>(
      `/webhooks/${webhook.webhook_id}/deliveries?limit=2&cursor=${body.pagination.next_cursor}`,
    );
    const first = body.data[0];
    if (!first) throw new Error('empty history');
    const detail = await api.get<{ data: { attempts: { status_code: number }[]; event: unknown } }>(
      `/webhooks/${webhook.webhook_id}/deliveries/${first.delivery_id}`,
    );

    expect(body.data.map((entry) => entry.event_id)).toEqual([
      events[2]?.event_id,
      events[1]?.event_id,
    ]);
    expect(body.pagination.hasNext).toBe(true);
    expect(next.body.data.map((entry) => entry.event_id)).toEqual([events[0]?.event_id]);
    expect(next.body.pagination.hasNext).toBe(false);
    expect(detail.body.data.attempts.map((attempt) => attempt.status_code)).toEqual([200]);
    const webhookNow = await api.get<{ data: { successful_deliveries: number } }>(
      `/webhooks/${webhook.webhook_id}`,
    );
    expect(webhookNow.body.data.successful_deliveries).toBe(3);
  });
});

describe('events', () => {
  it('are delivered once per webhook when the same event arrives twice', async () => {
    const first = await createWebhook();
    const second = await createWebhook();
    const event = ticketEvent();

    await emitEvents(runtime, [event, event]);
    await receiver.waitFor(2);
    await new Promise((resolve) => setTimeout(resolve, 1500));

    const ids = receiver.requests.map((request) => request.headers['x-alga-webhook-id']).sort();
    expect(ids).toEqual([first.webhook_id, second.webhook_id].sort());
  });

  it('reach only the webhooks whose filters they match', async () => {
    const matching = await createWebhook({
      event_filter: {
        entity_types: ['ticket'],
        conditions: [
          { field: 'priority', operator: 'in', value: ['high', 'urgent'] },
          { field: 'title', operator: 'contains', value: 'fire' },
        ],
        tags: ['vip'],
      },
    });
    const event = ticketEvent({ tags: ['vip'] });
    const wrongPriority = ticketEvent({ tags: ['vip'] });
    wrongPriority.data = { ...wrongPriority.data, priority: 'low' };
    const untagged = ticketEvent();
    const otherType = ticketEvent({ event_type: 'project.created' });

    await emitEvents(runtime, [wrongPriority, untagged, otherType, event]);
    await receiver.waitFor(1);
    await new Promise((resolve) => setTimeout(resolve, 1500));

    expect(receiver.requests.map((request) => request.headers['x-alga-event-id'])).toEqual([
      event.event_id,
    ]);
    expect(receiver.requests[0]?.headers['x-alga-webhook-id']).toBe(matching.webhook_id);
  });

  it('that are malformed land in the ingest dead-letter queue with their reason', async () => {
    await emitEvents(runtime, [{ raw: '{"event_type":"ticket.created","data":[]}' }]);

    const rejected = await eventually(async () => {
      const messages = await peekQueue(runtime, runtime.queues.events.deadLetterUrl);
      return messages.find((message) => message.Body?.includes('"data":[]'));
    });

    expect(rejected.MessageAttributes?.reason?.StringValue).toMatch(/tenant_id/);
    expect(rejected.MessageAttributes?.reason?.StringValue).toMatch(/data/);
  });
});

describe('security types and payload formats', () => {
  it('authenticate each request as configured', async () => {
    const tokenServer = await startReceiver({
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ access_token: 'tok-123', token_type: 'Bearer', expires_in: 3600 }),
    });
    const configs = [
      { type: 'basic_auth', username: 'user', password: 'pass-word-1234' },
      { type: 'bearer_token', token: 'bearer-token-1234' },
      { type: 'api_key', token: 'key-abcdef-1234', header_name: 'X-Api-Token' },
      {
        type: 'hmac_signature',
        secret: 'hmac-secret-value',
        algorithm: 'sha512',
        signature_header: 'X-Sig',
      },
      {
        type: 'oauth2',
        client_id: 'client',
        client_secret: 'client-secret-1234',
        token_url: tokenServer.url,
        scope: 'webhooks',
      },
    ];
    for (const security of configs)
      await createWebhook({ security, event_types: ['ticket.closed'] });

    await emitEvents(runtime, [ticketEvent({ event_type: 'ticket.closed' })]);
    await receiver.waitFor(5);
    await tokenServer.close();

    const byAuth = receiver.requests.map((request) => request.headers);
    expect(
      byAuth.some(
        (h) => h.authorization === `Basic ${Buffer.from('user:pass-word-1234').toString('base64')}`,
      ),
    ).toBe(true);
    expect(byAuth.some((h) => h.authorization === 'Bearer bearer-token-1234')).toBe(true);
    expect(byAuth.some((h) => h['x-api-token'] === 'key-abcdef-1234')).toBe(true);
    expect(byAuth.some((h) => h.authorization === 'Bearer tok-123')).toBe(true);
    const hmac = receiver.requests.find((request) => request.headers['x-sig']);
    const [t, v1] = String(hmac?.headers['x-sig']).split(',');
    const digest = createHmac('sha512', 'hmac-secret-value')
      .update(`${t?.slice(2)}.${hmac?.body}`)
      .digest('hex');
    expect(v1).toBe(`v1=${digest}`);
    expect(tokenServer.requests[0]?.body).toContain('grant_type=client_credentials');
    expect(tokenServer.requests[0]?.headers.authorization).toMatch(/^Basic /);
  });

  it('encode the payload as configured', async () => {
    const formats = [
      { payload_format: 'xml' },
      { payload_format: 'form_data' },
      {
        payload_format: 'custom',
        content_type: 'text/plain',
        payload_transformation: { template: 'Ticket {{data.id}}: {{data.title}}' },
      },
      {
        payload_format: 'json',
        payload_transformation: {
          include_fields: ['event_type', 'data.title'],
          custom_fields: { source: 'psa' },
        },
      },
    ];
    for (const format of formats)
      await createWebhook({ ...format, event_types: ['ticket.assigned'] });
    const event = ticketEvent({ event_type: 'ticket.assigned' });

    await emitEvents(runtime, [event]);
    await receiver.waitFor(4);

    const byType = new Map(
      receiver.requests.map((request) => [String(request.headers['content-type']), request.body]),
    );
    expect(byType.get('application/xml')).toMatch(
      /^<\?xml[^>]*\?>\s*<webhook>.*<title>Printer on fire<\/title>/s,
    );
    expect(byType.get('application/x-www-form-urlencoded')).toContain(
      'data%5Btitle%5D=Printer%20on%20fire',
    );
    expect(byType.get('text/plain')).toBe(`Ticket ${event.data.id}: Printer on fire`);
    expect(JSON.parse(byType.get('application/json') ?? '{}')).toEqual({
      event_type: 'ticket.assigned',
      data: { title: 'Printer on fire' },
      source: 'psa',
    });
  });
});

describe('failures', () => {
  it('are retried on schedule, then abandoned into the delivery dead-letter queue', async () => {
    receiver.setDefault({ status: 500, body: 'broken' });
    const webhook = await createWebhook({
      retry_config: { strategy: 'custom', delays: [500, 1000], max_attempts: 3 },
      event_types: ['ticket.comment.added'],
    });
    const event = ticketEvent({ event_type: 'ticket.comment.added' });

    await emitEvents(runtime, [event]);
    await receiver.waitFor(3, 15_000);

    const gaps = receiver.requests
      .slice(1)
      .map((request, index) => request.at - (receiver.requests[index]?.at ?? 0));
    expect(gaps[0]).toBeGreaterThanOrEqual(400);
    expect(gaps[1]).toBeGreaterThanOrEqual(800);
    expect(receiver.requests.map((request) => request.headers['x-alga-delivery-attempt'])).toEqual([
      '1',
      '2',
      '3',
    ]);
    const deliveryId = String(receiver.requests[0]?.headers['x-alga-delivery-id']);
    const dead = await eventually(async () => {
      const messages = await peekQueue(runtime, runtime.queues.deliveries.deadLetterUrl);
      return messages.find((message) => message.Body?.includes(deliveryId));
    });
    expect(dead.MessageAttributes?.reason?.StringValue).toMatch(/3 attempts/);
    const detail = await api.get<{ data: { status: string; attempts: unknown[] } }>(
      `/webhooks/${webhook.webhook_id}/deliveries/${deliveryId}`,
    );
    expect(detail.body.data.status).toBe('abandoned');
    expect(detail.body.data.attempts).toHaveLength(3);
  });

  it('with 410 Gone disable the webhook', async () => {
    receiver.setDefault({ status: 410 });
    const webhook = await createWebhook({ event_types: ['ticket.status_changed'] });

    await emitEvents(runtime, [ticketEvent({ event_type: 'ticket.status_changed' })]);
    await receiver.waitFor(1);

    const stored = await eventually(async () => {
      const response = await api.get<{
        data: { is_active: boolean; auto_disabled_at: string | null };
      }>(`/webhooks/${webhook.webhook_id}`);
      return response.body.data.is_active ? undefined : response.body.data;
    });
    expect(stored.auto_disabled_at).toBeTruthy();
  });

  it('with Retry-After wait as long as the receiver asks', async () => {
    receiver.script({ status: 503, headers: { 'retry-after': '2' } });
    await createWebhook({
      retry_config: { strategy: 'fixed_interval', initial_delay: 100, max_attempts: 2 },
      event_types: ['ticket.updated'],
    });

    await emitEvents(runtime, [ticketEvent({ event_type: 'ticket.updated' })]);
    const [first, second] = await receiver.waitFor(2, 10_000);

    expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(1900);
  });
});

describe('rate limits', () => {
  // A timing test: on a loaded shared machine a send can lag its slot; one more try then.
  it('space deliveries out instead of dropping them', { retry: 2 }, async () => {
    await createWebhook({
      rate_limit: { enabled: true, requests_per_minute: 120, burst_limit: 1 },
      event_types: ['project.created'],
    });
    const events = [1, 2, 3].map(() => ticketEvent({ event_type: 'project.created' }));

    await emitEvents(runtime, events);
    const requests = await receiver.waitFor(3, 15_000);

    const gaps = requests.slice(1).map((request, index) => request.at - (requests[index]?.at ?? 0));
    // Slots are 500 ms apart; a burst's first send reaches the wire up to a few hundred ms after
    // its slot (it runs with the batch's other work), the waiting ones close to theirs. Unpaced,
    // all three arrive within tens of ms.
    expect(
      gaps.every((gap) => gap >= 200),
      JSON.stringify(gaps),
    ).toBe(true);
    expect((requests[2]?.at ?? 0) - (requests[0]?.at ?? 0)).toBeGreaterThanOrEqual(700);
    expect(requests.map((request) => request.headers['x-alga-delivery-attempt'])).toEqual([
      '1',
      '1',
      '1',
    ]);
  });
});

describe('control routes', () => {
  it('rotate the secret: both secrets sign during the grace period', async () => {
    const webhook = await createWebhook({ event_types: ['invoice.created'] });
    const rotated = await api.post<{
      data: { signing_secret: string; previous_secret_expires_at: string };
    }>(`/webhooks/${webhook.webhook_id}/secret/rotate`, { grace_period_hours: 1 });

    await emitEvents(runtime, [ticketEvent({ event_type: 'invoice.created' })]);
    const [request] = await receiver.waitFor(1);

    expect(rotated.status).toBe(200);
    expect(rotated.body.data.signing_secret).not.toBe(webhook.signing_secret);
    const headers = headersOf(0);
    expect(headers['webhook-signature']?.split(' ')).toHaveLength(2);
    expect(headers['x-alga-signature']?.match(/v1=/g)).toHaveLength(2);
    for (const secret of [webhook.signing_secret, rotated.body.data.signing_secret]) {
      expect(() => new StandardWebhook(secret).verify(request?.body ?? '', headers)).not.toThrow();
    }
  });

  it('send a synchronous test and verify signatures', async () => {
    const webhook = await createWebhook();

    const test = await api.post<{ data: Record<string, unknown> }>(
      `/webhooks/${webhook.webhook_id}/test`,
      {},
    );
    const request = receiver.requests[0];
    const signature = String(request?.headers['x-alga-signature']);
    const verify = await api.post<{ data: { valid: boolean } }>('/webhooks/verify', {
      algorithm: 'sha256',
      signature,
      body: request?.body,
      webhook_id: webhook.webhook_id,
    });
    const forged = await api.post<{ data: { valid: boolean } }>('/webhooks/verify', {
      algorithm: 'sha256',
      signature,
      body: `${request?.body} `,
      webhook_id: webhook.webhook_id,
    });

    expect(test.status).toBe(200);
    expect(test.body.data).toMatchObject({
      success: true,
      status_code: 200,
      response_body: 'ok',
      error_message: null,
    });
    expect(request?.headers['x-alga-event-type']).toBe('webhook.test');
    expect(verify.body.data.valid).toBe(true);
    expect(forged.body.data.valid).toBe(false);
  });

  it('retry a finished delivery by hand as a new attempt chain', async () => {
    receiver.script({ status: 500 });
    const webhook = await createWebhook({
      retry_config: { max_attempts: 1 },
      event_types: ['contact.created'],
    });
    await emitEvents(runtime, [ticketEvent({ event_type: 'contact.created' })]);
    const [first] = await receiver.waitFor(1);
    const deliveryId = String(first?.headers['x-alga-delivery-id']);
    await eventually(async () => {
      const detail = await api.get<{ data: { status: string } }>(
        `/webhooks/${webhook.webhook_id}/deliveries/${deliveryId}`,
      );
      return detail.body.data.status === 'failed' || detail.body.data.status === 'abandoned';
    });

    const retry = await api.post<{ data: { status: string } }>(
      `/webhooks/${webhook.webhook_id}/deliveries/${deliveryId}/retry`,
    );
    const [, second] = await receiver.waitFor(2);

    expect(retry.status).toBe(202);
    expect(second?.headers['x-alga-delivery-id']).toBe(deliveryId);
    expect(second?.headers['x-alga-delivery-attempt']).toBe('2');
    const delivered = await eventually(async () => {
      const detail = await api.get<{ data: { status: string; attempts: unknown[] } }>(
        `/webhooks/${webhook.webhook_id}/deliveries/${deliveryId}`,
      );
      return detail.body.data.status === 'delivered' ? detail.body.data : undefined;
    });
    expect(delivered.attempts).toHaveLength(2);
  });
});
