import { createHash } from 'node:crypto';
import * as v from 'valibot';
import type { ErrorClass, OutgoingRequest, SendResult } from '../domain/delivery/model.ts';
import type { SendOptions } from './http-sender.ts';

/** A webhook's `security` for `type: oauth2`: the client credentials grant (RFC 6749 §4.4). */
export interface OAuth2Credentials {
  client_id: string;
  client_secret: string;
  token_url: string;
  scope?: string | undefined;
}

/** What fetches a token: the HttpSender, so the token endpoint gets the same pools and SSRF guard as receivers. */
export interface TokenEndpointSender {
  send(request: OutgoingRequest, options: SendOptions): Promise<SendResult>;
}

export interface OAuth2TokensOptions {
  /** How long before its expiry a token stops being handed out (at most half its lifetime). */
  safetyMarginMs?: number | undefined;
  /** How many tokens are kept; the least recently used goes first. */
  maxEntries?: number | undefined;
  now?: (() => number) | undefined;
}

/** A token could not be had. `errorClass` is the attempt's error class; the message never holds the secret. */
export class OAuth2Error extends Error {
  override readonly name = 'OAuth2Error';
  readonly errorClass: ErrorClass;
  readonly statusCode: number | undefined;
  constructor(errorClass: ErrorClass, message: string, statusCode?: number) {
    super(message);
    this.errorClass = errorClass;
    this.statusCode = statusCode;
  }
}

const DEFAULT_SAFETY_MARGIN_MS = 60_000;
const DEFAULT_MAX_ENTRIES = 1000;
/** RFC 6749 leaves expires_in optional; an hour is the common lifetime. */
const DEFAULT_LIFETIME_MS = 3_600_000;
/** Token answers carry JWTs that can outgrow the 8 KiB kept of a receiver's answer. */
const MAX_TOKEN_RESPONSE_BYTES = 64 * 1024;
/** RFC 6749 §5.2 error codes are short printable ASCII; anything else is not echoed. */
const OAUTH_ERROR_CODE = /^[\x20-\x21\x23-\x5b\x5d-\x7e]{1,64}$/;

interface CachedToken {
  token: string;
  usableUntil: number;
}

/**
 * Client-credentials access tokens, cached per token endpoint, client, scope,
 * secret and TLS policy until shortly before they expire. Callers that ask at
 * the same time share one request to the token endpoint.
 */
export class OAuth2Tokens {
  readonly #sender: TokenEndpointSender;
  readonly #safetyMarginMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;
  readonly #cache = new Map<string, CachedToken>();
  readonly #inFlight = new Map<string, Promise<string>>();

  constructor(sender: TokenEndpointSender, options: OAuth2TokensOptions = {}) {
    this.#sender = sender;
    this.#safetyMarginMs = options.safetyMarginMs ?? DEFAULT_SAFETY_MARGIN_MS;
    this.#maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
    this.#now = options.now ?? Date.now;
  }

  token(security: OAuth2Credentials, options: SendOptions): Promise<string> {
    const key = cacheKey(security, options.verifySsl);
    const cached = this.#cache.get(key);
    this.#cache.delete(key);
    if (cached !== undefined && cached.usableUntil > this.#now()) {
      this.#cache.set(key, cached); // most recently used moves to the end
      return Promise.resolve(cached.token);
    }
    const pending = this.#inFlight.get(key);
    if (pending !== undefined) return pending;
    const fetching = this.#fetch(security, options)
      .then((fetched) => {
        this.#remember(key, fetched);
        return fetched.token;
      })
      .finally(() => this.#inFlight.delete(key));
    this.#inFlight.set(key, fetching);
    return fetching;
  }

  /**
   * Forgets the cached token, after a receiver answered 401 to it. Given the
   * token that was refused, a newer one another caller already fetched is kept.
   */
  invalidate(security: OAuth2Credentials, refusedToken?: string): void {
    for (const verifySsl of [true, false]) {
      const key = cacheKey(security, verifySsl);
      const cached = this.#cache.get(key);
      if (cached !== undefined && (refusedToken === undefined || cached.token === refusedToken)) {
        this.#cache.delete(key);
      }
    }
  }

  #remember(key: string, { token, usableUntil }: CachedToken): void {
    if (usableUntil <= this.#now()) return;
    this.#cache.set(key, { token, usableUntil });
    for (const oldest of this.#cache.keys()) {
      if (this.#cache.size <= this.#maxEntries) break;
      this.#cache.delete(oldest);
    }
  }

  async #fetch(security: OAuth2Credentials, options: SendOptions): Promise<CachedToken> {
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    if (security.scope !== undefined && security.scope !== '') form.set('scope', security.scope);
    // RFC 6749 §2.3.1: both halves are form-encoded before Basic's base64.
    const basic = Buffer.from(
      `${formEncoded(security.client_id)}:${formEncoded(security.client_secret)}`,
    ).toString('base64');
    const requestedAt = this.#now();
    const result = await this.#sender.send(
      {
        url: security.token_url,
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
          authorization: `Basic ${basic}`,
        },
        body: form.toString(),
      },
      { ...options, maxResponseBytes: MAX_TOKEN_RESPONSE_BYTES },
    );
    const answer = readTokenAnswer(result);
    const lifetimeMs = answer.expiresInMs ?? DEFAULT_LIFETIME_MS;
    const margin = Math.min(this.#safetyMarginMs, lifetimeMs / 2);
    return { token: answer.token, usableUntil: requestedAt + lifetimeMs - margin };
  }
}

const TokenAnswer = v.object({
  access_token: v.pipe(v.string(), v.nonEmpty()),
  expires_in: v.optional(v.unknown()),
});
const ErrorAnswer = v.object({ error: v.pipe(v.string(), v.regex(OAUTH_ERROR_CODE)) });

const readTokenAnswer = (result: SendResult): { token: string; expiresInMs?: number } => {
  const status = result.status_code;
  if (status === undefined || (result.error_class !== undefined && result.error_class !== 'http')) {
    const reason = result.error_message ?? 'no answer';
    throw new OAuth2Error(result.error_class ?? 'connect', `token endpoint unreachable: ${reason}`);
  }
  if (result.ok && result.body_failure !== undefined) {
    const { error_class, error_message } = result.body_failure;
    throw new OAuth2Error(error_class, `token endpoint answer incomplete: ${error_message}`);
  }
  const body = parseJson(result.response_body);
  if (!result.ok) {
    const error = v.safeParse(ErrorAnswer, body);
    const detail = error.success ? ` (${error.output.error})` : '';
    // 4xx: the endpoint refused the credentials or the request. 408, 429 and 5xx may pass.
    const refused = status >= 400 && status < 500 && status !== 408 && status !== 429;
    const message = `token endpoint answered HTTP ${status}${detail}`;
    throw new OAuth2Error(refused ? 'config' : 'http', message, status);
  }
  const answer = v.safeParse(TokenAnswer, body);
  if (!answer.success) {
    throw new OAuth2Error('config', 'token endpoint answer has no access_token', status);
  }
  const expiresInSeconds = secondsOf(answer.output.expires_in);
  return expiresInSeconds === undefined
    ? { token: answer.output.access_token }
    : { token: answer.output.access_token, expiresInMs: expiresInSeconds * 1000 };
};

/** expires_in is a number by RFC 6749, a numeric string from some providers. */
const secondsOf = (value: unknown): number | undefined => {
  const seconds =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && /^\d+$/.test(value)
        ? Number(value)
        : NaN;
  return Number.isFinite(seconds) && seconds > 0 ? seconds : undefined;
};

const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

const formEncoded = (value: string): string =>
  new URLSearchParams([['', value]]).toString().slice(1);

const sha256 = (value: string): string => createHash('sha256').update(value).digest('hex');

/** The secret enters the key hashed, so a changed secret is a new entry and the key never holds it. */
const cacheKey = (security: OAuth2Credentials, verifySsl: boolean): string =>
  JSON.stringify([
    security.token_url,
    security.client_id,
    security.scope ?? '',
    sha256(security.client_secret),
    verifySsl,
  ]);
