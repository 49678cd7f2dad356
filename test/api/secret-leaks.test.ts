import { createHmac, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashApiKey, keyIdFromHash } from '../../functions/domain/keys/api-keys.ts';
import { ApiKeyRepository } from '../../functions/repositories/api-keys.ts';
import type { LocalRuntime } from '../../local/runtime.ts';
import { startReceiver, type TestReceiver } from '../support/receiver.ts';
import {
  type ApiResponse,
  apiClient,
  createKey,
  documentClientFor,
  emitEvents,
  eventually,
  peekQueue,
  startDeliveryRuntime,
} from '../support/runtime.ts';
import { exampleRequest, ROUTES } from './routes.ts';

/**
 * A secret-leak scan. Webhooks of every security type are created, read,
 * updated (masked secrets sent back, bad values sent), tested, rotated,
 * verified and delivered to, successfully and not, and every route of the
 * table is called; then every answer, every line the functions and the
 * runtime logged, every stored delivery with its attempts and every message
 * left on the dead-letter queues is searched for each secret, in clear and in
 * the encodings that carry it (Basic credentials, OAuth2 client credentials).
 * The signing secret may appear in exactly two places: the answers of the
 * create and rotate calls that made it.
 */

const TENANT = 'leak-scan';

/** Distinctive values, so that a match is a leak and not a coincidence. */
const SECRETS = {
  basicPassword: 'pw-canary-basic-7f3a9c51',
  bearerToken: 'tok-canary-bearer-51d2e8',
  apiKeyToken: 'key-canary-apikey-9b7e04',
  hmacSecret: 'hmac-canary-secret-3c8d6a',
  oauthClientSecret: 'oauth-canary-secret-a41f2b',
  oauthAccessToken: 'at-canary-access-77e0c9',
  secretToken: 'st-canary-token-2e6b1d',
};
const BASIC_USER = 'leak-user';
const OAUTH_CLIENT = 'leak-client';

let runtime: LocalRuntime;
let db: DynamoDBDocumentClient;
let receiver: TestReceiver;
let failingReceiver: TestReceiver;
let tokenServer: Server;
let tokenUrl: string;
let tokenRequests = 0;
const logLines: string[] = [];
/** Every answer the API gave, with the place a signing secret may legitimately appear. */
const answers: { what: string; response: ApiResponse; revealsSigningSecret: boolean }[] = [];
const signingSecrets: string[] = [];
const apiKeys: string[] = [];

const startTokenServer = async () => {
  tokenServer = createServer((request, response) => {
    tokenRequests += 1;
    request.resume();
    request.on('end', () => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({
          access_token: SECRETS.oauthAccessToken,
          token_type: 'Bearer',
          expires_in: 3600,
        }),
      );
    });
  });
  await new Promise<void>((resolve) => tokenServer.listen(0, '127.0.0.1', resolve));
  tokenUrl = `http://127.0.0.1:${(tokenServer.address() as AddressInfo).port}/token`;
};

beforeAll(async () => {
  runtime = await startDeliveryRuntime({
    functionLog: (line) => logLines.push(line),
    log: (line) => logLines.push(line),
  });
  db = documentClientFor(runtime);
  receiver = await startReceiver();
  failingReceiver = await startReceiver({ status: 500, body: 'down' });
  await startTokenServer();
}, 60_000);

afterAll(async () => {
  await receiver?.close();
  await failingReceiver?.close();
  await new Promise((resolve) => tokenServer?.close(resolve));
  await runtime?.stop();
});

/** The API as the scan sees it: every answer kept. */
const recordingClient = (key: string) => {
  const client = apiClient(runtime, key);
  return async (
    method: string,
    path: string,
    body?: unknown,
    options: { revealsSigningSecret?: boolean } = {},
  ) => {
    const response = await client.call(method, path, body);
    answers.push({
      what: `${method} ${path}`,
      response,
      revealsSigningSecret: options.revealsSigningSecret ?? false,
    });
    return response;
  };
};

const security = () => ({
  basic: { type: 'basic_auth', username: BASIC_USER, password: SECRETS.basicPassword },
  bearer: { type: 'bearer_token', token: SECRETS.bearerToken },
  bearerCustomHeader: { type: 'bearer_token', token: SECRETS.bearerToken, header_name: 'X-Auth' },
  apiKey: { type: 'api_key', token: SECRETS.apiKeyToken, header_name: 'X-Api-Token' },
  hmac: { type: 'hmac_signature', secret: SECRETS.hmacSecret, algorithm: 'sha512' },
  oauth2: {
    type: 'oauth2',
    client_id: OAUTH_CLIENT,
    client_secret: SECRETS.oauthClientSecret,
    token_url: tokenUrl,
    scope: 'webhooks',
  },
  none: { type: 'none' },
});

/** Every form in which a secret could be carried somewhere it should not be. */
const encodings = (): { kind: string; value: string }[] => {
  const basic = Buffer.from(`${BASIC_USER}:${SECRETS.basicPassword}`).toString('base64');
  const client = Buffer.from(
    `${encodeURIComponent(OAUTH_CLIENT)}:${encodeURIComponent(SECRETS.oauthClientSecret)}`,
  ).toString('base64');
  return [
    ...Object.entries(SECRETS).map(([kind, value]) => ({ kind, value })),
    { kind: 'basic credentials (base64)', value: basic },
    { kind: 'OAuth2 client credentials (base64)', value: client },
    ...signingSecrets.flatMap((secret) => [
      { kind: 'signing secret', value: secret },
      // The key itself, without its prefix: what a careless log of the decoded key would show.
      ...(secret.startsWith('whsec_')
        ? [{ kind: 'signing secret (key part)', value: secret.slice('whsec_'.length) }]
        : []),
    ]),
    ...apiKeys.map((value) => ({ kind: 'API key', value })),
  ];
};

const leaksIn = (where: string, text: string) =>
  encodings()
    .filter(({ value }) => text.includes(value))
    .map(({ kind }) => {
      return `${kind} in ${where}`;
    });

/** An answer's text, minus the one field that may show the signing secret. */
const scannableText = ({ response, revealsSigningSecret }: (typeof answers)[number]) => {
  if (!revealsSigningSecret || response.status >= 300) return response.text;
  const body = JSON.parse(response.text);
  delete body.data.signing_secret;
  return JSON.stringify(body);
};

describe('secrets', () => {
  it('never appear in answers, logs, stored attempts or dead letters', async () => {
    // Prepare: one webhook of each security type, one of them with a secret_token too.
    const key = await createKey(runtime, TENANT);
    const narrowKey = await createKey(runtime, TENANT, ['read', 'update', 'test']);
    apiKeys.push(key, narrowKey);
    const api = recordingClient(key);
    const narrow = recordingClient(narrowKey);
    const webhooks: { name: string; id: string; failing: boolean }[] = [];
    for (const [name, securityConfig] of Object.entries(security())) {
      const failing = name === 'bearer';
      const created = await api(
        'POST',
        '/webhooks',
        {
          name: `leak ${name}`,
          url: failing ? failingReceiver.url : receiver.url,
          event_types: ['ticket.created'],
          security: securityConfig,
          secret_token: SECRETS.secretToken,
          retry_config: { strategy: 'fixed_interval', max_attempts: 2, initial_delay: 100 },
        },
        { revealsSigningSecret: true },
      );
      expect(created.status, created.text).toBe(201);
      const data = (created.body as { data: { webhook_id: string; signing_secret: string } }).data;
      // A draft's preview shows none of the secrets it was given.
      const draft = await api('POST', '/webhooks/preview', {
        webhook: {
          name: `leak draft ${name}`,
          url: receiver.url,
          event_types: ['ticket.created'],
          security: securityConfig,
          secret_token: SECRETS.secretToken,
        },
      });
      expect(draft.status, draft.text).toBe(200);
      signingSecrets.push(data.signing_secret);
      webhooks.push({ name, id: data.webhook_id, failing });
    }

    // Act: everything a client does with them.
    for (const { id } of webhooks) {
      const fetched = await api('GET', `/webhooks/${id}`);
      const view = (fetched.body as { data: Record<string, unknown> }).data;
      // Sent back as fetched: masked secrets mean "keep".
      expect((await api('PUT', `/webhooks/${id}`, view)).status).toBe(200);
      // Secrets that are refused must not come back in the refusal.
      await api('PUT', `/webhooks/${id}`, {
        secret_token: `${SECRETS.secretToken}\r\n`,
        security: { type: 'bearer_token', token: `${SECRETS.bearerToken}\u0000` },
      });
      await api('PUT', `/webhooks/${id}`, {
        security: { type: 'basic_auth', username: 'a:b', password: SECRETS.basicPassword },
      });
      // A credential kept masked may not follow a new destination: 403, naming it, not showing it.
      await narrow('PUT', `/webhooks/${id}`, { ...view, url: `${receiver.url}/elsewhere` });
      // Nor to another URL for a test.
      await narrow('POST', `/webhooks/${id}/test`, { override_url: `${receiver.url}/elsewhere` });
      // A preview shows the request with every credential redacted.
      await narrow('POST', `/webhooks/${id}/preview`);
      await api('POST', `/webhooks/${id}/test`, { test_payload: { hello: 'world' } });
      await api('GET', `/webhooks/${id}/subscriptions`);
    }
    await api('GET', '/webhooks');
    const rotated = webhooks[0];
    if (!rotated) throw new Error('no webhook');
    const rotation = await api(
      'POST',
      `/webhooks/${rotated.id}/secret/rotate`,
      { grace_period_hours: 1 },
      { revealsSigningSecret: true },
    );
    expect(rotation.status, rotation.text).toBe(200);
    signingSecrets.push(
      (rotation.body as { data: { signing_secret: string } }).data.signing_secret,
    );
    const timestamp = 1_700_000_000;
    const hmac = webhooks.find(({ name }) => name === 'hmac');
    const signature = createHmac('sha512', SECRETS.hmacSecret)
      .update(`${timestamp}.{"a":1}`)
      .digest('hex');
    const verified = await api('POST', '/webhooks/verify', {
      algorithm: 'sha512',
      signature: `t=${timestamp},v1=${signature}`,
      timestamp,
      body: '{"a":1}',
      webhook_id: hmac?.id,
    });
    expect(verified.body).toMatchObject({ data: { valid: true } });

    // Real deliveries: every webhook, one of them failing until abandoned.
    await emitEvents(runtime, [
      { event_type: 'ticket.created', tenant_id: TENANT, data: { id: 'ticket-leak' } },
    ]);
    const deliveries = await eventually(
      async () => {
        const found: { webhookId: string; deliveryId: string }[] = [];
        for (const { id } of webhooks) {
          const list = await api('GET', `/webhooks/${id}/deliveries?event_type=ticket.created`);
          const first = (list.body as { data: { delivery_id: string; status: string }[] }).data[0];
          if (!first || !['delivered', 'abandoned', 'failed'].includes(first.status)) return false;
          found.push({ webhookId: id, deliveryId: first.delivery_id });
        }
        return found;
      },
      30_000,
      'every delivery to finish',
    );
    for (const { webhookId, deliveryId } of deliveries) {
      await api('GET', `/webhooks/${webhookId}/deliveries/${deliveryId}`);
    }
    // Every route of the table once more, the way the isolation suite calls it.
    const [first] = deliveries;
    if (!first) throw new Error('no delivery');
    for (const route of ROUTES.filter((each) => each.method !== 'DELETE')) {
      const request = exampleRequest(route, {
        webhookId: first.webhookId,
        deliveryId: first.deliveryId,
        receiverUrl: receiver.url,
      });
      const revealing = request.path.endsWith('/rotate') || request.path === '/webhooks';
      const answer = await api(request.method, request.path, request.body, {
        revealsSigningSecret: revealing && request.method === 'POST',
      });
      if (revealing && request.method === 'POST' && answer.status < 300) {
        signingSecrets.push(
          (answer.body as { data: { signing_secret: string } }).data.signing_secret,
        );
      }
    }
    // Keys that do not work are not logged either.
    const revokedKey = await createKey(runtime, TENANT);
    await new ApiKeyRepository(db, runtime.tableName).revoke(
      keyIdFromHash(hashApiKey(revokedKey)),
      new Date(),
    );
    const unknownKey = `hl_${randomUUID().replaceAll('-', '')}${randomUUID().replaceAll('-', '')}`;
    apiKeys.push(revokedKey, unknownKey);
    expect((await recordingClient(revokedKey)('GET', '/webhooks')).status).toBe(401);
    expect((await recordingClient(unknownKey)('GET', '/webhooks')).status).toBe(401);

    // Assess: the paths that carry secrets were really taken.
    expect(tokenRequests).toBeGreaterThan(0);
    expect(
      receiver.requests.some((request) => request.headers.authorization?.startsWith('Basic')),
    ).toBe(true);
    expect(failingReceiver.requests.length).toBeGreaterThan(0);

    const stored = await db.send(new ScanCommand({ TableName: runtime.deliveriesTableName }));
    const deadLetters = [
      ...(await peekQueue(runtime, runtime.queues.deliveries.deadLetterUrl)),
      ...(await peekQueue(runtime, runtime.queues.events.deadLetterUrl)),
    ];
    const leaks = [
      ...answers.flatMap((answer, index) =>
        leaksIn(
          `answer ${index} (${answer.what} → ${answer.response.status})`,
          scannableText(answer),
        ),
      ),
      ...logLines.flatMap((line, index) =>
        leaksIn(`log line ${index}: ${line.slice(0, 200)}`, line),
      ),
      ...(stored.Items ?? []).flatMap((item) =>
        leaksIn(`stored delivery item ${String(item.SK)}`, JSON.stringify(item)),
      ),
      ...deadLetters.flatMap((message) =>
        leaksIn(`dead letter ${message.MessageId}`, JSON.stringify(message)),
      ),
    ];
    expect(stored.Items?.length).toBeGreaterThan(webhooks.length);
    // Attempts with credentials were stored, redacted.
    expect(JSON.stringify(stored.Items)).toContain('[redacted]');
    expect(logLines.length).toBeGreaterThan(0);
    expect(leaks).toEqual([]);
  }, 90_000);
});
