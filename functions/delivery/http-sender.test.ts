import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net, { type AddressInfo, isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { OutgoingRequest } from '../domain/delivery/model.ts';
import {
  classifySendError,
  connectTimeLookup,
  HttpSender,
  type HttpSenderOptions,
  type Resolver,
} from './http-sender.ts';

interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

interface TestServer {
  origin: string;
  port: number;
  received: Received[];
  /** TCP connections accepted so far. */
  connections: () => number;
  /** Accepted connections that have since closed. */
  closedConnections: () => number;
  close: () => Promise<void>;
}

type Respond = (request: Received, response: http.ServerResponse) => void;

const servers: TestServer[] = [];
const senders: HttpSender[] = [];

afterEach(async () => {
  await Promise.all(senders.splice(0).map((sender) => sender.close()));
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

const serve = async (
  respond: Respond,
  tls?: { key: string; cert: string },
): Promise<TestServer> => {
  const received: Received[] = [];
  let connections = 0;
  let closedConnections = 0;
  const listener: http.RequestListener = (request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const entry = {
        method: request.method ?? '',
        url: request.url ?? '',
        headers: request.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      received.push(entry);
      respond(entry, response);
    });
  };
  const server =
    tls === undefined ? http.createServer(listener) : https.createServer(tls, listener);
  server.on('connection', (socket) => {
    connections += 1;
    socket.on('close', () => {
      closedConnections += 1;
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const testServer: TestServer = {
    origin: `${tls === undefined ? 'http' : 'https'}://127.0.0.1:${port}`,
    port,
    received,
    connections: () => connections,
    closedConnections: () => closedConnections,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  servers.push(testServer);
  return testServer;
};

/** A TCP server that answers whatever arrives with `reply`, not HTTP. */
const serveRaw = async (reply: string): Promise<{ origin: string }> => {
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.once('data', () => socket.write(Buffer.from(reply, 'latin1')));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  rawServers.push(server);
  return { origin: `http://127.0.0.1:${port}` };
};

const rawServers: net.Server[] = [];
afterEach(async () => {
  const closing = rawServers.splice(0);
  await Promise.all(
    closing.map(
      (server) =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
        }),
    ),
  );
});

const answer =
  (status: number, body = '', headers: http.OutgoingHttpHeaders = {}): Respond =>
  (_request, response) => {
    response.writeHead(status, headers);
    response.end(body);
  };

const newSender = (options: Partial<HttpSenderOptions> = {}): HttpSender => {
  const sender = new HttpSender({ allowPrivateTargets: true, ...options });
  senders.push(sender);
  return sender;
};

/** A resolver that answers each call with the next list of addresses (the last one repeats). */
const scriptedLookup = (...answers: string[][]): { lookup: Resolver; calls: string[] } => {
  const calls: string[] = [];
  const lookup: Resolver = (hostname, _options, callback) => {
    const addresses = answers[Math.min(calls.length, answers.length - 1)] ?? [];
    calls.push(hostname);
    callback(
      null,
      addresses.map((address) => ({ address, family: isIP(address) })),
    );
  };
  return { lookup, calls };
};

const post = (url: string, body = '{"a":1}'): OutgoingRequest => ({
  url,
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body,
});

const quick = { timeoutMs: 2000, verifySsl: true };

describe('HttpSender answers', () => {
  it('sends the request and reports a 2xx answer with its headers and body', async () => {
    const server = await serve(
      answer(201, 'created', { 'X-Request-Id': 'r1', 'X-Multi': ['a', 'b'] }),
    );
    const sender = newSender();

    const result = await sender.send(post(`${server.origin}/hooks?x=1`), quick);

    expect(result).toMatchObject({ ok: true, status_code: 201, response_body: 'created' });
    expect(result.error_class).toBeUndefined();
    expect(result.response_headers).toMatchObject({ 'x-request-id': 'r1', 'x-multi': 'a, b' });
    expect(result.duration_ms).toBeGreaterThan(0);
    expect(Number.isInteger(Math.round(result.duration_ms * 10))).toBe(true);
    expect(server.received).toEqual([
      expect.objectContaining({ method: 'POST', url: '/hooks?x=1', body: '{"a":1}' }),
    ]);
    expect(server.received[0]?.headers).toMatchObject({
      'content-type': 'application/json',
      'user-agent': 'Hookline-Webhooks/1.0',
    });
  });

  it("keeps the request's own User-Agent and uses the configured one otherwise", async () => {
    const server = await serve(answer(204));
    const sender = newSender({ userAgent: 'Hookline/test' });

    await sender.send({ ...post(server.origin), headers: { 'User-Agent': 'Mine/2' } }, quick);
    await sender.send(post(server.origin), quick);

    expect(server.received.map((request) => request.headers['user-agent'])).toEqual([
      'Mine/2',
      'Hookline/test',
    ]);
  });

  it.each(['GET', 'DELETE'] as const)('sends no body with %s', async (method) => {
    const server = await serve(answer(200));
    const sender = newSender();

    const result = await sender.send({ ...post(server.origin), method }, quick);

    expect(result.ok).toBe(true);
    expect(server.received[0]).toMatchObject({ method, body: '' });
    expect(server.received[0]?.headers['content-length']).toBeUndefined();
  });

  it.each([
    [500, 'HTTP 500'],
    [410, 'HTTP 410'],
    [429, 'HTTP 429'],
  ])('reports %i as an http failure and keeps the answer', async (status, message) => {
    const server = await serve(answer(status, 'nope', { 'Retry-After': '30' }));
    const sender = newSender();

    const result = await sender.send(post(server.origin), quick);

    expect(result).toMatchObject({
      ok: false,
      status_code: status,
      error_class: 'http',
      error_message: message,
      response_body: 'nope',
    });
    expect(result.response_headers['retry-after']).toBe('30');
  });

  it('does not follow a redirect', async () => {
    const server = await serve((request, response) => {
      response.writeHead(request.url === '/start' ? 302 : 200, { Location: '/elsewhere' });
      response.end();
    });
    const sender = newSender();

    const result = await sender.send(post(`${server.origin}/start`), quick);

    expect(result).toMatchObject({ ok: false, status_code: 302, error_class: 'http' });
    expect(result.error_message).toBe('HTTP 302 (redirects are not followed)');
    expect(result.response_headers.location).toBe('/elsewhere');
    expect(server.received.map((request) => request.url)).toEqual(['/start']);
  });
});

describe('HttpSender answer bodies', () => {
  it('keeps the first 8 KiB of a big answer and reuses the connection', async () => {
    const server = await serve(answer(200, 'x'.repeat(100_000)));
    const sender = newSender();

    const first = await sender.send(post(server.origin), quick);
    const second = await sender.send(post(server.origin), quick);

    expect(first.response_body).toBe('x'.repeat(8192));
    expect(second.response_body).toHaveLength(8192);
    expect(server.connections()).toBe(1);
  });

  it('closes the connection instead of reading on through a huge answer', async () => {
    const server = await serve(answer(200, 'y'.repeat(2 * 1024 * 1024)));
    const sender = newSender();

    const first = await sender.send(post(server.origin), quick);
    const second = await sender.send(post(server.origin), quick);

    expect(first).toMatchObject({ ok: true, response_body: 'y'.repeat(8192) });
    expect(second.ok).toBe(true);
    expect(server.connections()).toBe(2);
  });

  it('drops a character cut in half by the cap instead of mangling it', async () => {
    const server = await serve(answer(200, `${'a'.repeat(8191)}é and more`));
    const sender = newSender();

    const result = await sender.send(post(server.origin), quick);

    expect(result.response_body).toBe('a'.repeat(8191));
  });

  it('decodes a short answer whole, and honours a cap given for one exchange', async () => {
    const server = await serve(answer(200, 'héllo wörld'));
    const sender = newSender();

    const whole = await sender.send(post(server.origin), quick);
    const capped = await sender.send(post(server.origin), { ...quick, maxResponseBytes: 3 });

    expect(whole.response_body).toBe('héllo wörld');
    expect(capped.response_body).toBe('hé');
  });
});

describe('HttpSender failures', () => {
  it('times out a server that does not answer in time', async () => {
    const server = await serve((request, response) => {
      setTimeout(() => answer(200)(request, response), 1500);
    });
    const sender = newSender();

    const result = await sender.send(post(server.origin), { timeoutMs: 200, verifySsl: true });

    expect(result).toMatchObject({ ok: false, error_class: 'timeout' });
    expect(result.status_code).toBeUndefined();
    expect(result.error_message).toBe('no complete answer within 200 ms');
    expect(result.duration_ms).toBeLessThan(1000);
  });

  it('takes a 2xx whose body does not finish in time as delivered, keeping what arrived', async () => {
    const server = await serve((_request, response) => {
      response.writeHead(200);
      response.write('partial');
    });
    const sender = newSender();

    const result = await sender.send(post(server.origin), { timeoutMs: 300, verifySsl: true });

    expect(result).toMatchObject({ ok: true, status_code: 200, response_body: 'partial' });
    expect(result.error_class).toBeUndefined();
    expect(result.error_message).toBeUndefined();
    expect(result.body_failure).toEqual({
      error_class: 'timeout',
      error_message: "the answer's body: no complete answer within 300 ms",
    });
    expect(result.duration_ms).toBeLessThan(1000);
  });

  it('takes a 2xx whose body is cut off as delivered', async () => {
    const server = await serve((_request, response) => {
      response.writeHead(200, { 'content-length': '100' });
      response.write('abc', () => response.destroy());
    });
    const sender = newSender();

    const result = await sender.send(post(server.origin), quick);

    expect(result).toMatchObject({ ok: true, status_code: 200, response_body: 'abc' });
    expect(result.error_class).toBeUndefined();
    expect(result.body_failure?.error_class).toBe('connect');
  });

  it('reports a non-2xx whose body is cut off by its status, as http', async () => {
    const server = await serve((_request, response) => {
      response.writeHead(503, { 'content-length': '100', 'retry-after': '5' });
      response.write('abc', () => response.destroy());
    });
    const sender = newSender();

    const result = await sender.send(post(server.origin), quick);

    expect(result).toMatchObject({
      ok: false,
      status_code: 503,
      error_class: 'http',
      error_message: 'HTTP 503',
      response_headers: { 'retry-after': '5' },
    });
  });

  it.each([
    ['plain text', 'hello there\r\n\r\n'],
    ['an SSH banner', 'SSH-2.0-OpenSSH_9.6\r\n'],
    ['binary bytes', '\u0000\u0001\u00ff\r\n'],
    ['a status line without a number', 'HTTP/1.1 abc OK\r\n\r\n'],
  ])('reports an answer of %s as invalid_response, not connect', async (_what, reply) => {
    const server = await serveRaw(reply);
    const sender = newSender();

    const result = await sender.send(post(server.origin), quick);

    expect(result).toMatchObject({ ok: false, error_class: 'invalid_response' });
    expect(result.status_code).toBeUndefined();
    expect(result.error_message).toContain('does not match the HTTP/1.1 protocol');
  });

  it('reports a refused connection', async () => {
    const server = await serve(answer(200));
    await server.close();
    const sender = newSender();

    const result = await sender.send(post(server.origin), quick);

    expect(result).toMatchObject({ ok: false, error_class: 'connect' });
    expect(result.error_message).toContain('ECONNREFUSED');
  });

  it('reports a name that does not resolve', async () => {
    const lookup: Resolver = (hostname, _options, callback) => {
      const error = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), {
        code: 'ENOTFOUND',
      });
      callback(error, []);
    };
    const sender = newSender({ allowPrivateTargets: false, lookup });

    const result = await sender.send(post('http://no-such-receiver.invalid/hook'), quick);

    expect(result).toMatchObject({ ok: false, error_class: 'dns' });
    expect(result.error_message).toContain('no-such-receiver.invalid');
  });

  it.each([
    ['ftp://127.0.0.1/file', 'unsupported URL scheme ftp:'],
    ['not a url', 'the target URL is not a valid absolute URL'],
  ])('refuses %s as configuration', async (url, message) => {
    const sender = newSender();

    const result = await sender.send(post(url), quick);

    expect(result).toMatchObject({ ok: false, error_class: 'config', error_message: message });
  });

  it('never echoes a request header in its message', async () => {
    const server = await serve(answer(200));
    const sender = newSender();
    const request = { ...post(server.origin), headers: { authorization: 'Bearer s3cret\r\nx' } };

    const result = await sender.send(request, quick);

    expect(result.ok).toBe(false);
    expect(result.error_message).not.toContain('s3cret');
    expect(server.connections()).toBe(0);
  });

  it('closes its kept-alive connections on close()', async () => {
    const server = await serve(answer(200));
    const sender = newSender();
    await sender.send(post(server.origin), quick);

    await sender.close();
    await new Promise((resolve) => setTimeout(resolve, 50));

    expect(server.connections()).toBe(1);
    expect(server.closedConnections()).toBe(1);
  });
});

describe('HttpSender TLS', () => {
  let certificate: { key: string; cert: string };
  let folder: string;

  beforeAll(() => {
    folder = mkdtempSync(join(tmpdir(), 'hookline-tls-'));
    const [key, cert] = [join(folder, 'key.pem'), join(folder, 'cert.pem')];
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
      ],
      { stdio: 'ignore' },
    );
    certificate = { key: readFileSync(key, 'utf8'), cert: readFileSync(cert, 'utf8') };
  });

  afterAll(() => {
    rmSync(folder, { recursive: true, force: true });
  });

  it('accepts a self-signed certificate only when verify_ssl is off', async () => {
    const server = await serve(answer(200, 'secure'), certificate);
    const sender = newSender();

    const trusting = await sender.send(post(server.origin), { ...quick, verifySsl: false });
    const verifying = await sender.send(post(server.origin), { ...quick, verifySsl: true });

    expect(trusting).toMatchObject({ ok: true, status_code: 200, response_body: 'secure' });
    expect(verifying).toMatchObject({ ok: false, error_class: 'tls' });
    expect(verifying.error_message).toMatch(/self[- ]signed/i);
    expect(verifying.status_code).toBeUndefined();
  });

  it('reports a server that does not speak TLS as a tls failure', async () => {
    const server = await serve(answer(200));
    const sender = newSender();

    const result = await sender.send(post(`https://127.0.0.1:${server.port}/`), quick);

    expect(result).toMatchObject({ ok: false, error_class: 'tls' });
  });
});

describe('HttpSender SSRF guard', () => {
  it('refuses a name that resolves to a forbidden address, without connecting', async () => {
    const server = await serve(answer(200));
    const { lookup, calls } = scriptedLookup(['127.0.0.1']);
    const sender = newSender({ allowPrivateTargets: false, lookup });

    const result = await sender.send(post(`http://receiver.test:${server.port}/`), quick);

    expect(result).toMatchObject({ ok: false, error_class: 'ssrf' });
    expect(result.error_message).toBe(
      'target refused: receiver.test resolves to 127.0.0.1 (loopback)',
    );
    expect(calls).toEqual(['receiver.test']);
    expect(server.connections()).toBe(0);
  });

  it('connects to the address its resolver gave when private targets are allowed', async () => {
    const server = await serve(answer(200, 'reached'));
    const { lookup, calls } = scriptedLookup(['127.0.0.1']);
    const sender = newSender({ allowPrivateTargets: true, lookup });

    const result = await sender.send(post(`http://receiver.test:${server.port}/`), quick);

    expect(result).toMatchObject({ ok: true, response_body: 'reached' });
    expect(calls).toEqual(['receiver.test']);
    expect(server.received[0]?.headers.host).toBe(`receiver.test:${server.port}`);
  });

  it('refuses a name whose answer mixes public and forbidden addresses', async () => {
    const server = await serve(answer(200));
    const { lookup } = scriptedLookup(['93.184.215.14', '::ffff:127.0.0.1']);
    const sender = newSender({ allowPrivateTargets: false, lookup });

    const result = await sender.send(post(`http://receiver.test:${server.port}/`), quick);

    expect(result).toMatchObject({ ok: false, error_class: 'ssrf' });
    expect(result.error_message).toContain('::ffff:127.0.0.1 (loopback)');
    expect(server.connections()).toBe(0);
  });

  it('checks the answer the socket uses, so a rebinding name cannot slip through', async () => {
    // The name answers a public address first, as it would to an up-front check,
    // then 127.0.0.1. The first answer is taken here, standing in for any
    // earlier validation; the sender's only resolution is the socket's own.
    const server = await serve(answer(200));
    const { lookup, calls } = scriptedLookup(['93.184.215.14'], ['127.0.0.1']);
    lookup('rebind.test', { all: true }, () => undefined);
    const sender = newSender({ allowPrivateTargets: false, lookup });

    const first = await sender.send(post(`http://rebind.test:${server.port}/`), quick);
    const again = await sender.send(post(`http://rebind.test:${server.port}/`), quick);

    expect(first).toMatchObject({ ok: false, error_class: 'ssrf' });
    expect(again).toMatchObject({ ok: false, error_class: 'ssrf' });
    expect(calls).toHaveLength(3);
    expect(server.connections()).toBe(0);
  });

  it('refuses the system resolver answer for localhost', async () => {
    const server = await serve(answer(200));
    const sender = newSender({ allowPrivateTargets: false });

    const result = await sender.send(post(`http://localhost:${server.port}/`), quick);

    expect(result).toMatchObject({ ok: false, error_class: 'ssrf' });
    expect(result.error_message).toMatch(/^target refused: localhost resolves to .+ \(loopback\)$/);
    expect(server.connections()).toBe(0);
  });

  it.each([
    ['0x7f.1', '127.0.0.1'],
    ['2130706433', '127.0.0.1'],
    ['017700000001', '127.0.0.1'],
    ['127.1', '127.0.0.1'],
    ['[::ffff:127.0.0.1]', '::ffff:7f00:1'],
    ['[::127.0.0.1]', '::7f00:1'],
  ])('refuses the literal %s, spelled as %s, without connecting', async (host, normal) => {
    const server = await serve(answer(200));
    const { lookup, calls } = scriptedLookup(['127.0.0.1']);
    const sender = newSender({ allowPrivateTargets: false, lookup });

    const result = await sender.send(post(`http://${host}:${server.port}/`), quick);

    expect(result).toMatchObject({ ok: false, error_class: 'ssrf' });
    expect(result.error_message).toContain(`target refused: ${normal} is a forbidden address`);
    expect(calls).toEqual([]);
    expect(server.connections()).toBe(0);
  });
});

describe('connectTimeLookup', () => {
  it('judges every resolution on its own', async () => {
    const { lookup } = scriptedLookup(['93.184.215.14'], ['127.0.0.1']);
    const guarded = connectTimeLookup(lookup, true);
    const resolveOnce = () =>
      new Promise<{ error: Error | null; address: unknown }>((resolve) =>
        guarded('rebind.test', { all: false }, (error, address) => resolve({ error, address })),
      );

    const first = await resolveOnce();
    const second = await resolveOnce();

    expect(first).toEqual({ error: null, address: '93.184.215.14' });
    expect(second.error?.message).toBe(
      'target refused: rebind.test resolves to 127.0.0.1 (loopback)',
    );
  });

  it('answers every address when the socket asks for all of them', async () => {
    const { lookup } = scriptedLookup(['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c']);
    const guarded = connectTimeLookup(lookup, true);

    const addresses = await new Promise((resolve) =>
      guarded('two.test', { all: true }, (_error, found) => resolve(found)),
    );

    expect(addresses).toEqual([
      { address: '93.184.215.14', family: 4 },
      { address: '2606:2800:21f:cb07:6820:80da:af6b:8b2c', family: 6 },
    ]);
  });
});

describe('classifySendError', () => {
  const coded = (code: string, message = code, cause?: unknown): Error =>
    Object.assign(new Error(message, { cause }), { code });

  it.each([
    [coded('ENOTFOUND', 'getaddrinfo ENOTFOUND a.test'), 'dns'],
    [coded('EAI_AGAIN'), 'dns'],
    [coded('UND_ERR_SOCKET', 'other side closed', coded('ECONNRESET')), 'connect'],
    [new AggregateError([coded('ECONNREFUSED'), coded('EHOSTUNREACH')]), 'connect'],
    [coded('UND_ERR_CLOSED'), 'connect'],
    [coded('CERT_HAS_EXPIRED'), 'tls'],
    [coded('ERR_TLS_CERT_ALTNAME_INVALID'), 'tls'],
    [coded('UNABLE_TO_VERIFY_LEAF_SIGNATURE'), 'tls'],
    [coded('SELF_SIGNED_CERT_IN_CHAIN'), 'tls'],
    [coded('ERR_SSL_WRONG_VERSION_NUMBER'), 'tls'],
    [coded('UND_ERR_CONNECT_TIMEOUT'), 'timeout'],
    [coded('UND_ERR_HEADERS_TIMEOUT'), 'timeout'],
    [coded('UND_ERR_BODY_TIMEOUT'), 'timeout'],
    [new DOMException('aborted', 'TimeoutError'), 'timeout'],
    [coded('HPE_INVALID_CONSTANT'), 'invalid_response'],
    [
      Object.assign(new Error('Response does not match'), { name: 'HTTPParserError' }),
      'invalid_response',
    ],
    [
      coded('UND_ERR_SOCKET', 'other side closed', coded('UND_ERR_HEADERS_OVERFLOW')),
      'invalid_response',
    ],
    [coded('UND_ERR_INVALID_ARG', 'invalid authorization header'), 'config'],
    [new Error('something else'), 'connect'],
    ['not even an error', 'connect'],
  ])('classifies %o as %s', (error, errorClass) => {
    expect(classifySendError(error, 1000).errorClass).toBe(errorClass);
  });

  it('names the code and the message of the error that decided', () => {
    const error = coded('UND_ERR_SOCKET', 'other side closed', coded('ECONNREFUSED', 'refused'));

    expect(classifySendError(error, 1000).message).toBe('ECONNREFUSED: refused');
  });
});
