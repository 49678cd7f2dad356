import dns from 'node:dns';
import type { LookupFunction } from 'node:net';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { Agent, request as dispatch } from 'undici';
import { forbiddenAddressReason, ipLiteralOfHostname } from '../domain/delivery/addresses.ts';
import {
  type ErrorClass,
  failedSend,
  type OutgoingRequest,
  type SendResult,
} from '../domain/delivery/model.ts';

/** Resolves every address of a name, as `dns.lookup` does with `{ all: true }`. */
export type Resolver = (
  hostname: string,
  options: dns.LookupAllOptions,
  callback: (error: NodeJS.ErrnoException | null, addresses: dns.LookupAddress[]) => void,
) => void;

export interface HttpSenderOptions {
  /** Turns the SSRF guard off: the local runtime delivers to receivers on this machine. */
  allowPrivateTargets: boolean;
  /** Sent when the request has no User-Agent of its own. */
  userAgent?: string | undefined;
  /** How much of an answer is kept, in bytes. */
  maxResponseBytes?: number | undefined;
  /** Replaces the system resolver; for tests. */
  lookup?: Resolver | undefined;
}

export interface SendOptions {
  /** Covers the whole exchange: connecting, the answer's head and its body. */
  timeoutMs: number;
  verifySsl: boolean;
  /** Overrides the sender's cap for one exchange (a token endpoint's answer may be longer). */
  maxResponseBytes?: number | undefined;
}

const DEFAULT_USER_AGENT = 'Hookline-Webhooks/1.0';
const DEFAULT_MAX_RESPONSE_BYTES = 8192;
/** Past this much unread answer, closing the connection is cheaper than reading on to reuse it. */
const DISCARD_LIMIT_BYTES = 256 * 1024;
/** The contract's longest attempt timeout; each request's own signal cuts shorter ones. */
const CONNECT_TIMEOUT_MS = 30_000;

/** The connection refused a target because of the address it would reach. */
export class ForbiddenTargetError extends Error {
  override readonly name = 'ForbiddenTargetError';
  readonly code = 'ERR_HOOKLINE_FORBIDDEN_TARGET';
}

/**
 * Sends one request to a receiver and describes what happened; network and
 * HTTP problems become a classified result, never an exception. Connections
 * are pooled per TLS policy and kept alive across calls, so a warm Lambda
 * instance reuses them between invocations.
 */
export class HttpSender {
  readonly #options: HttpSenderOptions;
  #verifyingAgent: Agent | undefined;
  #trustingAgent: Agent | undefined;

  constructor(options: HttpSenderOptions) {
    this.#options = options;
  }

  async send(request: OutgoingRequest, options: SendOptions): Promise<SendResult> {
    const started = performance.now();
    const elapsed = (): number => Math.round((performance.now() - started) * 10) / 10;
    const refusal = this.#refusalBeforeConnecting(request.url);
    if (refusal !== undefined) {
      return { ...failedSend(refusal.errorClass, refusal.message), duration_ms: elapsed() };
    }

    let response: Awaited<ReturnType<typeof dispatch>>;
    try {
      response = await dispatch(request.url, {
        dispatcher: this.#agent(options.verifySsl),
        method: request.method,
        headers: this.#headers(request),
        body: request.method === 'GET' || request.method === 'DELETE' ? undefined : request.body,
        signal: AbortSignal.timeout(options.timeoutMs),
        headersTimeout: options.timeoutMs,
        bodyTimeout: options.timeoutMs,
      });
    } catch (error) {
      const { errorClass, message } = classifySendError(error, options.timeoutMs);
      return { ...failedSend(errorClass, message), duration_ms: elapsed() };
    }
    // The status line is the receiver's answer, and it decides the attempt: a
    // 2xx has accepted the event even if its body is then cut off or too slow
    // (retrying would deliver it twice for a body nobody reads), and a 503 is
    // a 503. What the body's failure was is told apart, for callers that read it.
    const status = response.statusCode;
    const body = new CappedText(options.maxResponseBytes ?? this.#maxResponseBytes());
    let bodyFailure: SendResult['body_failure'];
    try {
      await body.drain(response.body);
    } catch (error) {
      const { errorClass, message } = classifySendError(error, options.timeoutMs);
      bodyFailure = { error_class: errorClass, error_message: `the answer's body: ${message}` };
    }
    const duration = elapsed();
    // undici hands the connection back to its pool a turn after the body ends;
    // a caller's next send would otherwise open a new connection.
    if (bodyFailure === undefined) await nextTurn();
    const ok = status >= 200 && status < 300;
    return {
      ok,
      status_code: status,
      response_headers: flattenHeaders(response.headers),
      response_body: body.text(),
      duration_ms: duration,
      ...(ok ? {} : { error_class: 'http', error_message: httpMessage(status) }),
      ...(bodyFailure === undefined ? {} : { body_failure: bodyFailure }),
    };
  }

  async close(): Promise<void> {
    const agents = [this.#verifyingAgent, this.#trustingAgent];
    this.#verifyingAgent = undefined;
    this.#trustingAgent = undefined;
    await Promise.all(agents.map((agent) => agent?.close()));
  }

  /** The socket skips name resolution for IP literals, so the connect-time guard never sees them. */
  #refusalBeforeConnecting(url: string): { errorClass: ErrorClass; message: string } | undefined {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return { errorClass: 'config', message: 'the target URL is not a valid absolute URL' };
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      return { errorClass: 'config', message: `unsupported URL scheme ${parsed.protocol}` };
    }
    if (this.#options.allowPrivateTargets) return undefined;
    // The WHATWG parser has already turned 0x7f.1, 2130706433 and 017700000001 into 127.0.0.1.
    const literal = ipLiteralOfHostname(parsed.hostname);
    const reason = literal === undefined ? undefined : forbiddenAddressReason(literal);
    return reason === undefined
      ? undefined
      : {
          errorClass: 'ssrf',
          message: `target refused: ${literal} is a forbidden address (${reason})`,
        };
  }

  #agent(verifySsl: boolean): Agent {
    if (verifySsl) {
      this.#verifyingAgent ??= this.#newAgent(true);
      return this.#verifyingAgent;
    }
    this.#trustingAgent ??= this.#newAgent(false);
    return this.#trustingAgent;
  }

  #newAgent(verifySsl: boolean): Agent {
    const { allowPrivateTargets, lookup } = this.#options;
    const resolve: Resolver = lookup ?? dns.lookup;
    return new Agent({
      // HTTP/1.1 only: one webhook per request gains nothing from multiplexing.
      allowH2: false,
      connect: {
        timeout: CONNECT_TIMEOUT_MS,
        rejectUnauthorized: verifySsl,
        lookup: connectTimeLookup(resolve, !allowPrivateTargets),
      },
    });
  }

  #headers(request: OutgoingRequest): Record<string, string> {
    const hasUserAgent = Object.keys(request.headers).some(
      (name) => name.toLowerCase() === 'user-agent',
    );
    if (hasUserAgent) return request.headers;
    return { ...request.headers, 'user-agent': this.#options.userAgent ?? DEFAULT_USER_AGENT };
  }

  #maxResponseBytes(): number {
    return this.#options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  }
}

/**
 * The name resolution the socket itself uses, so the addresses checked are the
 * addresses connected to: a DNS answer cannot change between check and use.
 * A name with any forbidden address is refused whole rather than trimmed to its
 * public ones; a mixed answer is how rebinding attacks hedge their bets.
 */
export const connectTimeLookup =
  (resolve: Resolver, guard: boolean): LookupFunction =>
  (hostname, options, callback) => {
    resolve(hostname, { ...options, all: true }, (error, addresses) => {
      if (error !== null) return callback(error, []);
      const refused = guard ? firstForbidden(addresses) : undefined;
      if (refused !== undefined) {
        const message = `target refused: ${hostname} resolves to ${refused.address} (${refused.reason})`;
        return callback(new ForbiddenTargetError(message), []);
      }
      const [first] = addresses;
      if (first === undefined) {
        return callback(
          Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }),
          [],
        );
      }
      if (options.all === true) return callback(null, addresses);
      return callback(null, first.address, first.family);
    });
  };

const firstForbidden = (
  addresses: readonly dns.LookupAddress[],
): { address: string; reason: string } | undefined => {
  for (const { address } of addresses) {
    const reason = forbiddenAddressReason(address);
    if (reason !== undefined) return { address, reason };
  }
  return undefined;
};

/** The first bytes of an answer as UTF-8; the rest is read and dropped, or the connection closed. */
class CappedText {
  readonly #maxBytes: number;
  readonly #decoder = new TextDecoder('utf-8');
  #text = '';
  #kept = 0;
  #read = 0;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  async drain(body: AsyncIterable<Uint8Array>): Promise<void> {
    for await (const chunk of body) {
      this.#read += chunk.byteLength;
      if (this.#kept < this.#maxBytes) {
        const part = chunk.subarray(0, this.#maxBytes - this.#kept);
        this.#kept += part.byteLength;
        this.#text += this.#decoder.decode(part, { stream: true });
      }
      // Leaving the loop destroys the body, and with it the connection.
      if (this.#read > this.#maxBytes + DISCARD_LIMIT_BYTES) return;
    }
    // A cut answer keeps a character split at the cut out of the text instead of mangling it.
    if (this.#read === this.#kept) this.#text += this.#decoder.decode();
  }

  text(): string {
    return this.#text;
  }
}

const flattenHeaders = (
  headers: Record<string, string | string[] | undefined>,
): Record<string, string> => {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined)
      flat[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return flat;
};

const httpMessage = (status: number): string =>
  status >= 300 && status < 400 ? `HTTP ${status} (redirects are not followed)` : `HTTP ${status}`;

const DNS_CODES = new Set([
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_NONAME',
  'EAI_FAIL',
  'EAI_NODATA',
  'ENODATA',
]);
const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EADDRNOTAVAIL',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
]);
const TIMEOUT_CODES = new Set([
  'ETIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);
const TLS_CODES =
  /^(CERT_|ERR_TLS_|ERR_SSL_|EPROTO$|DEPTH_ZERO_SELF_SIGNED_CERT$|SELF_SIGNED_CERT_IN_CHAIN$|UNABLE_TO_|HOSTNAME_MISMATCH$)/;
/** A receiver that answers with something other than HTTP/1.1, or headers too large to read. */
const INVALID_RESPONSE_CODES =
  /^(HPE_|UND_ERR_HEADERS_OVERFLOW$|UND_ERR_RES_CONTENT_LENGTH_MISMATCH$)/;
/** undici's parser errors carry no code (its table of llhttp codes is looked up backwards). */
const isParserError = ({ error }: Link): boolean => error.name === 'HTTPParserError';
const CONFIG_CODES = new Set(['UND_ERR_INVALID_ARG', 'UND_ERR_NOT_SUPPORTED', 'ERR_INVALID_URL']);
const MAX_MESSAGE_LENGTH = 300;

/**
 * The class of a failed exchange, from the codes along the error's cause
 * chain (undici wraps Node's errors; happy eyeballs aggregates one per
 * address). Messages come from Node and undici, which name hosts and
 * addresses but never request headers or bodies.
 */
export const classifySendError = (
  error: unknown,
  timeoutMs: number,
): { errorClass: ErrorClass; message: string } => {
  const chain = causeChain(error);
  const found = (test: (link: Link) => boolean): Link | undefined => chain.find(test);
  const forbidden = found((link) => link.error instanceof ForbiddenTargetError);
  if (forbidden !== undefined) return { errorClass: 'ssrf', message: forbidden.error.message };
  const timedOut = found(
    ({ code, error }) =>
      TIMEOUT_CODES.has(code) || error.name === 'TimeoutError' || error.name === 'AbortError',
  );
  if (timedOut !== undefined) {
    return { errorClass: 'timeout', message: `no complete answer within ${timeoutMs} ms` };
  }
  const rules: [ErrorClass, (link: Link) => boolean][] = [
    ['tls', ({ code }) => TLS_CODES.test(code)],
    ['dns', ({ code }) => DNS_CODES.has(code)],
    ['config', ({ code }) => CONFIG_CODES.has(code)],
    ['invalid_response', (link) => INVALID_RESPONSE_CODES.test(link.code) || isParserError(link)],
    ['connect', ({ code }) => CONNECT_CODES.has(code)],
  ];
  for (const [errorClass, matches] of rules) {
    // The deepest match is the most specific: ECONNRESET under undici's "other side closed".
    const link = chain.findLast(matches);
    if (link !== undefined) return { errorClass, message: describeFailure(link) };
  }
  const [first] = chain;
  return {
    errorClass: 'connect',
    message: first === undefined ? 'the request failed' : describeFailure(first),
  };
};

interface Link {
  error: Error;
  code: string;
}

const causeChain = (error: unknown): Link[] => {
  const links: Link[] = [];
  const pending: unknown[] = [error];
  while (pending.length > 0 && links.length < 20) {
    const next = pending.shift();
    if (!(next instanceof Error) || links.some((link) => link.error === next)) continue;
    const code = 'code' in next && typeof next.code === 'string' ? next.code : '';
    links.push({ error: next, code });
    pending.push(next.cause);
    if (next instanceof AggregateError) pending.push(...next.errors);
  }
  return links;
};

const describeFailure = ({ error, code }: Link): string => {
  // OpenSSL's messages carry its internal error stack; its `reason` says the same plainly.
  const detail =
    'reason' in error && typeof error.reason === 'string' ? error.reason : error.message;
  const flat = detail.replace(/\s+/g, ' ').trim();
  const text = code === '' || flat.includes(code) ? flat : `${code}: ${flat}`;
  return text.length > MAX_MESSAGE_LENGTH ? `${text.slice(0, MAX_MESSAGE_LENGTH)}…` : text;
};
