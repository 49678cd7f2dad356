import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpSender } from './http-sender.ts';
import { type OAuth2Credentials, OAuth2Error, OAuth2Tokens } from './oauth2.ts';

interface TokenRequest {
  authorization: string | undefined;
  contentType: string | undefined;
  body: string;
}

interface TokenServer {
  url: string;
  requests: TokenRequest[];
  connections: () => number;
}

type Reply = (
  request: TokenRequest,
  index: number,
) => { status: number; body: string; delayMs?: number };

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

const tokenServer = async (reply: Reply): Promise<TokenServer> => {
  const requests: TokenRequest[] = [];
  let connections = 0;
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const received = {
        authorization: request.headers.authorization,
        contentType: request.headers['content-type'],
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(received);
      const { status, body, delayMs = 0 } = reply(received, requests.length);
      setTimeout(() => {
        response.writeHead(status, { 'content-type': 'application/json' });
        response.end(body);
      }, delayMs);
    });
  });
  server.on('connection', () => {
    connections += 1;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { url: `http://127.0.0.1:${port}/oauth/token`, requests, connections: () => connections };
};

const issuing =
  (extra: Record<string, unknown> = { expires_in: 3600 }): Reply =>
  (_request, index) => ({
    status: 200,
    body: JSON.stringify({ access_token: `token-${index}`, token_type: 'Bearer', ...extra }),
  });

const newSender = (allowPrivateTargets = true): HttpSender => {
  const sender = new HttpSender({ allowPrivateTargets });
  cleanups.push(() => sender.close());
  return sender;
};

const clock = (start = 1_000_000) => {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
};

const credentials = (server: TokenServer, overrides: Partial<OAuth2Credentials> = {}) => ({
  client_id: 'client-1',
  client_secret: 'top-secret-value',
  token_url: server.url,
  ...overrides,
});

const options = { timeoutMs: 2000, verifySsl: true };

describe('OAuth2Tokens fetching', () => {
  it('asks with client credentials in a form and HTTP Basic, form-encoding both halves', async () => {
    const server = await tokenServer(issuing());
    const tokens = new OAuth2Tokens(newSender());
    const security = credentials(server, {
      client_id: 'app id',
      client_secret: 'p@ss:wörd',
      scope: 'read write',
    });

    const token = await tokens.token(security, options);

    expect(token).toBe('token-1');
    expect(server.requests).toEqual([
      {
        authorization: `Basic ${Buffer.from('app+id:p%40ss%3Aw%C3%B6rd').toString('base64')}`,
        contentType: 'application/x-www-form-urlencoded',
        body: 'grant_type=client_credentials&scope=read+write',
      },
    ]);
  });

  it('leaves scope out when none is configured', async () => {
    const server = await tokenServer(issuing());
    const tokens = new OAuth2Tokens(newSender());

    await tokens.token(credentials(server), options);

    expect(server.requests[0]?.body).toBe('grant_type=client_credentials');
  });

  it('shares one request among callers that ask at the same time', async () => {
    const server = await tokenServer((request, index) => ({
      ...issuing()(request, index),
      delayMs: 100,
    }));
    const tokens = new OAuth2Tokens(newSender());

    const answers = await Promise.all(
      Array.from({ length: 5 }, () => tokens.token(credentials(server), options)),
    );

    expect(answers).toEqual(Array(5).fill('token-1'));
    expect(server.requests).toHaveLength(1);
  });
});

describe('OAuth2Tokens caching', () => {
  it('reuses a token until expires_in minus the safety margin', async () => {
    const server = await tokenServer(issuing({ expires_in: 600 }));
    const time = clock();
    const tokens = new OAuth2Tokens(newSender(), { now: time.now, safetyMarginMs: 60_000 });

    const first = await tokens.token(credentials(server), options);
    time.advance(539_000);
    const stillCached = await tokens.token(credentials(server), options);
    time.advance(2000);
    const renewed = await tokens.token(credentials(server), options);

    expect([first, stillCached, renewed]).toEqual(['token-1', 'token-1', 'token-2']);
    expect(server.requests).toHaveLength(2);
  });

  it('keeps a token an hour when expires_in is absent, and reads a numeric string', async () => {
    const server = await tokenServer((request, index) =>
      index === 1 ? issuing({})(request, index) : issuing({ expires_in: '120' })(request, index),
    );
    const time = clock();
    const tokens = new OAuth2Tokens(newSender(), { now: time.now });

    await tokens.token(credentials(server), options);
    time.advance(3_539_000);
    const withinTheHour = await tokens.token(credentials(server), options);
    time.advance(2000);
    const afterTheHour = await tokens.token(credentials(server), options);
    time.advance(59_000);
    const withinTwoMinutes = await tokens.token(credentials(server), options);
    time.advance(2000);
    const afterTwoMinutes = await tokens.token(credentials(server), options);

    expect([withinTheHour, afterTheHour, withinTwoMinutes, afterTwoMinutes]).toEqual([
      'token-1',
      'token-2',
      'token-2',
      'token-3',
    ]);
  });

  it('caps the margin at half the lifetime of a short-lived token', async () => {
    const server = await tokenServer(issuing({ expires_in: 30 }));
    const time = clock();
    const tokens = new OAuth2Tokens(newSender(), { now: time.now, safetyMarginMs: 60_000 });

    await tokens.token(credentials(server), options);
    time.advance(14_000);
    await tokens.token(credentials(server), options);

    expect(server.requests).toHaveLength(1);
  });

  it.each([
    ['the secret', { client_secret: 'another-secret' }],
    ['the client', { client_id: 'client-2' }],
    ['the scope', { scope: 'admin' }],
  ])('keeps separate tokens when %s differs', async (_what, change) => {
    const server = await tokenServer(issuing());
    const tokens = new OAuth2Tokens(newSender());

    const first = await tokens.token(credentials(server), options);
    const other = await tokens.token(credentials(server, change), options);

    expect([first, other]).toEqual(['token-1', 'token-2']);
  });

  it('never hands a token fetched without TLS verification to a webhook that verifies', async () => {
    const server = await tokenServer(issuing());
    const tokens = new OAuth2Tokens(newSender());

    const trusting = await tokens.token(credentials(server), { ...options, verifySsl: false });
    const verifying = await tokens.token(credentials(server), options);

    expect([trusting, verifying]).toEqual(['token-1', 'token-2']);
  });

  it('forgets the least recently used token beyond its bound', async () => {
    const server = await tokenServer(issuing());
    const tokens = new OAuth2Tokens(newSender(), { maxEntries: 2 });
    const client = (id: string) => credentials(server, { client_id: id });

    await tokens.token(client('a'), options);
    await tokens.token(client('b'), options);
    await tokens.token(client('a'), options);
    await tokens.token(client('c'), options);
    const a = await tokens.token(client('a'), options);
    const b = await tokens.token(client('b'), options);

    expect([a, b]).toEqual(['token-1', 'token-4']);
    expect(server.requests).toHaveLength(4);
  });

  it('fetches anew after invalidate, the receiver having refused the token', async () => {
    const server = await tokenServer(issuing());
    const tokens = new OAuth2Tokens(newSender());

    const refused = await tokens.token(credentials(server), options);
    tokens.invalidate(credentials(server));
    const fresh = await tokens.token(credentials(server), options);

    expect([refused, fresh]).toEqual(['token-1', 'token-2']);
  });

  it('keeps a newer token when invalidated with an older refused one', async () => {
    const server = await tokenServer(issuing());
    const tokens = new OAuth2Tokens(newSender());

    const old = await tokens.token(credentials(server), options);
    tokens.invalidate(credentials(server), old);
    const fresh = await tokens.token(credentials(server), options);
    tokens.invalidate(credentials(server), old);
    const again = await tokens.token(credentials(server), options);

    expect([old, fresh, again]).toEqual(['token-1', 'token-2', 'token-2']);
  });
});

describe('OAuth2Tokens failures', () => {
  const failureOf = async (promise: Promise<string>): Promise<OAuth2Error> => {
    const error = await promise.then(
      () => undefined,
      (reason: unknown) => reason,
    );
    if (!(error instanceof OAuth2Error)) throw new Error(`expected an OAuth2Error, got ${error}`);
    return error;
  };

  it.each([
    [
      401,
      '{"error":"invalid_client"}',
      'config',
      'token endpoint answered HTTP 401 (invalid_client)',
    ],
    [
      400,
      '{"error":"invalid_scope"}',
      'config',
      'token endpoint answered HTTP 400 (invalid_scope)',
    ],
    [403, 'top-secret-value', 'config', 'token endpoint answered HTTP 403'],
    [503, '', 'http', 'token endpoint answered HTTP 503'],
    [429, '', 'http', 'token endpoint answered HTTP 429'],
    [200, '{"token_type":"Bearer"}', 'config', 'token endpoint answer has no access_token'],
    [200, '<html>', 'config', 'token endpoint answer has no access_token'],
  ])('turns HTTP %i %j into %s', async (status, body, errorClass, message) => {
    const server = await tokenServer(() => ({ status, body }));
    const tokens = new OAuth2Tokens(newSender());

    const error = await failureOf(tokens.token(credentials(server), options));

    expect(error).toMatchObject({ name: 'OAuth2Error', errorClass, message });
    expect(error.message).not.toContain('top-secret-value');
  });

  it('does not cache a failure', async () => {
    const server = await tokenServer((request, index) =>
      index === 1 ? { status: 500, body: '' } : issuing()(request, index),
    );
    const tokens = new OAuth2Tokens(newSender());

    const error = await failureOf(tokens.token(credentials(server), options));
    const token = await tokens.token(credentials(server), options);

    expect(error.errorClass).toBe('http');
    expect(token).toBe('token-2');
  });

  it("carries the sender's class when the endpoint cannot be reached", async () => {
    const server = await tokenServer(issuing());
    const tokens = new OAuth2Tokens(newSender());
    const closed = new URL(server.url);
    closed.port = '1';

    const error = await failureOf(
      tokens.token(credentials(server, { token_url: closed.href }), options),
    );

    expect(error.errorClass).toBe('connect');
    expect(error.message).toMatch(/^token endpoint unreachable: .*ECONNREFUSED/);
  });

  it('retries a 200 whose body is cut off, rather than calling the credentials bad', async () => {
    // Prepare: the head says 200, the connection drops half-way through the token.
    const server = http.createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json', 'content-length': '200' });
      response.write('{"access_token":"tok', () => response.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const { port } = server.address() as AddressInfo;
    const tokens = new OAuth2Tokens(newSender());

    // Act
    const error = await failureOf(
      tokens.token(
        { client_id: 'c', client_secret: 's', token_url: `http://127.0.0.1:${port}/token` },
        options,
      ),
    );

    // Assess: connect is retried; config would stop the delivery for good.
    expect(error.errorClass).toBe('connect');
    expect(error.message).toMatch(/^token endpoint answer incomplete: the answer's body: /);
  });

  it('refuses a token endpoint on a forbidden address without connecting', async () => {
    const server = await tokenServer(issuing());
    const tokens = new OAuth2Tokens(newSender(false));

    const error = await failureOf(tokens.token(credentials(server), options));

    expect(error.errorClass).toBe('ssrf');
    expect(error.message).toContain('127.0.0.1 is a forbidden address (loopback)');
    expect(server.connections()).toBe(0);
  });
});
