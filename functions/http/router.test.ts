import type { APIGatewayProxyEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import {
  ForbiddenError,
  MethodNotAllowedError,
  NotFoundError,
  UnauthorizedError,
} from '../domain/errors.ts';
import { json } from './responses.ts';
import { createRouter, type Route } from './router.ts';

const event = (
  method: string,
  proxy: string | undefined,
  permissions = 'read,create',
): APIGatewayProxyEvent =>
  ({
    httpMethod: method,
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
  (name: string): Route['handle'] =>
  async (request) =>
    json(200, {
      name,
      params: request.params,
      query: request.query,
      header: request.headers['x-custom'],
      tenant: request.principal.tenant,
    });

const route = createRouter([
  { method: 'GET', path: '', permission: 'read', handle: echo('list') },
  { method: 'POST', path: '', permission: 'create', handle: echo('create') },
  { method: 'GET', path: '/events', permission: 'read', handle: echo('events') },
  { method: 'GET', path: '/{id}', permission: 'read', handle: echo('get') },
  { method: 'DELETE', path: '/{id}', permission: 'delete', handle: echo('delete') },
  { method: 'GET', path: '/{id}/subscriptions', permission: 'read', handle: echo('subscriptions') },
]);

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
