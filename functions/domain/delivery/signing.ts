import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import type { HMAC_ALGORITHMS } from '../webhooks/schema.ts';

/**
 * The signatures a delivery carries (verify.ts checks them).
 * `secrets` is always the current signing secret first, then the previous ones
 * still inside a rotation's grace period: each signature header carries one
 * entry per secret, so a receiver holding either secret accepts.
 */

export type HmacAlgorithm = (typeof HMAC_ALGORITHMS)[number];

const STANDARD_WEBHOOKS_PREFIX = 'whsec_';

const requireSecrets = (secrets: readonly string[]): void => {
  if (secrets.length === 0) throw new Error('Signing needs at least one secret');
};

/**
 * Key objects by secret: Node copies and checks raw key bytes on every
 * createHmac, which costs more than hashing a small body. A webhook's secrets
 * sign many deliveries; the cache is bounded and forgets the oldest first.
 */
const KEY_CACHE_SIZE = 1000;
const keys = new Map<string, KeyObject>();

const keyFor = (cacheKey: string, bytes: () => Buffer): KeyObject => {
  const cached = keys.get(cacheKey);
  if (cached) return cached;
  const key = createSecretKey(bytes());
  if (keys.size >= KEY_CACHE_SIZE) {
    const oldest = keys.keys().next().value;
    if (oldest !== undefined) keys.delete(oldest);
  }
  keys.set(cacheKey, key);
  return key;
};

const utf8Key = (secret: string): KeyObject =>
  keyFor(`utf8:${secret}`, () => Buffer.from(secret, 'utf8'));

/** The hex digest of the `t=,v1=` schemes, keyed by the secret's UTF-8 bytes. */
export const hmacHex = (algorithm: HmacAlgorithm, secret: string, content: string): string =>
  createHmac(algorithm, utf8Key(secret)).update(content, 'utf8').digest('hex');

/** `t=<t>,v1=<hex>[,v1=<hex>]` over `<t>.<body>`, keyed by each secret's UTF-8 bytes. */
export const hmacHeaderSignature = (
  secrets: readonly string[],
  algorithm: HmacAlgorithm,
  timestamp: number,
  body: string,
): string => {
  requireSecrets(secrets);
  const signed = `${timestamp}.${body}`;
  const entries = secrets.map((secret) => `v1=${hmacHex(algorithm, secret, signed)}`);
  return [`t=${timestamp}`, ...entries].join(',');
};

/** The value of `X-Alga-Signature`: the Alga PSA scheme, always HMAC-SHA256. */
export const algaSignature = (
  secrets: readonly string[],
  timestamp: number,
  body: string,
): string => hmacHeaderSignature(secrets, 'sha256', timestamp, body);

/**
 * The HMAC key Standard Webhooks derives from a secret. Verifier libraries
 * base64-decode every secret they are given (after stripping `whsec_`), so a
 * secret without the prefix is only verifiable there in their "raw" mode.
 */
export const standardWebhooksKey = (secret: string): Buffer =>
  secret.startsWith(STANDARD_WEBHOOKS_PREFIX)
    ? Buffer.from(secret.slice(STANDARD_WEBHOOKS_PREFIX.length), 'base64')
    : Buffer.from(secret, 'utf8');

/** The value of `webhook-signature`: space-separated `v1,<base64>` entries. */
export const standardWebhooksSignature = (
  secrets: readonly string[],
  messageId: string,
  timestamp: number,
  body: string,
): string => {
  requireSecrets(secrets);
  const signed = `${messageId}.${timestamp}.${body}`;
  return secrets.map((secret) => `v1,${standardWebhooksDigest(secret, signed)}`).join(' ');
};

/** The base64 HMAC-SHA256 of `signed` (`<id>.<timestamp>.<body>`) under the secret's key. */
export const standardWebhooksDigest = (secret: string, signed: string): string => {
  const key = keyFor(`sw:${secret}`, () => standardWebhooksKey(secret));
  return createHmac('sha256', key).update(signed, 'utf8').digest('base64');
};
