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

/**
 * A deployment that refuses private targets, as every deployed stack does:
 * webhooks aimed at this machine, however spelled, never get a connection.
 */

let runtime: LocalRuntime;
let api: ApiClient;
let receiver: TestReceiver;

beforeAll(async () => {
  runtime = await startDeliveryRuntime({ context: { allowPrivateTargets: false } });
  api = apiClient(runtime, runtime.devApiKey);
  receiver = await startReceiver();
}, 30_000);

afterAll(async () => {
  await receiver.close();
  await runtime.stop();
});

const spellings = () => [
  `http://127.0.0.1:${receiver.port}/hook`,
  `http://localhost:${receiver.port}/hook`,
  `http://0x7f.1:${receiver.port}/hook`,
  `http://2130706433:${receiver.port}/hook`,
  `http://[::ffff:127.0.0.1]:${receiver.port}/hook`,
  'http://169.254.169.254/latest/meta-data/',
];

const createWebhook = async (url: string, eventTypes = ['ticket.created']) => {
  const response = await api.post<{ data: { webhook_id: string } }>('/webhooks', {
    name: 'private target',
    url,
    event_types: eventTypes,
  });
  expect(response.status, response.text).toBe(201);
  return response.body.data.webhook_id;
};

interface Summary {
  status: string;
  last_error_class: string | null;
  last_error_message: string | null;
}

describe('private targets', () => {
  it('are refused for queued deliveries, with no connection made and no retry', async () => {
    const ids = [];
    for (const url of spellings()) ids.push(await createWebhook(url));

    await emitEvents(runtime, [
      {
        event_type: 'ticket.created',
        tenant_id: runtime.devTenant,
        data: { id: 't-1' },
      },
    ]);

    for (const id of ids) {
      const summary = await eventually(async () => {
        const page = await api.get<{ data: Summary[] }>(`/webhooks/${id}/deliveries`);
        return page.body.data[0]?.status === 'failed' ? page.body.data[0] : undefined;
      });
      expect(summary.last_error_class).toBe('ssrf');
      expect(summary.last_error_message).toMatch(/forbidden|refused/i);
    }
    expect(receiver.connections).toBe(0);
  });

  it('are refused for synchronous tests too', async () => {
    const id = await createWebhook(`http://localhost:${receiver.port}/hook`);

    const test = await api.post<{ data: { success: boolean; error_message: string } }>(
      `/webhooks/${id}/test`,
    );

    expect(test.status).toBe(200);
    expect(test.body.data.success).toBe(false);
    expect(test.body.data.error_message).toMatch(/forbidden|refused/i);
    expect(receiver.connections).toBe(0);
  });
});
