import type { APIGatewayAuthorizerResult, APIGatewayProxyEvent } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import { type GatewayOptions, startGateway } from './gateway.ts';

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
    api: { handler: api, timeoutMs: 5_000 },
    authorizer: { handler: async () => allow, timeoutMs: 5_000 },
    integrationTimeoutMs: 29_000,
    authorizerCacheTtlSeconds: 0,
    throttle: { rateLimit: 1000, burstLimit: 1000 },
    retryAfterSeconds: 1,
    ...overrides,
  });
  stop = running.stop;
  return (path: string, init: RequestInit = {}) =>
    fetch(`${running.url}/api/v1/webhooks${path}`, {
      ...init,
      headers: { 'X-API-Key': 'key', ...init.headers },
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
