import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tenantPartition, webhookSort } from '../../functions/commons/table.ts';
import type { LocalRuntime } from '../../local/runtime.ts';
import { startReceiver, type TestReceiver } from '../support/receiver.ts';
import {
  type ApiClient,
  apiClient,
  createKey,
  documentClientFor,
  emitEvents,
  eventually,
  startDeliveryRuntime,
} from '../support/runtime.ts';

/**
 * Circuit breakers, lanes and tenant shares through the local runtime
 * (functions/domain/delivery/circuit.ts, isolation.ts, tenant-share.ts):
 * the stack's own mappings for both lanes, its settings through context,
 * real receivers on 127.0.0.1. Short waits, so a run takes seconds.
 */

const CONTEXT = {
  circuitFailureThreshold: 2,
  circuitOpenSeconds: 2,
  circuitMaxOpenSeconds: 4,
  slowReceiverMs: 400,
  tenantEventsPerSecond: 5,
  tenantBurst: 5,
};

let runtime: LocalRuntime;
const receivers: TestReceiver[] = [];

beforeAll(async () => {
  runtime = await startDeliveryRuntime({ context: CONTEXT });
}, 60_000);

afterAll(async () => {
  await Promise.all(receivers.map((receiver) => receiver.close()));
  await runtime.stop();
});

const receiverAnswering = async (delayMs = 0) => {
  const receiver = await startReceiver({ status: 200, body: 'ok', delayMs });
  receivers.push(receiver);
  return receiver;
};

interface Created {
  webhook_id: string;
}

const createWebhook = async (
  api: ApiClient,
  url: string,
  caseId: string,
  config: Record<string, unknown> = {},
): Promise<string> => {
  const response = await api.post<{ data: Created }>('/webhooks', {
    name: `isolation ${caseId}`,
    url,
    event_types: ['ticket.created'],
    // Each case's webhooks see its events alone.
    event_filter: { tags: [caseId] },
    ...config,
  });
  expect(response.status, response.text).toBe(201);
  return response.body.data.webhook_id;
};

let sequence = 0;
const eventsOf = (tenant: string, caseId: string, count: number) =>
  Array.from({ length: count }, () => {
    sequence += 1;
    return {
      event_id: `iso-${caseId}-${sequence}`,
      event_type: 'ticket.created',
      tenant_id: tenant,
      tags: [caseId],
      data: { id: `t-${sequence}` },
    };
  });

const storedWebhook = async (tenant: string, webhookId: string) => {
  const { Item } = await documentClientFor(runtime).send(
    new GetCommand({
      TableName: runtime.tableName,
      Key: { PK: tenantPartition(tenant), SK: webhookSort(webhookId) },
      ConsistentRead: true,
    }),
  );
  return Item ?? {};
};

interface Delivery {
  delivery_id: string;
  status: string;
  attempt_count: number;
  delayed: { reason: string; since: string; until: string } | null;
}

const deliveriesOf = async (api: ApiClient, webhookId: string) => {
  const response = await api.get<{ data: Delivery[] }>(
    `/webhooks/${webhookId}/deliveries?limit=100`,
  );
  expect(response.status, response.text).toBe(200);
  return response.body.data;
};

const sendSpaced = async (events: readonly Record<string, unknown>[], gapMs: number) => {
  const sentAt = new Map<string, number>();
  for (const event of events) {
    sentAt.set(String(event.event_id), Date.now());
    await emitEvents(runtime, [event]);
    await new Promise((resolve) => setTimeout(resolve, gapMs));
  }
  return sentAt;
};

const eventIdOf = (body: string): string => String(JSON.parse(body).event_id);

describe('a hanging receiver', () => {
  it('is cut off by its circuit without holding up a healthy one, and recovers once it answers', async () => {
    const api = apiClient(runtime, runtime.devApiKey);
    const hanging = await receiverAnswering(120_000);
    const healthy = await receiverAnswering();
    const caseId = 'hang';
    const dead = await createWebhook(api, hanging.url, caseId, {
      // One attempt each: every send that times out is a delivery lost to it.
      retry_config: { max_attempts: 1, timeout: 1000 },
    });
    await createWebhook(api, healthy.url, caseId);

    // Two seconds of events: the timeouts of the first ones open the circuit.
    const opening = eventsOf(runtime.devTenant, caseId, 8);
    const sentAt = await sendSpaced(opening, 250);
    const opened = await eventually(async () => {
      const stored = await storedWebhook(runtime.devTenant, dead);
      return stored.circuit_opened_at ? stored : undefined;
    });
    expect(opened.circuit_last_failure).toContain('timeout');
    expect(opened.lane).toBe('overflow');

    // Open, it takes nothing more: the sends already out end, then at most a probe goes.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const before = hanging.requests.length;
    const whileOpen = eventsOf(runtime.devTenant, caseId, 8);
    for (const [id, at] of await sendSpaced(whileOpen, 100)) sentAt.set(id, at);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(hanging.requests.length - before).toBeLessThanOrEqual(1);

    // The healthy receiver got each event promptly, none waiting on the other's timeouts.
    const events = [...opening, ...whileOpen];
    const arrivals = await healthy.waitFor(events.length, 20_000);
    const lags = arrivals.map((request) => request.at - (sentAt.get(eventIdOf(request.body)) ?? 0));
    expect(Math.max(...lags)).toBeLessThan(3000);

    const health = await api.get<{ data: { circuit: Record<string, unknown> } }>(
      `/webhooks/${dead}/health`,
    );
    expect(health.body.data.circuit).toMatchObject({
      state: expect.stringMatching(/^(open|half_open)$/),
      opened_at: opened.circuit_opened_at,
      last_failure: expect.stringContaining('timeout'),
      lane: 'overflow',
    });

    // The history shows the held deliveries and why, their attempt unspent.
    const held = await eventually(async () => {
      const list = await deliveriesOf(api, dead);
      const waiting = list.filter((delivery) => delivery.delayed);
      return waiting.length >= whileOpen.length - 1 ? waiting : undefined;
    });
    expect(held[0]).toMatchObject({
      status: 'pending',
      attempt_count: 0,
      delayed: { reason: expect.stringContaining('circuit is open') },
    });

    // The receiver answers again: a probe closes the circuit and the held deliveries go.
    const sentToHangingBefore = new Set(hanging.requests.map((request) => eventIdOf(request.body)));
    hanging.setDefault({ status: 200, body: 'back' });
    await eventually(
      async () => {
        const list = await deliveriesOf(api, dead);
        return list.length === events.length &&
          list.every((delivery) => ['delivered', 'abandoned'].includes(delivery.status))
          ? list
          : undefined;
      },
      30_000,
      'every delivery of the hanging webhook to end',
    );
    const final = await deliveriesOf(api, dead);
    const delivered = final.filter((delivery) => delivery.status === 'delivered');
    // Only the sends made before the circuit opened were lost; every held delivery arrived.
    expect(delivered.length + sentToHangingBefore.size).toBe(events.length);
    expect(delivered.every((delivery) => delivery.attempt_count === 1)).toBe(true);
    const closed = await storedWebhook(runtime.devTenant, dead);
    expect(closed.circuit_opened_at).toBeUndefined();
    const healed = await api.get<{ data: { circuit: Record<string, unknown> } }>(
      `/webhooks/${dead}/health`,
    );
    expect(healed.body.data.circuit).toMatchObject({ state: 'closed', consecutive_failures: 0 });
  }, 90_000);
});

describe('lanes', () => {
  it('move a receiver that answers fast to the standard lane and a slow one to the overflow lane', async () => {
    const api = apiClient(runtime, runtime.devApiKey);
    const fast = await receiverAnswering();
    const slow = await receiverAnswering(900);
    const caseId = 'lanes';
    const fastId = await createWebhook(api, fast.url, caseId);
    const slowId = await createWebhook(api, slow.url, caseId);
    const before = await storedWebhook(runtime.devTenant, fastId);
    expect(before.lane).toBeUndefined();

    await sendSpaced(eventsOf(runtime.devTenant, caseId, 3), 300);
    await Promise.all([fast.waitFor(3, 15_000), slow.waitFor(3, 15_000)]);

    await eventually(async () => {
      const [fastStored, slowStored] = await Promise.all([
        storedWebhook(runtime.devTenant, fastId),
        storedWebhook(runtime.devTenant, slowId),
      ]);
      return fastStored.lane === 'standard' && slowStored.lane !== 'standard';
    });
  }, 60_000);
});

describe('tenant shares', () => {
  it('pace one tenant’s burst without holding another tenant’s events behind it', async () => {
    const burstTenant = 'burst-tenant';
    const quietTenant = 'quiet-tenant';
    const burstApi = apiClient(runtime, await createKey(runtime, burstTenant));
    const quietApi = apiClient(runtime, await createKey(runtime, quietTenant));
    const burstReceiver = await receiverAnswering();
    const quietReceiver = await receiverAnswering();
    await createWebhook(burstApi, burstReceiver.url, 'share');
    await createWebhook(quietApi, quietReceiver.url, 'share');

    // 25 events at 5 a second after a burst of 5: about four seconds for the last.
    const burst = eventsOf(burstTenant, 'share', 25);
    const started = Date.now();
    await emitEvents(runtime, burst);
    const quiet = eventsOf(quietTenant, 'share', 1);
    const quietSent = Date.now();
    await emitEvents(runtime, quiet);

    const [quietArrival] = await quietReceiver.waitFor(1, 10_000);
    const burstArrivals = await burstReceiver.waitFor(burst.length, 20_000);
    expect((quietArrival?.at ?? Number.POSITIVE_INFINITY) - quietSent).toBeLessThan(2500);
    const last = Math.max(...burstArrivals.map((request) => request.at));
    expect(last - started).toBeGreaterThanOrEqual(3000);
    expect(new Set(burstArrivals.map((request) => eventIdOf(request.body))).size).toBe(
      burst.length,
    );
  }, 60_000);
});
