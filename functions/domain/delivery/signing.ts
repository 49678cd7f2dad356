import { createHmac, createSecretKey, type KeyObject, timingSafeEqual } from 'node:crypto';
import * as v from 'valibot';
import { uuidString } from '../webhooks/fields.ts';
import { HMAC_ALGORITHMS } from '../webhooks/schema.ts';

/**
 * The signatures a delivery carries, and the check behind POST /webhooks/verify.
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

const hmacHex = (algorithm: HmacAlgorithm, secret: string, content: string): string =>
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
  return secrets
    .map((secret) => {
      const key = keyFor(`sw:${secret}`, () => standardWebhooksKey(secret));
      const digest = createHmac('sha256', key).update(signed, 'utf8');
      return `v1,${digest.digest('base64')}`;
    })
    .join(' ');
};

const HEX = /^[0-9a-fA-F]+$/;
const DIGITS = /^\d+$/;

interface ParsedSignature {
  timestamp?: string | undefined;
  digests: string[];
}

/**
 * Reads `t=..,v1=..[,v1=..]` or a bare hex digest. Entries other than `t` and
 * `v1` are ignored, as receivers of versioned schemes do; a repeated or
 * non-numeric `t` makes the whole value unreadable.
 */
const parseSignature = (signature: string): ParsedSignature | undefined => {
  const trimmed = signature.trim();
  if (!trimmed.includes('=')) return HEX.test(trimmed) ? { digests: [trimmed] } : undefined;
  let timestamp: string | undefined;
  const digests: string[] = [];
  for (const entry of trimmed.split(',')) {
    const separator = entry.indexOf('=');
    if (separator < 0) continue;
    const key = entry.slice(0, separator).trim();
    const value = entry.slice(separator + 1).trim();
    if (key === 't') {
      if (timestamp !== undefined || !DIGITS.test(value)) return undefined;
      timestamp = value;
    } else if (key === 'v1' && HEX.test(value)) {
      digests.push(value);
    }
  }
  return { timestamp, digests };
};

export interface VerifyInput {
  algorithm: HmacAlgorithm;
  /** A whole signature header value, or just the hex digest. */
  signature: string;
  timestamp?: number | undefined;
  /** The raw body exactly as received. */
  body: string;
}

/**
 * True when any `v1` digest matches any secret. Freshness of the timestamp is
 * deliberately not checked: the route verifies a sample a user pasted to debug
 * their receiver, often long after it was sent; a receiver checks freshness
 * itself, on live traffic.
 */
export const verifySignature = (input: VerifyInput, secrets: readonly string[]): boolean => {
  const parsed = parseSignature(input.signature);
  if (!parsed || parsed.digests.length === 0) return false;
  const fromHeader = parsed.timestamp;
  if (input.timestamp !== undefined && fromHeader !== undefined) {
    if (Number(fromHeader) !== input.timestamp) return false;
  }
  // The header's own spelling of t is what the sender signed.
  const timestamp = fromHeader ?? input.timestamp?.toString();
  const signed = timestamp === undefined ? input.body : `${timestamp}.${input.body}`;
  const candidates = parsed.digests.map((digest) => Buffer.from(digest, 'hex'));
  let valid = false;
  for (const secret of secrets) {
    const expected = Buffer.from(hmacHex(input.algorithm, secret, signed), 'hex');
    for (const candidate of candidates) {
      // Lengths are public (they follow from the algorithm); contents are compared in constant time.
      if (candidate.length === expected.length && timingSafeEqual(candidate, expected)) {
        valid = true;
      }
    }
  }
  return valid;
};

const MAX_SAMPLE_BODY_BYTES = 256 * 1024;
/** Year 2286 in seconds; larger values are almost always milliseconds by mistake. */
const MAX_UNIX_SECONDS = 9_999_999_999;
const TIMESTAMP_MESSAGE =
  'must be a Unix time in seconds: a non-negative integer or a string of digits';

const unixSeconds = v.pipe(
  v.union([v.number(), v.string()], TIMESTAMP_MESSAGE),
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    const raw = dataset.value;
    const seconds = typeof raw === 'number' ? raw : DIGITS.test(raw) ? Number(raw) : Number.NaN;
    if (!Number.isInteger(seconds) || seconds < 0) {
      addIssue({ message: TIMESTAMP_MESSAGE });
      return NEVER;
    }
    if (seconds > MAX_UNIX_SECONDS) {
      addIssue({ message: 'must be in seconds, not milliseconds' });
      return NEVER;
    }
    return seconds;
  }),
);

/** The body of POST /webhooks/verify. */
export const verifyRequestSchema = v.strictObject({
  algorithm: v.optional(
    v.picklist(HMAC_ALGORITHMS, `must be one of ${HMAC_ALGORITHMS.join(', ')}`),
    'sha256',
  ),
  signature: v.pipe(
    v.string(),
    v.minLength(1, 'must not be empty'),
    v.maxLength(4096, 'must be at most 4096 characters'),
  ),
  timestamp: v.optional(unixSeconds),
  body: v.pipe(
    v.string('must be the raw body as a string, exactly as received'),
    v.maxBytes(MAX_SAMPLE_BODY_BYTES, 'must be at most 256 KiB'),
  ),
  webhook_id: uuidString,
});

export type VerifyRequest = v.InferOutput<typeof verifyRequestSchema>;
