import { randomUUID } from 'node:crypto';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { webhookPartition } from '../../functions/commons/table.ts';
import type { LocalRuntime } from '../../local/runtime.ts';
import { startReceiver, type TestReceiver } from '../support/receiver.ts';
import {
  type ApiClient,
  apiClient,
  createKey,
  documentClientFor,
  eventually,
  peekQueue,
  startDeliveryRuntime,
} from '../support/runtime.ts';

/**
 * POST /api/v1/events through the local runtime: the gateway's events
 * resource, the authorizer's policy, the API function's grant on the ingest
 * queue, the fan-out and the delivery behind it. And what deleting a webhook
 * does to its history.
 */

const TENANT = 'publisher';

let runtime: LocalRuntime;
let receiver: TestReceiver;
let api: ApiClient;
let publisher: ApiClient;

interface Published {
  data: { event_ids: string[] };
}

const bodiesOf = (requests: TestReceiver['requests']) =>
  requests.map((request) => JSON.parse(request.body) as { event_id: string; data: unknown });

/** The deliveries the receiver has had of an event. */
const deliveriesOf = (eventId: string) =>
  bodiesOf(receiver.requests).filter((body) => body.event_id === eventId);

const createWebhook = async (eventTypes: string[]) => {
  const created = await api.post<{ data: { webhook_id: string } }>('/webhooks', {
    name: 'Published events',
    url: receiver.url,
    event_types: eventTypes,
  });
  expect(created.status, created.text).toBe(201);
  return created.body.data.webhook_id;
};

beforeAll(async () => {
  runtime = await startDeliveryRuntime();
  receiver = await startReceiver();
  api = apiClient(runtime, await createKey(runtime, TENANT));
  publisher = apiClient(runtime, await createKey(runtime, TENANT, ['publish']));
  await createWebhook(['ticket.created', 'ticket.updated']);
}, 60_000);

afterAll(async () => {
  await receiver?.close();
  await runtime?.stop();
});

describe('POST /api/v1/events', () => {
  it('queues one event for delivery with a key that may only publish, and answers its id', async () => {
    // Act
    const answer = await publisher.post<Published>('/events', {
      event_type: 'ticket.created',
      data: { ticket_id: 'T-1' },
    });

    // Assess
    expect(answer.status, answer.text).toBe(202);
    const [eventId] = answer.body.data.event_ids;
    expect(eventId).toMatch(/^[0-9a-f-]{36}$/);
    await eventually(async () => deliveriesOf(eventId ?? '').length === 1, 15_000, 'the delivery');
    expect(deliveriesOf(eventId ?? '')[0]).toMatchObject({
      event_id: eventId,
      event_type: 'ticket.created',
      tenant_id: TENANT,
      data: { ticket_id: 'T-1' },
    });
  });

  it('takes a batch of up to ten, answering the ids in order, generated ones included', async () => {
    const given = `evt-${randomUUID()}`;

    const answer = await publisher.post<Published>('/events', {
      events: [
        { event_type: 'ticket.updated', data: { n: 1 } },
        { event_id: given, event_type: 'ticket.updated', tenant_id: TENANT, data: { n: 2 } },
        { event_type: 'project.created', data: { n: 3 } },
      ],
    });

    expect(answer.status, answer.text).toBe(202);
    const ids = answer.body.data.event_ids;
    expect(ids).toHaveLength(3);
    expect(ids[1]).toBe(given);
    await eventually(
      async () => deliveriesOf(ids[0] ?? '').length + deliveriesOf(given).length === 2,
      15_000,
      'the batch’s deliveries',
    );
  });

  it('is idempotent by event_id: the same event sent twice is delivered once', async () => {
    const event = { event_id: `evt-${randomUUID()}`, event_type: 'ticket.created', data: { x: 1 } };

    const first = await publisher.post<Published>('/events', event);
    const second = await publisher.post<Published>('/events', event);
    const marker = await publisher.post<Published>('/events', {
      event_type: 'ticket.created',
      data: { marker: true },
    });

    expect([first.status, second.status, marker.status]).toEqual([202, 202, 202]);
    expect(second.body.data.event_ids).toEqual([event.event_id]);
    const markerId = marker.body.data.event_ids[0] ?? '';
    await eventually(async () => deliveriesOf(markerId).length === 1, 15_000, 'the marker');
    await eventually(async () => deliveriesOf(event.event_id).length === 1, 15_000, 'the event');
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(deliveriesOf(event.event_id)).toHaveLength(1);
  });

  it('refuses a batch with a bad event with 400 naming its fields, and queues none of it', async () => {
    // Prepare
    const good = `evt-${randomUUID()}`;

    // Act
    const answer = await publisher.post('/events', {
      events: [
        { event_id: good, event_type: 'ticket.created', data: { fine: true } },
        { event_type: 'ticket.exploded', data: 'nope' },
        { event_type: 'ticket.created', tenant_id: 'another-tenant', data: {} },
      ],
    });
    const marker = await publisher.post<Published>('/events', {
      event_type: 'ticket.created',
      data: { marker: 'after the refused batch' },
    });

    // Assess
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({
      error: {
        code: 'VALIDATION_ERROR',
        message: 'The events are invalid; none was queued',
        details: [
          {
            field: 'events.1.event_type',
            message: 'is not a known event type (GET /api/v1/webhooks/events lists them)',
          },
          { field: 'events.1.data', message: 'must be a JSON object' },
          {
            field: 'events.2.tenant_id',
            message: `must be this API key's tenant (${TENANT}), or left out`,
          },
        ],
      },
    });
    const markerId = marker.body.data.event_ids[0] ?? '';
    await eventually(async () => deliveriesOf(markerId).length === 1, 15_000, 'the marker');
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(deliveriesOf(good)).toHaveLength(0);
    expect(await peekQueue(runtime, runtime.queues.events.deadLetterUrl)).toHaveLength(0);
  });

  it.each([
    ['a body that is not an object', '[1]', 400],
    ['eleven events', JSON.stringify({ events: Array.from({ length: 11 }, () => ({})) }), 400],
    ['an unknown field beside events', JSON.stringify({ events: [], batch: true }), 400],
  ])('refuses %s', async (_name, body, status) => {
    expect((await publisher.call('POST', '/events', body)).status).toBe(status);
  });

  it('answers 405 with Allow for another method, and 401 without a key', async () => {
    const other = await publisher.get('/events');
    const anonymous = await apiClient(runtime, undefined).post('/events', {
      event_type: 'ticket.created',
      data: {},
    });

    expect(other.status).toBe(405);
    expect(other.headers.get('allow')).toBe('POST');
    expect(anonymous.status).toBe(401);
  });
});

describe('deleting a webhook', () => {
  it('stops its deliveries and hides its history, which expires with the retention period', async () => {
    // Prepare
    const webhookId = await createWebhook(['invoice.paid']);
    const sent = await publisher.post<Published>('/events', {
      event_type: 'invoice.paid',
      data: { invoice: 'I-9' },
    });
    const eventId = sent.body.data.event_ids[0] ?? '';
    await eventually(async () => deliveriesOf(eventId).length === 1, 15_000, 'the delivery');
    const before = await api.get<{ data: unknown[] }>(`/webhooks/${webhookId}/deliveries`);
    expect(before.body.data).toHaveLength(1);

    // Act
    const deleted = await api.delete(`/webhooks/${webhookId}`);
    const after = await api.get(`/webhooks/${webhookId}/deliveries`);
    await publisher.post('/events', { event_type: 'invoice.paid', data: { invoice: 'I-10' } });

    // Assess
    expect(deleted.status).toBe(204);
    expect(after.status).toBe(404);
    const { Items = [] } = await documentClientFor(runtime).send(
      new QueryCommand({
        TableName: runtime.deliveriesTableName,
        KeyConditionExpression: 'PK = :pk',
        ExpressionAttributeValues: { ':pk': webhookPartition(webhookId) },
      }),
    );
    // Kept until its TTL (30 days by default), not deleted by a scan on the request path.
    expect(Items).toHaveLength(1);
    const retentionSeconds = 30 * 24 * 3600;
    expect(Number(Items[0]?.expires_at)).toBeGreaterThan(Date.now() / 1000);
    expect(Number(Items[0]?.expires_at)).toBeLessThanOrEqual(Date.now() / 1000 + retentionSeconds);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(
      bodiesOf(receiver.requests).filter((body) => JSON.stringify(body.data).includes('I-10')),
    ).toHaveLength(0);
  });
});
