import { timingSafeEqual } from 'node:crypto';
import * as v from 'valibot';
import { ValidationError } from '../errors.ts';
import { anyHeaderName, integerBetween, notArray, uuidString } from '../webhooks/fields.ts';
import { HMAC_ALGORITHMS, type Security } from '../webhooks/schema.ts';
import { type HmacAlgorithm, hmacHex, standardWebhooksDigest } from './signing.ts';

/**
 * POST /webhooks/verify: checks a signature a receiver got against the
 * webhook's secrets (the current one and those still in a rotation's grace
 * period), comparing in constant time. It reads every signature a delivery
 * carries: `t=<t>,v1=<hex>` (X-Alga-Signature, always SHA-256, and the
 * `hmac_signature` header, with its algorithm) and Standard Webhooks
 * (`webhook-id`, `webhook-timestamp`, `webhook-signature`; the `svix-`
 * spellings too, as the libraries read them).
 */

/** What one signature of the sample came to; `reason` says why it is not valid. */
export const signatureCheckSchema = v.strictObject({
  /** `signature` (the body field) or `headers.<name>`. */
  source: v.string(),
  /** `alga`: `t=<t>,v1=<hex>`; `standard_webhooks`: `v1,<base64>` over `<id>.<t>.<body>`. */
  scheme: v.picklist(['alga', 'standard_webhooks']),
  valid: v.boolean(),
  reason: v.nullable(v.string()),
});

export type SignatureCheck = v.InferOutput<typeof signatureCheckSchema>;

interface Freshness {
  nowSeconds: number;
  toleranceSeconds: number | undefined;
}

const HEX = /^[0-9a-fA-F]+$/;
const DIGITS = /^\d+$/;
/** Year 2286 in seconds; larger values are almost always milliseconds by mistake. */
const MAX_UNIX_SECONDS = 9_999_999_999;
const MAX_SAMPLE_BODY_BYTES = 256 * 1024;
/** Thirty days, the history's default retention: past that, freshness means nothing. */
const MAX_TOLERANCE_SECONDS = 2_592_000;
const MAX_HEADERS = 100;

const invalid = (reason: string) => ({ valid: false, reason });
const VALID = { valid: true, reason: null };

/** Equal strings, compared in constant time; lengths are public (they follow from the scheme). */
const sameText = (given: string, expected: string): boolean => {
  const a = Buffer.from(given, 'utf8');
  const b = Buffer.from(expected, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
};

/** True when any candidate equals any expected value; every pair is compared, so timing says nothing. */
const anyMatch = (candidates: readonly string[], expected: readonly string[]): boolean => {
  let found = false;
  for (const value of expected) {
    for (const candidate of candidates) if (sameText(candidate, value)) found = true;
  }
  return found;
};

const freshnessProblem = (timestamp: string, freshness: Freshness): string | undefined => {
  const { toleranceSeconds, nowSeconds } = freshness;
  if (toleranceSeconds === undefined) return undefined;
  const off = nowSeconds - Number(timestamp);
  if (Math.abs(off) <= toleranceSeconds) return undefined;
  const when = off > 0 ? `${off} seconds old` : `${-off} seconds in the future`;
  return `the timestamp is ${when}, outside tolerance_seconds (${toleranceSeconds})`;
};

interface ParsedHmacSignature {
  timestamp?: string | undefined;
  digests: string[];
}

/**
 * Reads `t=..,v1=..[,v1=..]` or a bare hex digest. Entries other than `t` and
 * `v1` are ignored, as receivers of versioned schemes do; a repeated or
 * non-numeric `t` makes the whole value unreadable.
 */
const parseHmacSignature = (signature: string): ParsedHmacSignature | undefined => {
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

/**
 * A `t=,v1=` signature: over `<t>.<body>`, or the body alone when no
 * timestamp is known. A `timestamp` given apart must agree with the header's.
 */
const checkHmac = (
  signature: string,
  sample: { algorithm: HmacAlgorithm; body: string; timestamp?: number | undefined },
  secrets: readonly string[],
  freshness: Freshness,
): { valid: boolean; reason: string | null } => {
  const parsed = parseHmacSignature(signature);
  if (!parsed || parsed.digests.length === 0) {
    return invalid(
      'no v1 digest could be read: expected t=<unix seconds>,v1=<hex> or a hex digest',
    );
  }
  const fromHeader = parsed.timestamp;
  if (sample.timestamp !== undefined && fromHeader !== undefined) {
    if (Number(fromHeader) !== sample.timestamp) {
      return invalid('timestamp differs from the t= of the signature');
    }
  }
  // The header's own spelling of t is what the sender signed.
  const timestamp = fromHeader ?? sample.timestamp?.toString();
  const signed = timestamp === undefined ? sample.body : `${timestamp}.${sample.body}`;
  const expected = secrets.map((secret) => hmacHex(sample.algorithm, secret, signed));
  const given = parsed.digests.map((digest) => digest.toLowerCase());
  if (!anyMatch(given, expected)) {
    return invalid(`matches none of the webhook's signing secrets (HMAC-${sample.algorithm})`);
  }
  if (timestamp === undefined) {
    return freshness.toleranceSeconds === undefined
      ? VALID
      : invalid('carries no timestamp to check tolerance_seconds against');
  }
  const stale = freshnessProblem(timestamp, freshness);
  return stale ? invalid(stale) : VALID;
};

/** Standard Webhooks: `v1,<base64>` entries over `<id>.<timestamp>.<body>`. */
const checkStandard = (
  parts: { id?: string | undefined; timestamp?: string | undefined; signature: string },
  body: string,
  secrets: readonly string[],
  freshness: Freshness,
  prefix: string,
): { valid: boolean; reason: string | null } => {
  const { id, timestamp } = parts;
  if (id === undefined || timestamp === undefined) {
    return invalid(`needs the ${prefix}-id and ${prefix}-timestamp headers too`);
  }
  if (!DIGITS.test(timestamp) || Number(timestamp) > MAX_UNIX_SECONDS) {
    return invalid(`${prefix}-timestamp is not a Unix time in seconds`);
  }
  const given = parts.signature
    .split(' ')
    .filter((entry) => entry.startsWith('v1,'))
    .map((entry) => entry.slice('v1,'.length));
  if (given.length === 0) return invalid('no v1,<base64> signature could be read');
  const signed = `${id}.${timestamp}.${body}`;
  const expected = secrets.map((secret) => standardWebhooksDigest(secret, signed));
  if (!anyMatch(given, expected)) return invalid("matches none of the webhook's signing secrets");
  const stale = freshnessProblem(timestamp, freshness);
  return stale ? invalid(stale) : VALID;
};

/** The `t=,v1=` headers a webhook's deliveries carry, by lower-case name, with their algorithm. */
const hmacHeadersOf = (security: Security): Map<string, HmacAlgorithm> => {
  const headers = new Map<string, HmacAlgorithm>([['x-alga-signature', 'sha256']]);
  if (security.type === 'hmac_signature') {
    headers.set(security.signature_header.toLowerCase(), security.algorithm);
  }
  return headers;
};

const STANDARD_PREFIXES = ['webhook', 'svix'] as const;

export interface VerifyResult {
  valid: boolean;
  checks: SignatureCheck[];
}

/**
 * Every signature of the sample, checked. Valid when there is at least one
 * and all of them hold: every signature of a delivery covers the same body,
 * so one that fails means the sample is not what was sent.
 */
export const verifySample = (
  request: VerifyRequest,
  webhook: { security: Security },
  secrets: readonly string[],
  now: Date,
): VerifyResult => {
  const freshness = {
    nowSeconds: Math.floor(now.getTime() / 1000),
    toleranceSeconds: request.tolerance_seconds,
  };
  const checks: SignatureCheck[] = [];
  if (request.signature !== undefined) {
    const sample = {
      algorithm: request.algorithm ?? 'sha256',
      body: request.body,
      timestamp: request.timestamp,
    };
    const result = checkHmac(request.signature, sample, secrets, freshness);
    checks.push({ source: 'signature', scheme: 'alga', ...result });
  }
  const received = Object.entries(request.headers ?? {});
  const byName = new Map(received.map(([name, value]) => [name.toLowerCase(), { name, value }]));
  const hmacHeaders = hmacHeadersOf(webhook.security);
  for (const [name, value] of received) {
    const algorithm = hmacHeaders.get(name.toLowerCase());
    if (algorithm === undefined) continue;
    const result = checkHmac(value, { algorithm, body: request.body }, secrets, freshness);
    checks.push({ source: `headers.${name}`, scheme: 'alga', ...result });
  }
  for (const prefix of STANDARD_PREFIXES) {
    const signature = byName.get(`${prefix}-signature`);
    if (!signature) continue;
    const parts = {
      id: byName.get(`${prefix}-id`)?.value,
      timestamp: byName.get(`${prefix}-timestamp`)?.value,
      signature: signature.value,
    };
    const result = checkStandard(parts, request.body, secrets, freshness, prefix);
    checks.push({ source: `headers.${signature.name}`, scheme: 'standard_webhooks', ...result });
  }
  if (checks.length === 0) {
    const names = ['X-Alga-Signature', 'webhook-signature'];
    if (webhook.security.type === 'hmac_signature') names.push(webhook.security.signature_header);
    throw new ValidationError([
      {
        field: 'headers',
        message: `carries none of the signatures this webhook's deliveries have (${names.join(', ')})`,
      },
    ]);
  }
  return { valid: checks.every((check) => check.valid), checks };
};

// ---- The request --------------------------------------------------------------

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

/** Headers as the receiver got them; names in any case, each at most once. */
const receivedHeaders = notArray(
  v.pipe(
    v.record(
      anyHeaderName,
      v.pipe(v.string(), v.maxLength(8192, 'must be at most 8192 characters')),
    ),
    v.check(
      (headers) => Object.keys(headers).length <= MAX_HEADERS,
      `must have at most ${MAX_HEADERS} headers`,
    ),
    v.check((headers) => {
      const names = Object.keys(headers).map((name) => name.toLowerCase());
      return new Set(names).size === names.length;
    }, 'names a header twice (header names are case-insensitive)'),
  ),
);

const verifyFields = v.strictObject({
  webhook_id: uuidString,
  body: v.pipe(
    v.string('must be the raw body as a string, exactly as received'),
    v.maxBytes(MAX_SAMPLE_BODY_BYTES, 'must be at most 256 KiB'),
  ),
  signature: v.optional(
    v.pipe(
      v.string(),
      v.minLength(1, 'must not be empty'),
      v.maxLength(4096, 'must be at most 4096 characters'),
      v.check(
        (signature) => !signature.trimStart().startsWith('v1,'),
        'is a Standard Webhooks signature (v1,<base64>): send it in headers, with webhook-id and webhook-timestamp',
      ),
    ),
  ),
  algorithm: v.optional(
    v.picklist(HMAC_ALGORITHMS, `must be one of ${HMAC_ALGORITHMS.join(', ')}`),
  ),
  timestamp: v.optional(unixSeconds),
  headers: v.optional(receivedHeaders),
  tolerance_seconds: v.optional(integerBetween(1, MAX_TOLERANCE_SECONDS)),
});

/**
 * The body of POST /webhooks/verify: the sample as `signature` (one header's
 * value, with `algorithm` and `timestamp`), as before, or as `headers`, all
 * of them as received; `tolerance_seconds` adds a freshness check.
 */
export const verifyRequestSchema = v.pipe(
  verifyFields,
  v.forward(
    v.check(
      (request) => request.signature !== undefined || request.headers !== undefined,
      'is required unless headers are given',
    ),
    ['signature'],
  ),
  v.forward(
    v.check(
      (request) => request.signature === undefined || request.headers === undefined,
      'cannot be given with headers: send the signature in one or the other',
    ),
    ['signature'],
  ),
  v.forward(
    v.check(
      (request) => request.headers === undefined || request.algorithm === undefined,
      "is only used with signature: with headers, each header's algorithm is known",
    ),
    ['algorithm'],
  ),
  v.forward(
    v.check(
      (request) => request.headers === undefined || request.timestamp === undefined,
      'is only used with signature: the headers carry their own timestamps',
    ),
    ['timestamp'],
  ),
);

export type VerifyRequest = v.InferOutput<typeof verifyRequestSchema>;
