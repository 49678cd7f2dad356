import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccessRecord } from '../../local/aws-gate.ts';
import type { LocalRuntime } from '../../local/runtime.ts';
import { withoutPollers } from '../faults/without-pollers.ts';
import { apiClient, emitEvents, eventually, startTestRuntime } from '../support/runtime.ts';

/**
 * A runtime on services it does not start (AWS_ENDPOINT_URL_SQS: LocalStack,
 * or here another runtime's emulators) keeps its functions behind its own
 * IAM gate. The service answers queue URLs at its own host, and the SDK
 * sends a call to its QueueUrl's host: handed those URLs, the functions went
 * around the gate ("QueueUrl ... differs from SQSClient resolved endpoint").
 */

let services: LocalRuntime;
let runtime: LocalRuntime;
const seenByRuntime: AccessRecord[] = [];

beforeAll(async () => {
  services = await startTestRuntime({
    transformTemplate: withoutPollers,
  });
  runtime = await startTestRuntime({
    endpoints: { dynamoDb: services.dynamoDbEndpoint, sqs: services.sqsEndpoint },
    devApiKey: services.devApiKey,
    onAccess: (record) => seenByRuntime.push(record),
  });
}, 60_000);

afterAll(async () => {
  await runtime?.stop();
  await services?.stop();
});

describe('a runtime on configured services', () => {
  it('hands its functions queue URLs at its own gate', async () => {
    const created = await apiClient(runtime, runtime.devApiKey).post('/webhooks', {
      name: 'gate',
      url: 'http://127.0.0.1:9/never',
      event_types: ['ticket.created'],
    });
    expect(created.status, created.text).toBe(201);

    await emitEvents(runtime, [
      { event_type: 'ticket.created', tenant_id: runtime.devTenant, data: { id: 't-1' } },
    ]);

    for (const queue of [runtime.queues.events, runtime.queues.deliveries]) {
      expect(queue.url.startsWith(`${runtime.sqsEndpoint}/`)).toBe(true);
      expect(queue.deadLetterUrl.startsWith(`${runtime.sqsEndpoint}/`)).toBe(true);
    }
    // The fan-out queues the delivery job through this runtime's gate (which forwards to the services').
    const checked = await eventually(
      async () =>
        seenByRuntime.find(
          (record) =>
            record.functionName === 'hookline-fan-out' && record.action === 'sqs:SendMessage',
        ),
      10_000,
      "the fan-out's SendMessage at this runtime's gate",
    );
    expect(checked.resource).toMatch(/:webhook-deliveries$/);
  });
});
