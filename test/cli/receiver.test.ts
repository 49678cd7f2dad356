import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '../../local/runtime.ts';
import { type Child, run } from '../support/process.ts';
import {
  type ApiClient,
  apiClient,
  emitEvents,
  eventually,
  startDeliveryRuntime,
} from '../support/runtime.ts';

/**
 * `npm run receiver -- --raw --save DIR` as README's walkthrough uses it: the
 * body it prints and saves is the one that was signed, so POST
 * /webhooks/verify says valid for it.
 */

let runtime: LocalRuntime;
let api: ApiClient;
let saveDir: string;
let receiver: Child | undefined;

beforeAll(async () => {
  runtime = await startDeliveryRuntime();
  api = apiClient(runtime, runtime.devApiKey);
  saveDir = await mkdtemp(join(tmpdir(), 'hookline-receiver-'));
}, 30_000);

afterAll(async () => {
  receiver?.process.kill('SIGTERM');
  await receiver?.exited;
  await runtime?.stop();
  await rm(saveDir, { recursive: true, force: true });
});

describe('npm run receiver with --raw and --save', () => {
  it('prints and saves the body exactly as signed, which /webhooks/verify accepts', async () => {
    // Prepare: the receiver on a free port, then a webhook aimed at it.
    receiver = run(['cli/receiver.ts', '--port', '0', '--raw', '--save', saveDir]);
    const [, port] = await receiver.waitFor(/Receiving webhooks at http:\/\/127\.0\.0\.1:(\d+)\//);
    const created = await api.post<{ data: { webhook_id: string; signing_secret: string } }>(
      '/webhooks',
      {
        name: 'raw receiver',
        url: `http://127.0.0.1:${port}/`,
        event_types: ['ticket.created'],
        // A template keeps spacing JSON.stringify would not make, so pretty-printing would show.
        payload_format: 'custom',
        content_type: 'application/json',
        payload_transformation: { template: '{"id":  "{{data.id}}", "note": "Zoë"}' },
      },
    );
    expect(created.status, created.text).toBe(201);
    const webhookId = created.body.data.webhook_id;

    // Act
    await emitEvents(runtime, [
      { event_type: 'ticket.created', tenant_id: runtime.devTenant, data: { id: 't-raw' } },
    ]);
    const [, deliveryId, signature] = await receiver.waitFor(
      /X-Alga-Delivery-Id: (\S+)\n(?:.*\n)*?\s+X-Alga-Signature: (\S+)\n/,
    );
    const [, savedTo] = await receiver.waitFor(/body saved to (\S+)\n/);

    // Assess: the file holds the body byte for byte, and the output prints it as is.
    expect(savedTo).toBe(join(saveDir, `${deliveryId}.body`));
    const body = await eventually(() => readFile(savedTo ?? '', 'utf8').catch(() => undefined));
    expect(body).toBe('{"id":  "t-raw", "note": "Zoë"}');
    expect(receiver.output()).toContain(`\n${body}\n`);
    const verified = await api.post<{ data: { valid: boolean } }>('/webhooks/verify', {
      webhook_id: webhookId,
      signature,
      body,
    });
    expect(verified.body.data, verified.text).toMatchObject({ valid: true });
  });
});
