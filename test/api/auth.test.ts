import type { APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  hashApiKey,
  keyIdFromHash,
  PERMISSIONS,
  type Permission,
} from '../../functions/domain/keys/api-keys.ts';
import { ApiKeyRepository } from '../../functions/repositories/api-keys.ts';
import type { LocalRuntime } from '../../local/runtime.ts';
import {
  apiClient,
  createKey,
  documentClientFor,
  guidePayload,
  startTestRuntime,
} from '../support/runtime.ts';

let runtime: LocalRuntime;

beforeAll(async () => {
  runtime = await startTestRuntime();
});
afterAll(() => runtime?.stop());

const UNAUTHORIZED = { error: { code: 'UNAUTHORIZED', message: 'Missing or invalid API key' } };

describe('authentication', () => {
  it('answers 401 without an X-API-Key header, whatever the route', async () => {
    for (const path of ['/webhooks', '/webhooks/events', '/webhooks/not-even-a-route']) {
      const response = await apiClient(runtime, undefined).get(path);
      expect(response.status).toBe(401);
      expect(response.body).toEqual(UNAUTHORIZED);
    }
  });

  it('answers 401 for an unknown key', async () => {
    const response = await apiClient(runtime, 'hl_this-key-was-never-issued-to-anyone').get(
      '/webhooks',
    );

    expect(response.status).toBe(401);
    expect(response.body).toEqual(UNAUTHORIZED);
  });

  it('answers 401 for a key that is too short to be one', async () => {
    expect((await apiClient(runtime, 'short').get('/webhooks')).status).toBe(401);
  });

  it('reads the header case-insensitively', async () => {
    const response = await fetch(`${runtime.apiUrl}/api/v1/webhooks/events`, {
      headers: { 'x-api-key': runtime.devApiKey },
    });
    const shouting = await fetch(`${runtime.apiUrl}/api/v1/webhooks/events`, {
      headers: { 'X-API-KEY': runtime.devApiKey },
    });

    expect(response.status).toBe(200);
    expect(shouting.status).toBe(200);
  });

  it('stops accepting a key once it is revoked', async () => {
    const key = await createKey(runtime, 'revocable');
    const api = apiClient(runtime, key);
    expect((await api.get('/webhooks')).status).toBe(200);

    const keys = new ApiKeyRepository(documentClientFor(runtime), runtime.tableName);
    await keys.revoke(keyIdFromHash(hashApiKey(key)), new Date());

    const response = await api.get('/webhooks');
    expect(response.status).toBe(401);
    expect(response.body).toEqual(UNAUTHORIZED);
  });
});

/** A REQUEST authorizer event with what the authorizer reads; the rest as API Gateway leaves it. */
const authorizerEvent = (key: string): APIGatewayRequestAuthorizerEvent => ({
  type: 'REQUEST',
  methodArn: 'arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET/api/v1/webhooks',
  resource: '/api/v1/webhooks',
  path: '/api/v1/webhooks',
  httpMethod: 'GET',
  headers: { 'X-Api-Key': key },
  multiValueHeaders: { 'X-Api-Key': [key] },
  pathParameters: null,
  queryStringParameters: null,
  multiValueQueryStringParameters: null,
  stageVariables: null,
  requestContext: undefined as unknown as APIGatewayRequestAuthorizerEvent['requestContext'],
});

/**
 * The deployed module, in this process, configured as the stack configures
 * it: the template's environment for the authorizer, resolved to the runtime.
 */
const authorizerHandler = async () => {
  const fn = runtime.stack.functions.find((each) => each.name === 'hookline-authorizer');
  const environment = runtime.stack.resolve(fn?.environment) as Record<string, string>;
  Object.assign(process.env, environment);
  return (await import('../../functions/handlers/authorizer.ts')).handler;
};

describe('the authorizer', () => {
  it('answers a policy for the whole stage, the principal in its context, and a usage key API Gateway accepts', async () => {
    const handler = await authorizerHandler();
    const key = await createKey(runtime, 'authz', ['read', 'verify']);

    const result = await handler(authorizerEvent(key));

    const keyId = keyIdFromHash(hashApiKey(key));
    expect(result).toEqual({
      principalId: keyId,
      policyDocument: {
        Version: '2012-10-17',
        Statement: [
          {
            Action: 'execute-api:Invoke',
            Effect: 'Allow',
            Resource: 'arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/*',
          },
        ],
      },
      context: { tenant: 'authz', key_id: keyId, permissions: 'read,verify' },
      usageIdentifierKey: `hookline${keyId.slice(4)}`,
    });
    expect(result.usageIdentifierKey).toMatch(/^[A-Za-z0-9]{20,128}$/);
  });

  it('throws exactly "Unauthorized" for a bad key, which API Gateway turns into 401', async () => {
    const handler = await authorizerHandler();

    await expect(handler(authorizerEvent('hl_not-a-key-anyone-was-given'))).rejects.toThrow(
      /^Unauthorized$/,
    );
  });
});

describe('tenant isolation', () => {
  it("never lets one tenant read, change, delete or list another tenant's webhooks", async () => {
    const owner = apiClient(runtime, await createKey(runtime, 'tenant-a'));
    const intruder = apiClient(runtime, await createKey(runtime, 'tenant-b'));
    const created = await owner.post<{ data: { webhook_id: string } }>('/webhooks', guidePayload());
    const id = created.body.data.webhook_id;

    const attempts = [
      await intruder.get(`/webhooks/${id}`),
      await intruder.get(`/webhooks/${id}/subscriptions`),
      await intruder.put(`/webhooks/${id}`, { name: 'hijacked' }),
      await intruder.delete(`/webhooks/${id}`),
    ];

    for (const response of attempts) {
      expect(response.status).toBe(404);
      expect(response.body).toEqual({
        error: { code: 'NOT_FOUND', message: `Webhook ${id} not found` },
      });
    }
    const listed = await intruder.get<{ data: unknown[]; pagination: { total: number } }>(
      '/webhooks',
    );
    expect(listed.body.data).toEqual([]);
    expect(listed.body.pagination.total).toBe(0);
    const untouched = await owner.get<{ data: { name: string } }>(`/webhooks/${id}`);
    expect(untouched.status).toBe(200);
    expect(untouched.body.data.name).toBe('Ticket notifications');
  });

  it("gives a 404 for another tenant's id that is the same as for an id nobody has", async () => {
    const owner = apiClient(runtime, await createKey(runtime, 'tenant-c'));
    const intruder = apiClient(runtime, await createKey(runtime, 'tenant-d'));
    const id = (await owner.post<{ data: { webhook_id: string } }>('/webhooks', guidePayload()))
      .body.data.webhook_id;

    const foreign = await intruder.get(`/webhooks/${id}`);
    const missing = await intruder.get('/webhooks/0b8a6d9e-4c5b-4e3a-9f1e-2d3c4b5a6978');

    expect(foreign.status).toBe(404);
    expect(missing.status).toBe(404);
    expect(foreign.text.replace(id, '<id>')).toBe(
      missing.text.replace('0b8a6d9e-4c5b-4e3a-9f1e-2d3c4b5a6978', '<id>'),
    );
  });
});

describe('permissions', () => {
  const routes: {
    method: string;
    path: string;
    permission: Permission;
    body?: unknown;
    status: number;
  }[] = [
    { method: 'GET', path: '/webhooks', permission: 'read', status: 200 },
    { method: 'POST', path: '/webhooks', permission: 'create', body: guidePayload(), status: 201 },
    { method: 'GET', path: '/webhooks/events', permission: 'read', status: 200 },
    { method: 'GET', path: '/webhooks/{id}', permission: 'read', status: 200 },
    {
      method: 'PUT',
      path: '/webhooks/{id}',
      permission: 'update',
      body: { name: 'x' },
      status: 200,
    },
    { method: 'DELETE', path: '/webhooks/{id}', permission: 'delete', status: 204 },
    { method: 'GET', path: '/webhooks/{id}/subscriptions', permission: 'read', status: 200 },
  ];

  it.each(routes)(
    '$method $path needs $permission',
    async ({ method, path, permission, body, status }) => {
      const owner = apiClient(runtime, await createKey(runtime, 'perm'));
      const id = (await owner.post<{ data: { webhook_id: string } }>('/webhooks', guidePayload()))
        .body.data.webhook_id;
      const target = path.replace('{id}', id);
      const without = apiClient(
        runtime,
        await createKey(
          runtime,
          'perm',
          PERMISSIONS.filter((name) => name !== permission),
        ),
      );
      const withOnly = apiClient(runtime, await createKey(runtime, 'perm', [permission]));

      const refused = await without.call(method, target, body);
      const allowed = await withOnly.call(method, target, body);

      expect(refused.status).toBe(403);
      expect(refused.body).toEqual({
        error: { code: 'FORBIDDEN', message: `This API key lacks the ${permission} permission` },
      });
      expect(allowed.status, allowed.text).toBe(status);
    },
  );

  it('checks the permission before anything else, so a forbidden write changes nothing', async () => {
    const reader = apiClient(runtime, await createKey(runtime, 'readonly', ['read']));

    const response = await reader.post('/webhooks', guidePayload());

    expect(response.status).toBe(403);
    const listed = await reader.get<{ pagination: { total: number } }>('/webhooks');
    expect(listed.body.pagination.total).toBe(0);
  });
});
