import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '../../local/runtime.ts';
import { type ApiClient, apiClient, guidePayload, startTestRuntime } from '../support/runtime.ts';

let runtime: LocalRuntime;
let api: ApiClient;

beforeAll(async () => {
  runtime = await startTestRuntime();
  api = apiClient(runtime, runtime.devApiKey);
});
afterAll(() => runtime?.stop());

const count = async () =>
  (await api.get<{ pagination: { total: number } }>('/webhooks')).body.pagination.total;

describe('413 PAYLOAD_TOO_LARGE', () => {
  it('refuses a body over 256 KiB and stores nothing', async () => {
    const before = await count();
    const body = JSON.stringify({ ...guidePayload(), description: 'x'.repeat(256 * 1024) });

    const response = await api.call('POST', '/webhooks', body);

    expect(response.status).toBe(413);
    expect(response.body).toEqual({
      error: {
        code: 'PAYLOAD_TOO_LARGE',
        message: 'The request body is larger than the limit of 256 KiB',
      },
    });
    expect(await count()).toBe(before);
  });

  /** A create body of exactly `bytes` UTF-8 bytes, padded in the description with `filler`. */
  const bodyOf = (bytes: number, filler: string) => {
    const frame = JSON.stringify({ ...guidePayload(), description: '' });
    const room = bytes - Buffer.byteLength(frame);
    const unit = Buffer.byteLength(filler);
    const body = JSON.stringify({
      ...guidePayload(),
      description: filler.repeat(Math.floor(room / unit)),
    });
    return body + ' '.repeat(bytes - Buffer.byteLength(body));
  };

  it('takes a body of exactly 256 KiB as far as validation, and refuses one byte more', async () => {
    const atLimit = await api.call('POST', '/webhooks', bodyOf(256 * 1024, 'x'));
    const over = await api.call('POST', '/webhooks', bodyOf(256 * 1024 + 1, 'x'));

    expect(atLimit.status).toBe(400);
    expect(atLimit.body).toMatchObject({
      error: { details: [{ field: 'description', message: 'must be at most 4000 characters' }] },
    });
    expect(over.status).toBe(413);
  });

  it('counts bytes, not characters', async () => {
    const body = bodyOf(256 * 1024 + 2, 'é');
    expect(body.length).toBeLessThan(200 * 1024);

    const response = await api.call('POST', '/webhooks', body);

    expect(response.status).toBe(413);
  });

  it('refuses a body too large for a Lambda event at the gateway, as API Gateway does', async () => {
    const response = await api.call('POST', '/webhooks', bodyOf(7 * 1024 * 1024, 'x'));

    expect(response.status).toBe(413);
    expect(response.headers.get('x-amzn-errortype')).toBe('REQUEST_TOO_LARGE');
    expect(response.body).toEqual({
      error: { code: 'PAYLOAD_TOO_LARGE', message: 'The request is too large' },
    });
  });
});

describe('400 BAD_REQUEST', () => {
  it.each([
    ['malformed JSON', '{"name": "x",'],
    ['an empty body', ''],
    ['a body that is only whitespace', '   '],
  ])('answers %s with BAD_REQUEST', async (_case, body) => {
    const before = await count();

    const response = await api.call('POST', '/webhooks', body, {
      'Content-Type': 'application/json',
    });

    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ error: { code: 'BAD_REQUEST' } });
    expect(await count()).toBe(before);
  });

  it('refuses keys that reach into prototypes, wherever they are', async () => {
    const before = await count();
    const body =
      '{"name":"x","url":"https://example.com/h","event_types":["ticket.created"],' +
      '"custom_headers":{"__proto__":{"polluted":"yes"}},"metadata":{"properties":{"constructor":1}}}';

    const response = await api.call('POST', '/webhooks', body);

    expect(response.status).toBe(400);
    expect(response.body).toEqual({
      error: {
        code: 'VALIDATION_ERROR',
        message: 'The request is invalid',
        details: [
          {
            field: 'custom_headers.__proto__',
            message: 'is a reserved name and cannot be used as a key',
          },
          {
            field: 'metadata.properties.constructor',
            message: 'is a reserved name and cannot be used as a key',
          },
        ],
      },
    });
    expect(await count()).toBe(before);
  });

  it('answers JSON that is not an object with VALIDATION_ERROR', async () => {
    const response = await api.call('POST', '/webhooks', '[1, 2]');

    expect(response.status).toBe(400);
    expect(response.body).toEqual({
      error: {
        code: 'VALIDATION_ERROR',
        message: 'The request is invalid',
        details: [{ field: '(body)', message: 'must be a JSON object' }],
      },
    });
  });
});

describe('404 NOT_FOUND for unknown routes', () => {
  it.each([['/api/v1/nothing-here'], ['/'], ['/api/v2/webhooks']])(
    'answers %s outside the API with NOT_FOUND',
    async (path) => {
      const response = await fetch(`${runtime.apiUrl}${path}`, {
        headers: { 'X-API-Key': runtime.devApiKey },
      });

      expect(response.status).toBe(404);
      expect(await response.json()).toEqual({
        error: { code: 'NOT_FOUND', message: 'No such route' },
      });
    },
  );

  it('answers unknown paths under /webhooks with NOT_FOUND', async () => {
    const response = await api.get('/webhooks/0b8a6d9e-4c5b-4e3a-9f1e-2d3c4b5a6978/nothing');

    expect(response.status).toBe(404);
    expect(response.body).toEqual({
      error: {
        code: 'NOT_FOUND',
        message: 'No route for GET /api/v1/webhooks/0b8a6d9e-4c5b-4e3a-9f1e-2d3c4b5a6978/nothing',
      },
    });
  });
});

describe('405 for a wrong method on a known path', () => {
  it.each([
    ['PATCH', '/webhooks', 'GET, POST'],
    ['DELETE', '/webhooks', 'GET, POST'],
    ['POST', '/webhooks/events', 'GET'],
    ['POST', '/webhooks/0b8a6d9e-4c5b-4e3a-9f1e-2d3c4b5a6978', 'GET, PUT, DELETE'],
    ['PATCH', '/webhooks/0b8a6d9e-4c5b-4e3a-9f1e-2d3c4b5a6978', 'GET, PUT, DELETE'],
    ['PUT', '/webhooks/0b8a6d9e-4c5b-4e3a-9f1e-2d3c4b5a6978/subscriptions', 'GET'],
  ])('answers %s %s with 405 and Allow: %s', async (method, path, allow) => {
    const response = await api.call(method, path);

    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe(allow);
    expect(response.body).toEqual({
      error: {
        code: 'METHOD_NOT_ALLOWED',
        message: `Method not allowed; this path accepts ${allow}`,
      },
    });
  });
});

describe('responses', () => {
  it('answers every request with a request id header', async () => {
    const response = await api.get('/webhooks/events');

    expect(response.headers.get('x-amzn-requestid')).toMatch(/^[0-9a-f-]{36}$/);
  });
});
