import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '../../local/runtime.ts';
import { startReceiver, type TestReceiver } from '../support/receiver.ts';
import { type ApiClient, apiClient, createKey, startDeliveryRuntime } from '../support/runtime.ts';

/**
 * The test route's `override_url` through the local runtime: the test goes
 * there instead of the webhook's url, signed alike and kept in the history
 * with the URL it went to; it follows the URL rules of `url` (SSRF at
 * connect time: ssrf.test.ts); and a stored credential goes there only for a
 * key with manage_security.
 */

const TENANT = 'override-url';

let runtime: LocalRuntime;
let api: ApiClient;
let tester: ApiClient;
let saved: TestReceiver;
let other: TestReceiver;

beforeAll(async () => {
  runtime = await startDeliveryRuntime();
  api = apiClient(runtime, await createKey(runtime, TENANT));
  tester = apiClient(runtime, await createKey(runtime, TENANT, ['read', 'test']));
}, 60_000);

afterAll(async () => {
  await runtime?.stop();
});

beforeEach(async () => {
  saved = await startReceiver();
  other = await startReceiver();
});

afterEach(async () => {
  await saved.close();
  await other.close();
});

const createWebhook = async (config: Record<string, unknown> = {}) => {
  const created = await api.post<{ data: { webhook_id: string } }>('/webhooks', {
    name: 'Override',
    url: saved.url,
    event_types: ['ticket.created'],
    ...config,
  });
  expect(created.status, created.text).toBe(201);
  return created.body.data.webhook_id;
};

interface TestAnswer {
  data: { delivery_id: string; success: boolean; status_code: number };
  error: { code: string; message: string; details: { field: string; message: string }[] };
}

describe('a test with override_url', () => {
  it('goes there, not to the webhook’s url, and is kept with the URL it went to', async () => {
    // Prepare
    const id = await createWebhook({
      security: {
        type: 'hmac_signature',
        secret: 'override-hmac-secret',
        signature_header: 'X-Sig',
      },
    });
    const target = `${other.url}/staging?x=1`;

    // Act
    const test = await tester.post<TestAnswer>(`/webhooks/${id}/test`, { override_url: target });

    // Assess
    expect(test.status, test.text).toBe(200);
    expect(test.body.data).toMatchObject({ success: true, status_code: 200 });
    expect(saved.requests).toHaveLength(0);
    const [request] = other.requests;
    expect(request?.path).toBe('/hook/staging?x=1');
    expect(request?.headers['x-sig']).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(request?.headers['x-alga-webhook-id']).toBe(id);
    const detail = await api.get<{ data: { attempts: { request: { url: string } }[] } }>(
      `/webhooks/${id}/deliveries/${test.body.data.delivery_id}`,
    );
    expect(detail.body.data.attempts[0]?.request.url).toBe(target);
  });

  it.each([
    [
      'basic_auth',
      { security: { type: 'basic_auth', username: 'u', password: 'pw-override-01' } },
      'security.password',
    ],
    [
      'oauth2',
      {
        security: {
          type: 'oauth2',
          client_id: 'c',
          client_secret: 'cs-override-01',
          token_url: 'https://auth.example/token',
        },
      },
      'security.client_secret',
    ],
    ['a secret_token', { secret_token: 'st-override-01' }, 'secret_token'],
  ])(
    'with a stored %s is refused to a key without manage_security, sending nothing',
    async (_case, config, field) => {
      // Prepare
      const id = await createWebhook(config);

      // Act
      const test = await tester.post<TestAnswer>(`/webhooks/${id}/test`, {
        override_url: other.url,
      });

      // Assess
      expect(test.status, test.text).toBe(403);
      expect(test.body.error).toEqual({
        code: 'FORBIDDEN',
        message: `The stored ${field} would reach override_url, which is not the webhook's url: test without override_url, or use an API key with the manage_security permission`,
        details: [
          {
            field: 'override_url',
            message: `is not the webhook's url, so the stored ${field} may not go to it`,
          },
        ],
      });
      expect(other.requests).toHaveLength(0);
      expect(saved.requests).toHaveLength(0);
    },
  );

  it('takes stored credentials along for a key with manage_security, or to the saved url', async () => {
    // Prepare
    const id = await createWebhook({
      security: { type: 'basic_auth', username: 'u', password: 'pw-override-02' },
      secret_token: 'st-override-02',
    });
    const manager = apiClient(
      runtime,
      await createKey(runtime, TENANT, ['test', 'manage_security']),
    );

    // Act
    const moved = await manager.post<TestAnswer>(`/webhooks/${id}/test`, {
      override_url: other.url,
    });
    const same = await tester.post<TestAnswer>(`/webhooks/${id}/test`, {
      override_url: saved.url.replace('http://127.0.0.1', 'HTTP://127.0.0.1'),
    });

    // Assess
    expect([moved.status, same.status]).toEqual([200, 200]);
    const basic = `Basic ${Buffer.from('u:pw-override-02').toString('base64')}`;
    expect(other.requests[0]?.headers.authorization).toBe(basic);
    expect(other.requests[0]?.headers['x-alga-secret-token']).toBe('st-override-02');
    expect(saved.requests[0]?.headers.authorization).toBe(basic);
  });

  it.each([
    ['ftp://example.com/hook', 'must use http or https'],
    [
      'https://user:pass@example.com/hook',
      'must not carry credentials; use security.type basic_auth instead',
    ],
    ['/relative', 'must be an absolute http(s) URL'],
    ['http://example.com:0/hook', 'must not use port 0'],
  ])('follows the URL rules of url: %s', async (url, message) => {
    // Prepare
    const id = await createWebhook();

    // Act
    const test = await tester.post<TestAnswer>(`/webhooks/${id}/test`, { override_url: url });

    // Assess
    expect(test.status, test.text).toBe(400);
    expect(test.body.error.details).toEqual([{ field: 'override_url', message }]);
  });
});
