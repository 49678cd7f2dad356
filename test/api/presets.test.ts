import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PRESET_IDS, presetById } from '../../functions/domain/presets/presets.ts';
import type { LocalRuntime } from '../../local/runtime.ts';
import { startReceiver, type TestReceiver } from '../support/receiver.ts';
import {
  type ApiClient,
  apiClient,
  createKey,
  eventually,
  startDeliveryRuntime,
} from '../support/runtime.ts';

/**
 * Chat presets through the local runtime: listed and shown, taken by a
 * webhook at create and update under its own fields, and delivered as the
 * tool's message.
 */

interface Webhook {
  webhook_id: string;
  payload_format: string;
  content_type: string;
  payload_transformation: Record<string, unknown> | null;
  [field: string]: unknown;
}

let runtime: LocalRuntime;
let receiver: TestReceiver;
let api: ApiClient;

beforeAll(async () => {
  runtime = await startDeliveryRuntime();
  receiver = await startReceiver();
  api = apiClient(runtime, await createKey(runtime, 'chatty'));
}, 60_000);

afterAll(async () => {
  await receiver?.close();
  await runtime?.stop();
});

const create = async (body: Record<string, unknown>) => {
  const answer = await api.post<{ data: Webhook }>('/webhooks', {
    name: 'Team chat',
    url: receiver.url,
    event_types: ['ticket.created'],
    ...body,
  });
  expect(answer.status, answer.text).toBe(201);
  return answer.body.data;
};

describe('GET /webhooks/templates', () => {
  it('lists the four presets, each with what a webhook takes from it', async () => {
    const answer = await api.get<{ data: { id: string; payload_transformation: unknown }[] }>(
      '/webhooks/templates',
    );

    expect(answer.status).toBe(200);
    expect(answer.body.data.map((preset) => preset.id)).toEqual([...PRESET_IDS]);
    expect(answer.body.data[0]).toMatchObject({
      id: 'slack',
      name: 'Slack',
      payload_format: 'json',
      content_type: 'application/json',
      payload_transformation: presetById('slack').payload_transformation,
    });
  });

  it('shows one preset with the body it sends for a sample event, and 404 for an unknown one', async () => {
    const shown = await api.get<{ data: { example: { body: string } } }>(
      '/webhooks/templates/teams',
    );
    const unknown = await api.get('/webhooks/templates/irc');

    expect(shown.status).toBe(200);
    expect(JSON.parse(shown.body.data.example.body)).toMatchObject({
      type: 'message',
      attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive' }],
    });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({
      error: {
        code: 'NOT_FOUND',
        message: 'Template irc not found (GET /api/v1/webhooks/templates lists them)',
      },
    });
  });
});

describe('a webhook created with "template"', () => {
  it('takes the preset’s format and transformation, and is delivered as the tool’s message', async () => {
    // Prepare
    const webhook = await create({ template: 'slack' });
    const sent = receiver.requests.length;

    // Act
    const published = await api.post<{ data: { event_ids: string[] } }>('/events', {
      event_type: 'ticket.created',
      data: { ticket_id: 'T-5', title: 'Printer <!channel> offline & smoking' },
    });
    const [request] = (await receiver.waitFor(sent + 1, 15_000)).slice(sent);

    // Assess
    expect(webhook).toMatchObject({
      payload_format: 'json',
      content_type: 'application/json',
      payload_transformation: {
        ...presetById('slack').payload_transformation,
        flatten_nested: false,
      },
    });
    expect(webhook).not.toHaveProperty('template');
    expect(published.status).toBe(202);
    expect(request?.headers['content-type']).toBe('application/json');
    const message = JSON.parse(request?.body ?? '');
    expect(message.text).toBe('Hookline: ticket.created');
    expect(message.blocks[0]).toEqual({
      type: 'header',
      text: { type: 'plain_text', text: 'ticket.created', emoji: false },
    });
    expect(JSON.stringify(message)).toContain('&lt;!channel&gt; offline &amp; smoking');
    expect(JSON.stringify(message)).not.toContain('<!channel>');
  });

  it('keeps its own fields over the preset’s, key by key in payload_transformation', async () => {
    const webhook = await create({
      template: 'discord',
      content_type: 'application/json; charset=utf-8',
      payload_transformation: { exclude_fields: ['data.secret'] },
    });

    expect(webhook.content_type).toBe('application/json; charset=utf-8');
    expect(webhook.payload_transformation).toMatchObject({
      template: presetById('discord').payload_transformation.template,
      exclude_fields: ['data.secret'],
    });
  });

  it('takes a preset on update too, and refuses an unknown one naming the field', async () => {
    const webhook = await create({ payload_format: 'xml' });

    const updated = await api.put<{ data: Webhook }>(`/webhooks/${webhook.webhook_id}`, {
      template: 'google_chat',
    });
    const refused = await api.post('/webhooks', {
      name: 'x',
      url: receiver.url,
      event_types: ['ticket.created'],
      template: 'irc',
    });

    expect(updated.status, updated.text).toBe(200);
    expect(updated.body.data).toMatchObject({
      payload_format: 'json',
      content_type: 'application/json',
      payload_transformation: presetById('google_chat').payload_transformation,
    });
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({
      error: {
        details: [
          {
            field: 'template',
            message:
              'must be one of slack, discord, teams, google_chat (GET /api/v1/webhooks/templates lists them)',
          },
        ],
      },
    });
  });

  it('sends each preset’s message for a real delivery', async () => {
    for (const id of PRESET_IDS) {
      const webhook = await create({ template: id, event_types: ['ticket.comment.added'] });
      const sent = receiver.requests.length;
      const test = await api.post(`/webhooks/${webhook.webhook_id}/test`, {
        test_event_type: 'ticket.comment.added',
        test_payload: { comment: `hello from ${id}` },
      });
      expect(test.status, test.text).toBe(200);
      await eventually(async () => receiver.requests.length > sent, 10_000, `the ${id} test`);
      const body = receiver.requests.at(-1)?.body ?? '';
      expect(() => JSON.parse(body)).not.toThrow();
      expect(body).toContain(`hello from ${id}`);
      await api.delete(`/webhooks/${webhook.webhook_id}`);
    }
  });
});
