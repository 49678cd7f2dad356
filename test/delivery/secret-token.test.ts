import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '../../local/runtime.ts';
import { startReceiver, type TestReceiver } from '../support/receiver.ts';
import {
  type ApiClient,
  apiClient,
  createKey,
  emitEvents,
  eventually,
  startDeliveryRuntime,
} from '../support/runtime.ts';

/**
 * `secret_token` through the local runtime: every delivery, queued or a
 * test, carries it in X-Alga-Secret-Token for receivers that cannot check an
 * HMAC; the history shows the header redacted, the API masks the token, and
 * no log line holds it.
 */

const TENANT = 'secret-token';
const TOKEN = 'st-token-8c1f5e2a9d7b';

let runtime: LocalRuntime;
let api: ApiClient;
let receiver: TestReceiver;
const logLines: string[] = [];

beforeAll(async () => {
  runtime = await startDeliveryRuntime({
    functionLog: (line) => logLines.push(line),
    log: (line) => logLines.push(line),
  });
  api = apiClient(runtime, await createKey(runtime, TENANT));
}, 60_000);

afterAll(async () => {
  await runtime?.stop();
});

beforeEach(async () => {
  receiver = await startReceiver();
});

afterEach(async () => {
  await receiver.close();
});

const createWebhook = async (config: Record<string, unknown>) => {
  const created = await api.post<{ data: { webhook_id: string; secret_token: string | null } }>(
    '/webhooks',
    { name: 'Token', url: receiver.url, event_types: ['ticket.created'], ...config },
  );
  expect(created.status, created.text).toBe(201);
  return created.body.data;
};

interface Detail {
  status: string;
  attempts: { request: { headers: Record<string, string> } }[];
}

describe('a webhook with a secret_token', () => {
  it('sends it on every queued delivery and redacts it in the history', async () => {
    // Prepare
    const webhook = await createWebhook({
      secret_token: TOKEN,
      security: { type: 'bearer_token', token: 'bearer-token-0001', header_name: 'X-Auth' },
    });

    // Act
    await emitEvents(runtime, [
      { event_type: 'ticket.created', tenant_id: TENANT, data: { id: 'ticket-token' } },
    ]);
    const [request] = await receiver.waitFor(1, 20_000);

    // Assess
    expect(request?.headers['x-alga-secret-token']).toBe(TOKEN);
    expect(request?.headers['x-auth']).toBe('Bearer bearer-token-0001');
    const deliveryId = String(request?.headers['x-alga-delivery-id']);
    const detail = await eventually(async () => {
      const answer = await api.get<{ data: Detail }>(
        `/webhooks/${webhook.webhook_id}/deliveries/${deliveryId}`,
      );
      return answer.body.data.status === 'delivered' ? answer.body.data : undefined;
    });
    expect(detail.attempts[0]?.request.headers).toMatchObject({
      'X-Auth': '[redacted]',
      'X-Alga-Secret-Token': '[redacted]',
    });
    expect(JSON.stringify(detail)).not.toContain(TOKEN);
    expect(webhook.secret_token).toBe(`****${TOKEN.slice(-4)}`);
  });

  it('sends it on a test delivery, and not once it is removed', async () => {
    // Prepare
    const webhook = await createWebhook({ secret_token: TOKEN });

    // Act
    const test = await api.post(`/webhooks/${webhook.webhook_id}/test`);
    const removed = await api.put(`/webhooks/${webhook.webhook_id}`, { secret_token: null });
    const after = await api.post(`/webhooks/${webhook.webhook_id}/test`);

    // Assess
    expect([test.status, removed.status, after.status]).toEqual([200, 200, 200]);
    const [first, second] = receiver.requests;
    expect(first?.headers['x-alga-secret-token']).toBe(TOKEN);
    expect(second?.headers).not.toHaveProperty('x-alga-secret-token');
  });

  it('is in no log line', () => {
    expect(logLines.length).toBeGreaterThan(0);
    expect(logLines.filter((line) => line.includes(TOKEN))).toEqual([]);
  });
});

describe('a stored secret_token and a new url', () => {
  it('needs the token again in clear, or a key with manage_security', async () => {
    // Prepare
    const webhook = await createWebhook({ secret_token: TOKEN });
    const updater = apiClient(runtime, await createKey(runtime, TENANT, ['read', 'update']));
    const elsewhere = `${receiver.url}/elsewhere`;

    // Act
    const kept = await updater.put<{ error: { details: { field: string }[] } }>(
      `/webhooks/${webhook.webhook_id}`,
      { url: elsewhere },
    );
    const again = await updater.put(`/webhooks/${webhook.webhook_id}`, {
      url: elsewhere,
      secret_token: TOKEN,
    });

    // Assess
    expect(kept.status, kept.text).toBe(403);
    expect(kept.body.error.details.map(({ field }) => field)).toEqual(['secret_token']);
    expect(again.status, again.text).toBe(200);
  });
});
