import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '../../local/runtime.ts';
import { run } from '../support/process.ts';
import { startReceiver, type TestReceiver } from '../support/receiver.ts';
import {
  type ApiClient,
  apiClient,
  emitEvents,
  eventually,
  peekQueue,
  startDeliveryRuntime,
} from '../support/runtime.ts';

/** The dlq CLI against a running local runtime, as `npm run dlq -- ...` runs it. */

let runtime: LocalRuntime;
let api: ApiClient;
let receiver: TestReceiver;

beforeAll(async () => {
  runtime = await startDeliveryRuntime();
  api = apiClient(runtime, runtime.devApiKey);
  receiver = await startReceiver({ status: 500, body: 'broken' });
}, 30_000);

afterAll(async () => {
  await receiver?.close();
  await runtime?.stop();
});

const dlq = async (...args: string[]) => {
  // The default target: the local runtime's emulators on $SQS_PORT and $DYNAMODB_PORT.
  const child = run(['cli/dlq.ts', ...args], {
    AWS_ENDPOINT_URL: '',
    AWS_ENDPOINT_URL_SQS: '',
    AWS_ENDPOINT_URL_DYNAMODB: '',
    SQS_PORT: new URL(runtime.sqsEndpoint).port,
    DYNAMODB_PORT: new URL(runtime.dynamoDbEndpoint).port,
  });
  const code = await child.exited;
  return { code, output: child.output(), lines: child.output().trimEnd().split('\n') };
};

const ticketEvent = (eventType: string) => ({
  event_id: `evt-${Date.now()}`,
  event_type: eventType,
  tenant_id: runtime.devTenant,
  occurred_at: new Date().toISOString(),
  data: { id: 't-1', title: 'Printer on fire' },
});

describe('npm run dlq on deliveries', () => {
  it('lists an abandoned delivery, then redrives it as attempt 2 of the same delivery', async () => {
    const created = await api.post<{ data: { webhook_id: string } }>('/webhooks', {
      name: 'dlq',
      url: receiver.url,
      event_types: ['ticket.created'],
      retry_config: { max_attempts: 1 },
    });
    const webhookId = created.body.data.webhook_id;
    await emitEvents(runtime, [ticketEvent('ticket.created')]);
    const [first] = await receiver.waitFor(1);
    const deliveryId = String(first?.headers['x-alga-delivery-id']);
    const deadLetterUrl = runtime.queues.deliveries.deadLetterUrl;
    const dead = await eventually(
      async () =>
        (await peekQueue(runtime, deadLetterUrl)).find((m) => m.Body?.includes(deliveryId)),
      15_000,
      'the dead letter',
    );

    const listed = await dlq('list');

    expect(listed.code, listed.output).toBe(0);
    expect(listed.lines[0]).toBe(
      'MESSAGE ID\tDELIVERY ID\tWEBHOOK ID\tTENANT\tEVENT TYPE\tATTEMPT\tSENT\tREASON',
    );
    expect(listed.lines[1]).toMatch(
      new RegExp(
        `^${dead.MessageId}\\t${deliveryId}\\t${webhookId}\\t${runtime.devTenant}\\tticket\\.created\\t1\\t\\d{4}-\\S+\\tgave up after 1 attempt \\(last: HTTP 500\\)$`,
      ),
    );
    expect(await peekQueue(runtime, deadLetterUrl)).toHaveLength(1);

    receiver.setDefault({ status: 200, body: 'ok' });
    const redriven = await dlq('redrive', '--all');
    const [, second] = await receiver.waitFor(2);

    expect(redriven.code, redriven.output).toBe(0);
    expect(redriven.output).toContain(
      `${dead.MessageId}: delivery ${deliveryId} restarted as attempt 2, a new attempt chain`,
    );
    expect(second?.headers['x-alga-delivery-id']).toBe(deliveryId);
    expect(second?.headers['x-alga-delivery-attempt']).toBe('2');
    expect(await peekQueue(runtime, deadLetterUrl)).toEqual([]);
    const delivered = await eventually(async () => {
      const detail = await api.get<{ data: { status: string; attempts: unknown[] } }>(
        `/webhooks/${webhookId}/deliveries/${deliveryId}`,
      );
      return detail.body.data.status === 'delivered' ? detail.body.data : undefined;
    });
    expect(delivered.attempts).toHaveLength(2);
  });
});

describe('npm run dlq on events', () => {
  it('lists a malformed event with its reason and sends it back, where it is refused again', async () => {
    const body = '{"event_type":"ticket.created","data":[],"note":"dlq-cli"}';
    const deadLetterUrl = runtime.queues.events.deadLetterUrl;
    await emitEvents(runtime, [{ raw: body }]);
    await eventually(
      async () => (await peekQueue(runtime, deadLetterUrl)).length === 1,
      10_000,
      'the rejected event',
    );

    const listed = await dlq('list', '--queue', 'events');
    const redriven = await dlq('redrive', '--queue', 'events', '--all');

    expect(listed.code, listed.output).toBe(0);
    expect(listed.lines[1]).toMatch(
      /\tInvalid event: tenant_id is required[^\t]*\t\{"event_type":"ticket\.created","data":\[\],/,
    );
    expect(redriven.code, redriven.output).toBe(0);
    expect(redriven.output).toMatch(
      /sent back, but it was refused \(.*tenant_id.*\); it will come back/,
    );
    const back = await eventually(
      async () => (await peekQueue(runtime, deadLetterUrl)).find((m) => m.Body === body),
      10_000,
      'the event back in the dead-letter queue',
    );
    expect(back.MessageAttributes?.reason?.StringValue).toMatch(/tenant_id/);
  });
});

describe('npm run dlq arguments', () => {
  it('are refused with a clear message and exit code 2', async () => {
    const [noSelection, badQueue, unknownId, unknownOption] = await Promise.all([
      dlq('redrive'),
      dlq('list', '--queue', 'webhooks'),
      dlq('redrive', '--id', 'no-such-message'),
      dlq('list', '--everything'),
    ]);

    expect(noSelection.code).toBe(2);
    expect(noSelection.output).toContain('redrive needs either --id <message id> or --all');
    expect(badQueue.code).toBe(2);
    expect(badQueue.output).toContain('--queue must be deliveries or events; got webhooks');
    expect(unknownId.code).toBe(2);
    expect(unknownId.output).toContain('No dead letter no-such-message (see list)');
    expect(unknownOption.code).toBe(2);
    expect(unknownOption.output).toContain('Usage:');
  });
});
