import { Webhook as StandardWebhook } from 'standardwebhooks';
import { Webhook as SvixWebhook } from 'svix';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '../../local/runtime.ts';
import { startReceiver, type TestReceiver } from '../support/receiver.ts';
import {
  type ApiClient,
  apiClient,
  createKey,
  emitEvents,
  startDeliveryRuntime,
} from '../support/runtime.ts';

/**
 * POST /webhooks/verify through the local runtime: a real delivery's headers
 * pasted whole verify (X-Alga-Signature, the hmac_signature header and
 * Standard Webhooks); so do signatures the standardwebhooks and svix
 * libraries make with the webhook's secret, alone or several at once;
 * tolerance_seconds refuses stale ones; the request of before still works.
 */

const TENANT = 'verify';

let runtime: LocalRuntime;
let api: ApiClient;
let receiver: TestReceiver;

beforeAll(async () => {
  runtime = await startDeliveryRuntime();
  api = apiClient(runtime, await createKey(runtime, TENANT));
  receiver = await startReceiver();
}, 60_000);

afterAll(async () => {
  await receiver?.close();
  await runtime?.stop();
});

interface Check {
  source: string;
  scheme: string;
  valid: boolean;
  reason: string | null;
}

const verify = (body: Record<string, unknown>) =>
  api.post<{ data: { valid: boolean; checks: Check[] }; error: { details: unknown[] } }>(
    '/webhooks/verify',
    body,
  );

const createWebhook = async (config: Record<string, unknown> = {}) => {
  const created = await api.post<{ data: { webhook_id: string; signing_secret: string } }>(
    '/webhooks',
    { name: 'Verify', url: receiver.url, event_types: ['invoice.paid'], ...config },
  );
  expect(created.status, created.text).toBe(201);
  return created.body.data;
};

const LIBRARIES = [
  { name: 'standardwebhooks', make: (secret: string) => new StandardWebhook(secret) },
  { name: 'svix', make: (secret: string) => new SvixWebhook(secret) },
];

describe('a delivery’s headers, pasted whole', () => {
  it('verify every signature they carry, and not once the body changes', async () => {
    // Prepare: an hmac_signature webhook with a whsec_ secret, delivered to for real.
    const webhook = await createWebhook({
      security: { type: 'hmac_signature', algorithm: 'sha512', signature_header: 'X-Sig' },
    });
    await emitEvents(runtime, [
      { event_type: 'invoice.paid', tenant_id: TENANT, data: { invoice_id: 'i-1' } },
    ]);
    const [delivery] = await receiver.waitFor(1, 20_000);
    if (!delivery) throw new Error('no delivery');
    const headers = Object.fromEntries(
      Object.entries(delivery.headers).map(([name, value]) => [name, String(value)]),
    );

    // Act
    const valid = await verify({ webhook_id: webhook.webhook_id, headers, body: delivery.body });
    const tampered = await verify({
      webhook_id: webhook.webhook_id,
      headers,
      body: `${delivery.body} `,
      tolerance_seconds: 300,
    });

    // Assess
    expect(valid.status, valid.text).toBe(200);
    expect(valid.body.data).toEqual({
      valid: true,
      checks: [
        { source: 'headers.x-sig', scheme: 'alga', valid: true, reason: null },
        { source: 'headers.x-alga-signature', scheme: 'alga', valid: true, reason: null },
        {
          source: 'headers.webhook-signature',
          scheme: 'standard_webhooks',
          valid: true,
          reason: null,
        },
      ],
    });
    expect(tampered.body.data.valid).toBe(false);
    expect(tampered.body.data.checks.every((check) => !check.valid)).toBe(true);
  });
});

describe('signatures made by the public libraries with the webhook’s secret', () => {
  const body = '{"event_type":"invoice.paid","data":{"invoice_id":"i-2"}}';

  it.each(LIBRARIES)('verify from $name, under a tolerance while fresh', async ({ make }) => {
    // Prepare
    const webhook = await createWebhook();
    const signedAt = new Date();
    const id = 'msg_verify_1';
    const signature = make(webhook.signing_secret).sign(id, signedAt, body);
    const headers = {
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(signedAt.getTime() / 1000)),
      'webhook-signature': signature,
    };

    // Act
    const answer = await verify({
      webhook_id: webhook.webhook_id,
      headers,
      body,
      tolerance_seconds: 300,
    });
    const forged = await verify({ webhook_id: webhook.webhook_id, headers, body: `${body}x` });

    // Assess
    expect(answer.status, answer.text).toBe(200);
    expect(answer.body.data.valid).toBe(true);
    expect(forged.body.data.valid).toBe(false);
  });

  it.each(LIBRARIES)('verify from $name among several, across a rotation', async ({ make }) => {
    // Prepare: the receiver got a message signed with the old and the new secret.
    const webhook = await createWebhook();
    const rotated = await api.post<{ data: { signing_secret: string } }>(
      `/webhooks/${webhook.webhook_id}/secret/rotate`,
      { grace_period_hours: 1 },
    );
    const signedAt = new Date();
    const signatures = [rotated.body.data.signing_secret, webhook.signing_secret].map((secret) =>
      make(secret).sign('msg_verify_2', signedAt, body),
    );
    const headers = {
      'webhook-id': 'msg_verify_2',
      'webhook-timestamp': String(Math.floor(signedAt.getTime() / 1000)),
    };

    // Act
    const both = await verify({
      webhook_id: webhook.webhook_id,
      headers: { ...headers, 'webhook-signature': signatures.join(' ') },
      body,
    });
    const oldOnly = await verify({
      webhook_id: webhook.webhook_id,
      headers: { ...headers, 'webhook-signature': signatures[1] },
      body,
    });

    // Assess
    expect([both.body.data.valid, oldOnly.body.data.valid]).toEqual([true, true]);
  });

  it('are refused when older than tolerance_seconds, saying so', async () => {
    // Prepare
    const webhook = await createWebhook();
    const signedAt = new Date(Date.now() - 3_600_000);
    const signature = new SvixWebhook(webhook.signing_secret).sign('msg_old', signedAt, body);
    const request = {
      webhook_id: webhook.webhook_id,
      headers: {
        'svix-id': 'msg_old',
        'svix-timestamp': String(Math.floor(signedAt.getTime() / 1000)),
        'svix-signature': signature,
      },
      body,
    };

    // Act
    const strict = await verify({ ...request, tolerance_seconds: 300 });
    const lenient = await verify(request);

    // Assess
    expect(strict.body.data.valid).toBe(false);
    expect(strict.body.data.checks[0]?.reason).toMatch(
      /^the timestamp is 36\d\d seconds old, outside tolerance_seconds \(300\)$/,
    );
    expect(lenient.body.data.valid).toBe(true);
  });
});

describe('the request of before', () => {
  it('still verifies a signature header with its algorithm and timestamp', async () => {
    // Prepare
    const webhook = await createWebhook();
    const test = await api.post(`/webhooks/${webhook.webhook_id}/test`);
    const request = receiver.requests.at(-1);

    // Act
    const answer = await verify({
      algorithm: 'sha256',
      signature: String(request?.headers['x-alga-signature']),
      timestamp: String(request?.headers['webhook-timestamp']),
      body: request?.body,
      webhook_id: webhook.webhook_id,
    });

    // Assess
    expect(test.status).toBe(200);
    expect(answer.body.data).toEqual({
      valid: true,
      checks: [{ source: 'signature', scheme: 'alga', valid: true, reason: null }],
    });
  });

  it.each([
    [{ body: '{}' }, 'signature'],
    [{ body: '{}', signature: 'v1,abc=' }, 'signature'],
    [{ body: '{}', headers: { 'webhook-signature': 'v1,a' }, algorithm: 'sha1' }, 'algorithm'],
    [{ body: '{}', headers: { 'content-type': 'application/json' } }, 'headers'],
  ])('refuses %j naming the field', async (request, field) => {
    // Prepare
    const webhook = await createWebhook();

    // Act
    const answer = await verify({ webhook_id: webhook.webhook_id, ...request });

    // Assess
    expect(answer.status, answer.text).toBe(400);
    expect(answer.body.error.details).toEqual([{ field, message: expect.any(String) }]);
  });
});
