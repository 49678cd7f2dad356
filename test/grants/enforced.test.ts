import { afterEach, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '../../local/runtime.ts';
import { startReceiver, type TestReceiver } from '../support/receiver.ts';
import { apiClient, emitEvents, eventually, startDeliveryRuntime } from '../support/runtime.ts';
import { withoutGrant } from './records.ts';

/**
 * The local runtime runs each function with its role's policies from the
 * synthesized template: with one grant taken out of the stack, the call that
 * needed it fails as on AWS (AccessDeniedException, named action and
 * resource), and the delivery does not happen.
 */

let runtime: LocalRuntime | undefined;
let receiver: TestReceiver | undefined;
afterEach(async () => {
  await runtime?.stop();
  await receiver?.close();
  runtime = undefined;
  receiver = undefined;
});

/** A runtime without one grant, a webhook on a receiver, one event in; what was logged. */
const deliverWithout = async (role: string, action: string) => {
  const lines: string[] = [];
  const functionLines: string[] = [];
  runtime = await startDeliveryRuntime({
    transformTemplate: (template) => withoutGrant(template, role, action),
    log: (line) => lines.push(line),
    functionLog: (line) => functionLines.push(line),
  });
  receiver = await startReceiver();
  const api = apiClient(runtime, runtime.devApiKey);
  const created = await api.post<{ data: { webhook_id: string } }>('/webhooks', {
    name: 'grants',
    url: receiver.url,
    event_types: ['ticket.created'],
  });
  expect(created.status, created.text).toBe(201);
  await emitEvents(runtime, [
    {
      event_id: `evt-grants-${Date.now()}`,
      event_type: 'ticket.created',
      tenant_id: runtime.devTenant,
      data: { id: 't-1' },
    },
  ]);
  return { lines, functionLines };
};

describe('a grant removed from the stack', () => {
  it('refuses the delivery function its batch write, as AWS would, naming the action', async () => {
    const { lines, functionLines } = await deliverWithout(
      'WorkersDeliveryFunctionRole',
      'dynamodb:BatchWriteItem',
    );

    const refusal = await eventually(
      async () => lines.find((line) => line.startsWith('AccessDenied: hookline-delivery')),
      15_000,
      'the refusal',
    );
    expect(refusal).toMatch(
      /may not dynamodb:BatchWriteItem on arn:aws:dynamodb:us-east-1:000000000000:table\/hookline-deliveries/,
    );
    // The handler saw AWS's own error, as the SDK surfaces it on AWS.
    const logged = await eventually(
      async () => functionLines.find((line) => line.includes('AccessDeniedException')),
      15_000,
      'the function’s error log',
    );
    expect(logged).toContain('is not authorized to perform: dynamodb:BatchWriteItem');
  });

  it('stops the fan-out at the webhook query when its role cannot read the config table', async () => {
    const { lines } = await deliverWithout('WorkersFanOutFunctionRole', 'dynamodb:Query');

    const refusal = await eventually(
      async () => lines.find((line) => line.startsWith('AccessDenied: hookline-fan-out')),
      15_000,
      'the refusal',
    );
    expect(refusal).toMatch(/may not dynamodb:Query on .*table\/hookline-config/);
    expect(receiver?.requests).toEqual([]);
  });
});
