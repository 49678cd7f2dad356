import type { APIGatewayProxyEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import {
  ForbiddenError,
  MethodNotAllowedError,
  NotFoundError,
  UnauthorizedError,
} from '../domain/errors.ts';
import { json } from './responses.ts';
import { createRouter, type KeyRoute, type PublicRoute, routePath, under } from './router.ts';

/** An event as API Gateway sends it for the webhooks resource or its `{proxy+}`. */
const event = (
  method: string,
  proxy: string | undefined,
  permissions = 'read,create',
): APIGatewayProxyEvent =>
  ({
    httpMethod: method,
    resource: proxy === undefined ? '/api/v1/webhooks' : '/api/v1/webhooks/{proxy+}',
    path: `/api/v1/webhooks${proxy ? `/${proxy}` : ''}`,
    pathParameters: proxy === undefined ? null : { proxy },
    queryStringParameters: { limit: '5' },
    headers: { 'X-Custom': 'yes' },
    body: null,
    isBase64Encoded: false,
    requestContext: {
      requestId: 'req-1',
      authorizer: { tenant: 'acme', key_id: 'key_1', permissions },
    },
  }) as unknown as APIGatewayProxyEvent;

const echo =
  (name: string): KeyRoute['handle'] =>
  async (request) =>
    json(200, {
      name,
      params: request.params,
      query: request.query,
      header: request.headers['x-custom'],
      tenant: request.principal.tenant,
    });

const document: PublicRoute = {
  method: 'GET',
  path: '/openapi.json',
  permission: 'public',
  handle: async (request) => json(200, { name: 'document', query: request.query }),
};

const route = createRouter([
  ...under('/webhooks', [
    { method: 'GET', path: '', permission: 'read', handle: echo('list') },
    { method: 'POST', path: '', permission: 'create', handle: echo('create') },
    { method: 'GET', path: '/events', permission: 'read', handle: echo('events') },
    { method: 'GET', path: '/{id}', permission: 'read', handle: echo('get') },
    { method: 'DELETE', path: '/{id}', permission: 'delete', handle: echo('delete') },
    {
      method: 'GET',
      path: '/{id}/subscriptions',
      permission: 'read',
      handle: echo('subscriptions'),
    },
    { method: 'GET', path: '/templates/{id}', permission: 'read', handle: echo('template') },
  ]),
  { method: 'POST', path: '/events', permission: 'create', handle: echo('publish') },
  document,
]);

/** An event for a resource of its own, with no path parameters. */
const onResource = (method: string, resource: string, authorizer?: object) =>
  ({
    httpMethod: method,
    resource,
    path: resource,
    pathParameters: null,
    queryStringParameters: null,
    headers: {},
    body: null,
    isBase64Encoded: false,
    requestContext: { requestId: 'req-2', ...(authorizer ? { authorizer } : {}) },
  }) as unknown as APIGatewayProxyEvent;

const bodyOf = async (result: Promise<{ body: string }>) => JSON.parse((await result).body);

describe('router', () => {
  it('routes the base path and passes query, headers (lower-cased) and principal', async () => {
    expect(await bodyOf(route(event('GET', undefined)))).toEqual({
      name: 'list',
      params: {},
      query: { limit: '5' },
      header: 'yes',
      tenant: 'acme',
    });
  });

  it('prefers a literal segment over a parameter', async () => {
    expect((await bodyOf(route(event('GET', 'events')))).name).toBe('events');
    expect(await bodyOf(route(event('GET', 'abc')))).toMatchObject({
      name: 'get',
      params: { id: 'abc' },
    });
    expect(await bodyOf(route(event('GET', 'abc/subscriptions')))).toMatchObject({
      name: 'subscriptions',
    });
  });

  it('prefers literal segments from the left: /webhooks/templates/{id} before /webhooks/{id}/subscriptions', async () => {
    expect(await bodyOf(route(event('GET', 'templates/subscriptions')))).toMatchObject({
      name: 'template',
      params: { id: 'subscriptions' },
    });
  });

  it('routes resources of their own beside the webhooks', async () => {
    const key = { tenant: 'acme', key_id: 'key_1', permissions: 'create' };
    expect((await bodyOf(route(onResource('POST', '/api/v1/events', key)))).name).toBe('publish');
    await expect(route(onResource('GET', '/api/v1/events', key))).rejects.toMatchObject({
      allowed: ['POST'],
    });
  });

  it('serves a public route without a principal, and a key route never without one', async () => {
    expect((await bodyOf(route(onResource('GET', '/api/v1/openapi.json')))).name).toBe('document');
    await expect(route(onResource('POST', '/api/v1/events'))).rejects.toBeInstanceOf(
      UnauthorizedError,
    );
  });

  it('reads the path from the resource and its parameters, whatever base path a custom domain adds', () => {
    const mapped = {
      ...event('GET', 'abc/subscriptions'),
      path: '/hooks/api/v1/webhooks/abc/subscriptions',
    };
    expect(routePath(mapped)).toBe('/webhooks/abc/subscriptions');
  });

  it('answers an unknown path with NotFound', async () => {
    await expect(route(event('GET', 'abc/nothing'))).rejects.toBeInstanceOf(NotFoundError);
  });

  it('answers a wrong method with the methods the path allows', async () => {
    const refused = route(event('PUT', 'events'));
    await expect(refused).rejects.toBeInstanceOf(MethodNotAllowedError);
    await expect(refused).rejects.toMatchObject({ allowed: ['GET'] });
    await expect(route(event('PATCH', 'abc'))).rejects.toMatchObject({
      allowed: ['GET', 'DELETE'],
    });
  });

  it('requires the route permission', async () => {
    await expect(route(event('DELETE', 'abc'))).rejects.toBeInstanceOf(ForbiddenError);
    expect((await bodyOf(route(event('DELETE', 'abc', 'delete')))).name).toBe('delete');
  });

  it('refuses a request that carries no principal', async () => {
    const anonymous = {
      ...event('GET', undefined),
      requestContext: { requestId: 'r' },
    } as unknown as APIGatewayProxyEvent;
    await expect(route(anonymous)).rejects.toBeInstanceOf(UnauthorizedError);
  });
});
