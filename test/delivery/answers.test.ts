import net, { type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '../../local/runtime.ts';
import {
  type ApiClient,
  apiClient,
  emitEvents,
  eventually,
  startDeliveryRuntime,
} from '../support/runtime.ts';

/**
 * Receivers that answer badly: a 2xx whose body is cut off or never ends,
 * and servers that do not speak HTTP at all. The status and the error class
 * of what is recorded must agree.
 */

let runtime: LocalRuntime;
let api: ApiClient;
const servers: net.Server[] = [];
const sockets = new Set<net.Socket>();

beforeAll(async () => {
  runtime = await startDeliveryRuntime();
  api = apiClient(runtime, runtime.devApiKey);
}, 30_000);

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await Promise.all(
    servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))),
  );
  await runtime?.stop();
});

/** A TCP server that writes `reply` once a request arrives; `end` closes the connection after. */
const rawReceiver = async (reply: string, end: boolean): Promise<string> => {
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.once('data', () => {
      if (end) socket.end(reply);
      else socket.write(reply);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
};

const CUT_OFF = 'HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{"received":';
const NOT_HTTP = 'SSH-2.0-OpenSSH_9.6\r\n';

const createWebhook = async (url: string) => {
  const response = await api.post<{ data: { webhook_id: string } }>('/webhooks', {
    name: 'answers',
    url,
    event_types: ['ticket.created'],
    retry_config: { max_attempts: 1, timeout: 1000 },
  });
  expect(response.status, response.text).toBe(201);
  return response.body.data.webhook_id;
};

interface TestAnswer {
  delivery_id: string;
  success: boolean;
  status_code: number | null;
  response_body: string | null;
  error_message: string | null;
}

interface Delivery {
  status: string;
  last_status_code: number | null;
  last_error_class: string | null;
  last_error_message: string | null;
  attempts: { error_class: string | null; error_message: string | null }[];
}

const test = async (webhookId: string) => {
  const response = await api.post<{ data: TestAnswer }>(`/webhooks/${webhookId}/test`, {});
  expect(response.status, response.text).toBe(200);
  const answer = response.body.data;
  const detail = await api.get<{ data: Delivery }>(
    `/webhooks/${webhookId}/deliveries/${answer.delivery_id}`,
  );
  return { answer, delivery: detail.body.data };
};

describe('a 2xx answer whose body does not arrive whole', () => {
  it.each([
    ['is cut off', true],
    ['never ends', false],
  ])('that %s is a success with no error class', async (_what, end) => {
    // Prepare
    const webhookId = await createWebhook(await rawReceiver(CUT_OFF, end));

    // Act
    const { answer, delivery } = await test(webhookId);

    // Assess: the receiver said 200; its body is only kept for reading.
    expect(answer).toMatchObject({
      success: true,
      status_code: 200,
      response_body: '{"received":',
      error_message: null,
    });
    expect(delivery).toMatchObject({
      status: 'delivered',
      last_status_code: 200,
      last_error_class: null,
      last_error_message: null,
    });
  });

  it('ends a queued delivery as delivered and counts it as a success', async () => {
    // Prepare
    const webhookId = await createWebhook(await rawReceiver(CUT_OFF, true));

    // Act
    await emitEvents(runtime, [
      { event_type: 'ticket.created', tenant_id: runtime.devTenant, data: { id: 'cut-1' } },
    ]);
    const delivery = await eventually(async () => {
      const page = await api.get<{ data: Delivery[] }>(`/webhooks/${webhookId}/deliveries`);
      const first = page.body.data[0];
      return first && first.status !== 'pending' ? first : undefined;
    });

    // Assess
    expect(delivery).toMatchObject({ status: 'delivered', last_error_class: null });
    // The counters are written after the delivery's record.
    const webhook = await eventually(async () => {
      const response = await api.get<{ data: Record<string, unknown> }>(`/webhooks/${webhookId}`);
      return response.body.data.total_deliveries === 1 ? response.body.data : undefined;
    });
    expect(webhook).toMatchObject({ successful_deliveries: 1, failed_deliveries: 0 });
  });
});

describe('an answer that is not HTTP', () => {
  it('is classed invalid_response, not connect', async () => {
    // Prepare
    const webhookId = await createWebhook(await rawReceiver(NOT_HTTP, false));

    // Act
    const { answer, delivery } = await test(webhookId);

    // Assess
    expect(answer).toMatchObject({ success: false, status_code: null, response_body: null });
    expect(answer.error_message).toContain('does not match the HTTP/1.1 protocol');
    expect(delivery).toMatchObject({ status: 'failed', last_error_class: 'invalid_response' });
  });

  it('is retried like any failed attempt, then abandoned with its class', async () => {
    // Prepare
    const webhookId = await createWebhook(await rawReceiver(NOT_HTTP, true));

    // Act
    await emitEvents(runtime, [
      { event_type: 'ticket.created', tenant_id: runtime.devTenant, data: { id: 'ssh-1' } },
    ]);
    const delivery = await eventually(async () => {
      const page = await api.get<{ data: Delivery[] }>(`/webhooks/${webhookId}/deliveries`);
      const first = page.body.data[0];
      return first && first.status !== 'pending' ? first : undefined;
    });

    // Assess: max_attempts is 1, so the one failure abandons it.
    expect(delivery).toMatchObject({
      status: 'abandoned',
      last_error_class: 'invalid_response',
    });
  });
});
