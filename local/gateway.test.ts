import type { APIGatewayAuthorizerResult, APIGatewayProxyEvent } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import { type GatewayOptions, startGateway } from './gateway.ts';
import type { ApiResourceModel } from './stack-model.ts';

/**
 * The API Gateway look-alike against stand-in functions: the limits and
 * timeouts API Gateway and Lambda apply, and client-chosen names that must
 * stay names.
 */

const allow: APIGatewayAuthorizerResult = {
  principalId: 'tenant',
  usageIdentifierKey: 'usage-key',
  policyDocument: {
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Action: 'execute-api:Invoke', Resource: 'arn:aws:execute-api:*' },
    ],
  },
};

/** The stack's shape: webhooks and below, events behind the key; a public, throttled document. */
const RESOURCES: ApiResourceModel[] = [
  {
    path: '/api/v1/webhooks',
    methods: [{ httpMethod: 'ANY', access: 'key', throttle: undefined }],
  },
  {
    path: '/api/v1/webhooks/{proxy+}',
    methods: [{ httpMethod: 'ANY', access: 'key', throttle: undefined }],
  },
  { path: '/api/v1/events', methods: [{ httpMethod: 'ANY', access: 'key', throttle: undefined }] },
  {
    path: '/api/v1/openapi.json',
    methods: [
      { httpMethod: 'GET', access: 'public', throttle: { rateLimit: 0.001, burstLimit: 2 } },
    ],
  },
];

let stop: (() => Promise<void>) | undefined;
afterEach(async () => {
  await stop?.();
  stop = undefined;
});

const gateway = async (
  api: (event: APIGatewayProxyEvent) => Promise<{ statusCode: number; body: string }>,
  overrides: Partial<GatewayOptions> = {},
) => {
  const running = await startGateway({
    host: '127.0.0.1',
    port: 0,
    resources: RESOURCES,
    api: { handler: api, timeoutMs: 5_000 },
    authorizer: { handler: async () => allow, timeoutMs: 5_000 },
    integrationTimeoutMs: 29_000,
    authorizerCacheTtlSeconds: 0,
    throttle: { rateLimit: 1000, burstLimit: 1000 },
    retryAfterSeconds: 1,
    ...overrides,
  });
  stop = running.stop;
  const call = (path: string, init: RequestInit = {}) =>
    fetch(`${running.url}/api/v1/webhooks${path}`, {
      ...init,
      headers: { 'X-API-Key': 'key', ...init.headers },
    });
  return Object.assign(call, {
    /** Any path below the gateway, with no key unless given. */
    raw: (path: string, init: RequestInit = {}) => fetch(`${running.url}${path}`, init),
  });
};

describe('the local gateway', () => {
  it('passes query parameters and headers named like Object.prototype members as plain names', async () => {
    let seen: APIGatewayProxyEvent | undefined;
    const call = await gateway(async (event) => {
      seen = event;
      return { statusCode: 200, body: '{}' };
    });

    const response = await call('?constructor=1&__proto__=2&valueOf=3', {
      headers: { toString: 'x', constructor: 'y' },
    });

    expect(response.status).toBe(200);
    expect(seen?.queryStringParameters).toMatchObject({ constructor: '1', valueOf: '3' });
    expect(seen?.multiValueQueryStringParameters?.constructor).toEqual(['1']);
    expect(seen?.headers).toMatchObject({ toString: 'x', constructor: 'y' });
  });

  it('serves each resource of the template with its path parameters, and nothing else', async () => {
    const seen: APIGatewayProxyEvent[] = [];
    const call = await gateway(async (event) => {
      seen.push(event);
      return { statusCode: 200, body: '{}' };
    });
    const key = { headers: { 'X-API-Key': 'key' } };

    const answers = await Promise.all([
      call.raw('/api/v1/webhooks', key),
      call.raw('/api/v1/webhooks/a%20b/deliveries/', key),
      call.raw('/api/v1/events', { ...key, method: 'POST' }),
      call.raw('/api/v1/other', key),
      call.raw('/api/v1', key),
    ]);

    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 404, 404]);
    expect(seen.map((event) => [event.resource, event.pathParameters]).sort()).toEqual(
      [
        ['/api/v1/events', null],
        ['/api/v1/webhooks', null],
        ['/api/v1/webhooks/{proxy+}', { proxy: 'a b/deliveries' }],
      ].sort(),
    );
  });

  it('serves a public method without a key or the authorizer, and only its own method', async () => {
    let seen: APIGatewayProxyEvent | undefined;
    let authorized = 0;
    const call = await gateway(
      async (event) => {
        seen = event;
        return { statusCode: 200, body: '{}' };
      },
      {
        authorizer: {
          handler: async () => {
            authorized += 1;
            return allow;
          },
          timeoutMs: 5_000,
        },
      },
    );

    const answer = await call.raw('/api/v1/openapi.json');
    const otherMethod = await call.raw('/api/v1/openapi.json', { method: 'POST' });

    expect(answer.status).toBe(200);
    expect(seen?.resource).toBe('/api/v1/openapi.json');
    expect(seen?.requestContext.authorizer).toBeUndefined();
    expect(authorized).toBe(0);
    expect(otherMethod.status).toBe(404);
    expect((await call.raw('/api/v1/events', { method: 'POST' })).status).toBe(401);
  });

  it('throttles a public method by its own stage setting', async () => {
    const call = await gateway(async () => ({ statusCode: 200, body: '{}' }));

    const statuses = [];
    for (let index = 0; index < 3; index++) {
      statuses.push((await call.raw('/api/v1/openapi.json')).status);
    }

    expect(statuses).toEqual([200, 200, 429]);
  });

  it('refuses an event over Lambda’s 6 MB before the function sees it', async () => {
    let called = false;
    const call = await gateway(async () => {
      called = true;
      return { statusCode: 200, body: '{}' };
    });

    const response = await call('', { method: 'POST', body: 'x'.repeat(6 * 1024 * 1024) });

    expect(response.status).toBe(413);
    expect(called).toBe(false);
  });

  it('answers 502 for a function answer over Lambda’s 6 MB', async () => {
    const call = await gateway(async () => ({
      statusCode: 200,
      body: 'x'.repeat(6 * 1024 * 1024 + 1),
    }));

    expect((await call('')).status).toBe(502);
  });

  it('answers 502 when the function times out, 504 when the integration does', async () => {
    const slow = async () => {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      return { statusCode: 200, body: '{}' };
    };
    const functionTimesOut = await gateway(slow, {
      api: { handler: slow, timeoutMs: 100 },
      integrationTimeoutMs: 5_000,
    });
    expect((await functionTimesOut('')).status).toBe(502);
    await stop?.();

    const integrationTimesOut = await gateway(slow, {
      api: { handler: slow, timeoutMs: 5_000 },
      integrationTimeoutMs: 100,
    });
    const response = await integrationTimesOut('');
    expect(response.status).toBe(504);
    expect(await response.json()).toEqual({
      error: { code: 'INTERNAL_ERROR', message: 'The request timed out' },
    });
  });
});
