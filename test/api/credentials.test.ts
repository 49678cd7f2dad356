import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '../../local/runtime.ts';
import { startReceiver, type TestReceiver } from '../support/receiver.ts';
import { type ApiClient, apiClient, createKey, startTestRuntime } from '../support/runtime.ts';

/**
 * A key without manage_security cannot move a stored credential: the probe
 * that read a webhook, put its masked secret back with a destination of its
 * own, and had the test route deliver the secret there.
 */

let runtime: LocalRuntime;
let owner: ApiClient;
let updater: ApiClient;
let securityAdmin: ApiClient;
/** The webhook's real token endpoint and receiver. */
let legitimate: TestReceiver;
/** A server the caller controls. */
let attacker: TestReceiver;

const TENANT = 'credentials';
const CLIENT_SECRET = 'oauth-client-secret-9876';
const PASSWORD = 'basic-password-5432';

beforeAll(async () => {
  runtime = await startTestRuntime();
  owner = apiClient(runtime, await createKey(runtime, TENANT));
  updater = apiClient(runtime, await createKey(runtime, TENANT, ['read', 'update', 'test']));
  securityAdmin = apiClient(
    runtime,
    await createKey(runtime, TENANT, ['read', 'update', 'manage_security']),
  );
  legitimate = await startReceiver({
    status: 200,
    body: JSON.stringify({ access_token: 'issued-token', expires_in: 3600 }),
  });
  attacker = await startReceiver();
}, 30_000);

afterAll(async () => {
  await legitimate?.close();
  await attacker?.close();
  await runtime?.stop();
});

interface Webhook {
  webhook_id: string;
  url: string;
  updated_at: string;
  security: Record<string, string>;
}

const create = async (security: Record<string, string>): Promise<Webhook> => {
  const response = await owner.post<{ data: Webhook }>('/webhooks', {
    name: 'Credentials',
    url: legitimate.url,
    event_types: ['ticket.created'],
    security,
  });
  expect(response.status, response.text).toBe(201);
  return response.body.data;
};

const oauth2 = () => ({
  type: 'oauth2',
  client_id: 'hookline',
  client_secret: CLIENT_SECRET,
  token_url: `${legitimate.url}/token`,
});

describe('a stored credential', () => {
  it('does not follow a token_url changed by a key without manage_security', async () => {
    // Prepare: the probe's steps, with a key of read, update and test.
    const webhook = await create(oauth2());
    const fetched = await updater.get<{ data: Webhook }>(`/webhooks/${webhook.webhook_id}`);
    const masked = fetched.body.data.security;
    expect(masked.client_secret).toBe('****9876');

    // Act
    const put = await updater.put(`/webhooks/${webhook.webhook_id}`, {
      security: { ...masked, token_url: attacker.url },
    });
    const test = await updater.post(`/webhooks/${webhook.webhook_id}/test`, {});

    // Assess
    expect(put.status).toBe(403);
    expect(put.body).toEqual({
      error: {
        code: 'FORBIDDEN',
        message:
          'The stored security.client_secret would reach a new security.token_url: send security.client_secret again in clear, or use an API key with the manage_security permission',
        details: [
          {
            field: 'security.client_secret',
            message:
              'is kept from the stored webhook (sent back masked, or left out), so it may not reach a new security.token_url',
          },
        ],
      },
    });
    const after = await owner.get<{ data: Webhook }>(`/webhooks/${webhook.webhook_id}`);
    expect(after.body.data).toEqual(fetched.body.data);
    expect(test.status).toBe(200);
    expect(attacker.requests).toHaveLength(0);
  });

  it.each([
    ['basic_auth', () => ({ type: 'basic_auth', username: 'hook', password: PASSWORD })],
    ['bearer_token', () => ({ type: 'bearer_token', token: 'bearer-token-value-1111' })],
    ['oauth2', oauth2],
  ])('of %s does not follow a url changed alone', async (_type, security) => {
    // Prepare
    const webhook = await create(security());

    // Act
    const put = await updater.put(`/webhooks/${webhook.webhook_id}`, { url: attacker.url });
    const test = await updater.post(`/webhooks/${webhook.webhook_id}/test`, {});

    // Assess
    expect(put.status).toBe(403);
    expect(put.body).toMatchObject({ error: { code: 'FORBIDDEN' } });
    const after = await owner.get<{ data: Webhook }>(`/webhooks/${webhook.webhook_id}`);
    expect(after.body.data).toMatchObject({ url: legitimate.url, updated_at: webhook.updated_at });
    expect(test.status).toBe(200);
    expect(attacker.requests).toHaveLength(0);
  });

  it('follows a new url when the request sends it again in clear', async () => {
    // Prepare
    const security = { type: 'basic_auth', username: 'hook', password: PASSWORD };
    const webhook = await create(security);

    // Act
    const put = await updater.put(`/webhooks/${webhook.webhook_id}`, {
      url: attacker.url,
      security,
    });
    await updater.post(`/webhooks/${webhook.webhook_id}/test`, {});

    // Assess: the caller knew the password already.
    expect(put.status).toBe(200);
    const sent = attacker.requests.at(-1)?.headers.authorization;
    expect(sent).toBe(`Basic ${Buffer.from(`hook:${PASSWORD}`).toString('base64')}`);
    attacker.requests.length = 0;
  });

  it('follows a new url or token_url changed by a key with manage_security', async () => {
    // Prepare
    const webhook = await create(oauth2());
    const fetched = await securityAdmin.get<{ data: Webhook }>(`/webhooks/${webhook.webhook_id}`);

    // Act
    const put = await securityAdmin.put<{ data: Webhook }>(`/webhooks/${webhook.webhook_id}`, {
      url: `${legitimate.url}/moved`,
      security: { ...fetched.body.data.security, token_url: `${legitimate.url}/token-moved` },
    });

    // Assess
    expect(put.status, put.text).toBe(200);
    expect(put.body.data).toMatchObject({
      url: `${legitimate.url}/moved`,
      security: { client_secret: '****9876', token_url: `${legitimate.url}/token-moved` },
    });
  });

  it('may stay where it is while the rest of the webhook changes', async () => {
    // Prepare
    const webhook = await create({ type: 'basic_auth', username: 'hook', password: PASSWORD });
    const fetched = await updater.get<{ data: Webhook & { name: string } }>(
      `/webhooks/${webhook.webhook_id}`,
    );

    // Act: the GET, edit, PUT round trip of the contract.
    const put = await updater.put<{ data: { name: string } }>(`/webhooks/${webhook.webhook_id}`, {
      ...fetched.body.data,
      name: 'Renamed',
    });

    // Assess
    expect(put.status, put.text).toBe(200);
    expect(put.body.data.name).toBe('Renamed');
  });
});
