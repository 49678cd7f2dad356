import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '../../local/runtime.ts';
import { startReceiver, type TestReceiver } from '../support/receiver.ts';
import {
  type ApiClient,
  apiClient,
  emitEvents,
  eventually,
  startDeliveryRuntime,
} from '../support/runtime.ts';
import { type ForbiddenUrl, forbiddenUrls } from './ssrf-corpus.ts';

/**
 * A deployment that refuses private targets, as every deployed stack does
 * (context allowPrivateTargets: false): the whole SSRF corpus, saved as
 * webhooks, then tested through the synchronous route and delivered for real.
 * Every attempt is refused with the class `ssrf`, kept in the history, not
 * retried, and the one listener on 127.0.0.1 that most spellings lead to
 * counts no connection. ssrf-sender.test.ts shows those spellings do reach
 * it when the guard is off.
 */

let runtime: LocalRuntime;
let api: ApiClient;
let listener: TestReceiver;
/** Each spelling the API stored, with its webhook. */
let saved: { target: ForbiddenUrl; webhookId: string }[];
/** Each spelling the API refused, with its answer. */
let refused: { target: ForbiddenUrl; status: number; fields: string[] }[];

interface Created {
  data: { webhook_id: string };
  error: { details?: { field: string }[] };
}

beforeAll(async () => {
  runtime = await startDeliveryRuntime({ context: { allowPrivateTargets: false } });
  api = apiClient(runtime, runtime.devApiKey);
  listener = await startReceiver();
  saved = [];
  refused = [];
  const targets = forbiddenUrls(listener.port);
  const create = (target: ForbiddenUrl) =>
    api.post<Created>('/webhooks', {
      name: `ssrf: ${target.trick}`,
      url: target.url,
      event_types: ['ticket.created'],
    });
  for (let start = 0; start < targets.length; start += 8) {
    const chunk = targets.slice(start, start + 8);
    const responses = await Promise.all(chunk.map(create));
    chunk.forEach((target, index) => {
      const response = responses[index];
      if (response?.status === 201) {
        saved.push({ target, webhookId: response.body.data.webhook_id });
      } else if (response !== undefined) {
        const fields = response.body.error.details?.map((detail) => detail.field) ?? [];
        refused.push({ target, status: response.status, fields });
      }
    });
  }
}, 60_000);

afterAll(async () => {
  await listener?.close();
  await runtime?.stop();
});

interface Attempt {
  error_class: string | null;
  error_message: string | null;
}

interface Delivery {
  delivery_id: string;
  status: string;
  is_test: boolean;
  attempt_count: number;
  last_status_code: number | null;
  last_error_class: string | null;
  last_error_message: string | null;
  attempts?: Attempt[];
}

describe('the SSRF corpus through the local runtime, guard on', () => {
  it('is stored as given, except what the API refuses to store (credentials, control characters)', () => {
    expect(refused.map(({ target }) => target.trick)).toEqual(
      forbiddenUrls(0)
        .filter((target) => target.refusedAtSave)
        .map((target) => target.trick),
    );
    for (const { status, fields } of refused) {
      expect(status).toBe(400);
      expect(fields).toEqual(['url']);
    }
    expect(saved.length).toBeGreaterThanOrEqual(40);
  });

  it('refuses every synchronous test with ssrf, and keeps the refusal in the history', async () => {
    for (const { target, webhookId } of saved) {
      const test = await api.post<{
        data: { delivery_id: string; success: boolean; status_code: number | null };
      }>(`/webhooks/${webhookId}/test`);
      expect(test.status, target.url).toBe(200);
      expect(test.body.data, target.url).toMatchObject({ success: false, status_code: null });

      const detail = await api.get<{ data: Delivery }>(
        `/webhooks/${webhookId}/deliveries/${test.body.data.delivery_id}`,
      );
      expect(detail.body.data, target.url).toMatchObject({
        is_test: true,
        status: 'failed',
        last_error_class: 'ssrf',
      });
      expect(detail.body.data.last_error_message).toMatch(/^target refused: /);
      expect(detail.body.data.attempts?.map((attempt) => attempt.error_class)).toEqual(['ssrf']);
    }
    expect(listener.connections).toBe(0);
  }, 60_000);

  it('refuses every spelling as a test’s override_url, as it refuses them as a url', async () => {
    // Prepare: a webhook whose own url is fine; the test goes elsewhere.
    const webhook = await api.post<Created>('/webhooks', {
      name: 'ssrf: override_url',
      url: 'https://receiver.example/hook',
      // Not the type the queued test below emits: this webhook gets no delivery of its own.
      event_types: ['custom.event'],
    });
    expect(webhook.status).toBe(201);
    const id = webhook.body.data.webhook_id;

    for (const target of forbiddenUrls(listener.port)) {
      // Act
      const test = await api.post<{
        data: { delivery_id: string; success: boolean; status_code: number | null };
        error: { details?: { field: string }[] };
      }>(`/webhooks/${id}/test`, { override_url: target.url });

      // Assess
      if (target.refusedAtSave) {
        expect(test.status, target.url).toBe(400);
        expect(test.body.error.details?.map((detail) => detail.field)).toEqual(['override_url']);
        continue;
      }
      expect(test.status, target.url).toBe(200);
      expect(test.body.data, target.url).toMatchObject({ success: false, status_code: null });
      const detail = await api.get<{ data: Delivery }>(
        `/webhooks/${id}/deliveries/${test.body.data.delivery_id}`,
      );
      expect(detail.body.data.last_error_class, target.url).toBe('ssrf');
    }
    expect(listener.connections).toBe(0);
  }, 60_000);

  it('refuses every queued delivery with ssrf after one attempt, with no retry', async () => {
    await emitEvents(runtime, [
      { event_type: 'ticket.created', tenant_id: runtime.devTenant, data: { id: 'ssrf-1' } },
    ]);

    for (const { target, webhookId } of saved) {
      const delivery = await eventually(
        async () => {
          const page = await api.get<{ data: Delivery[] }>(
            `/webhooks/${webhookId}/deliveries?limit=10`,
          );
          const queued = page.body.data.find((each) => !each.is_test);
          return queued && queued.status !== 'pending' ? queued : undefined;
        },
        20_000,
        `the delivery to ${target.url}`,
      );
      expect(delivery, target.url).toMatchObject({
        status: 'failed',
        attempt_count: 1,
        last_status_code: null,
        last_error_class: 'ssrf',
      });
      expect(delivery.last_error_message).toMatch(/^target refused: /);
    }
    expect(listener.connections).toBe(0);
  }, 60_000);
});
