import { createHmac, timingSafeEqual } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Webhook } from 'standardwebhooks';

/**
 * `npm run receiver`'s logic apart from the HTTP server: arguments, the two
 * signature checks a receiver of this service makes, and how a delivery is
 * printed.
 */

export const RECEIVER_USAGE = `Usage:
  npm run receiver -- [--port 4000] [--secret whsec_...] [--status 200] [--raw] [--save <dir>]

Listens on 127.0.0.1 and prints every delivery it gets: method, path, the X-Alga-*
and webhook-* headers, the body (pretty-printed when JSON) and, given the webhook's
signing secret (--secret or RECEIVER_SECRET), whether X-Alga-Signature and the
Standard Webhooks signature verify. Answers every request with --status (default 200).
  --raw         print the body byte for byte as received, not pretty-printed (a line
                break follows it when it has none of its own)
  --save <dir>  also write each body, byte for byte, to <dir>/<delivery id>.body (the
                X-Alga-Delivery-Id; a retry overwrites it): what POST /webhooks/verify
                takes as "body"`;

/** How far a signature's timestamp may be from now, as the Standard Webhooks libraries allow. */
export const TIMESTAMP_TOLERANCE_SECONDS = 5 * 60;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface ReceiverOptions {
  port: number;
  secret?: string | undefined;
  status: number;
  /** Print bodies byte for byte instead of pretty-printed. */
  raw: boolean;
  /** The folder each body is written to, named by its delivery id. */
  save?: string | undefined;
}

const integerOption = (
  name: string,
  text: string | undefined,
  fallback: number,
  range: [number, number],
) => {
  if (text === undefined) return fallback;
  const value = Number(text);
  const [min, max] = range;
  if (text.trim() === '' || !Number.isInteger(value) || value < min || value > max) {
    throw new UsageError(`${name} must be a whole number from ${min} to ${max}; got ${text}`);
  }
  return value;
};

export const parseReceiverArgs = (
  argv: string[],
  env: NodeJS.ProcessEnv,
): { help: true } | ({ help: false } & ReceiverOptions) => {
  let values: {
    port?: string;
    secret?: string;
    status?: string;
    raw?: boolean;
    save?: string;
    help?: boolean;
  };
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        port: { type: 'string' },
        secret: { type: 'string' },
        status: { type: 'string' },
        raw: { type: 'boolean' },
        save: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    // parseArgs reports unknown options and stray arguments as TypeErrors.
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  if (values.help) return { help: true };
  const secret = values.secret ?? (env.RECEIVER_SECRET || undefined);
  if (secret === '') throw new UsageError('--secret must not be empty');
  if (values.save === '') throw new UsageError('--save must name a folder');
  return {
    help: false,
    port: integerOption('--port', values.port, 4000, [0, 65_535]),
    secret,
    status: integerOption('--status', values.status, 200, [200, 599]),
    raw: values.raw ?? false,
    save: values.save,
  };
};

export interface SignatureCheck {
  scheme: 'X-Alga-Signature' | 'Standard Webhooks';
  valid: boolean;
  detail: string;
}

/** Lower-case header names, as node:http gives them. */
export type Headers = Record<string, string | undefined>;

const sameText = (a: string, b: string) => {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
};

/**
 * `X-Alga-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`;
 * during a secret rotation it carries one v1 per secret, and any may match.
 */
export const verifyAlgaSignature = (
  secret: string,
  body: Buffer,
  header: string | undefined,
  nowSeconds: number = Math.floor(Date.now() / 1000),
): SignatureCheck => {
  const check = (valid: boolean, detail: string): SignatureCheck => ({
    scheme: 'X-Alga-Signature',
    valid,
    detail,
  });
  if (!header) return check(false, 'the header is missing');
  const parts = header.split(',').map((part) => part.trim());
  const timestamp = parts.find((part) => part.startsWith('t='))?.slice(2) ?? '';
  const candidates = parts.filter((part) => part.startsWith('v1=')).map((part) => part.slice(3));
  if (!/^\d+$/.test(timestamp)) return check(false, 'no t=<unix seconds> in the header');
  if (candidates.length === 0) return check(false, 'no v1= signature in the header');
  const expected = createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
  if (!candidates.some((candidate) => sameText(candidate.toLowerCase(), expected))) {
    return check(false, 'no v1 signature matches this secret and body');
  }
  const skew = nowSeconds - Number(timestamp);
  if (Math.abs(skew) > TIMESTAMP_TOLERANCE_SECONDS) {
    const when = skew > 0 ? `${skew} s old` : `${-skew} s in the future`;
    return check(false, `the signature matches but its timestamp is ${when}`);
  }
  return check(true, 'valid');
};

/**
 * Standard Webhooks, checked by its own library. A `whsec_` secret is base64
 * key material; any other secret is used as its UTF-8 bytes (the contract's rule).
 */
export const verifyStandardWebhooks = (
  secret: string,
  body: Buffer,
  headers: Headers,
): SignatureCheck => {
  const check = (valid: boolean, detail: string): SignatureCheck => ({
    scheme: 'Standard Webhooks',
    valid,
    detail,
  });
  let webhook: Webhook;
  try {
    webhook = secret.startsWith('whsec_')
      ? new Webhook(secret)
      : new Webhook(new TextEncoder().encode(secret), { format: 'raw' });
  } catch (error) {
    return check(false, `unusable secret: ${error instanceof Error ? error.message : error}`);
  }
  const signed: Record<string, string> = {};
  for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) {
    const value = headers[name];
    if (value !== undefined) signed[name] = value;
  }
  try {
    webhook.verify(body, signed, { jsonParse: false });
    return check(true, 'valid');
  } catch (error) {
    return check(false, error instanceof Error ? error.message : String(error));
  }
};

export const verifySignatures = (secret: string, body: Buffer, headers: Headers) => [
  verifyAlgaSignature(secret, body, headers['x-alga-signature']),
  verifyStandardWebhooks(secret, body, headers),
];

export interface ReceivedDelivery {
  method: string;
  path: string;
  headers: Headers;
  body: Buffer;
}

const SHOWN_HEADER = /^(content-type|user-agent|x-alga-.+|webhook-.+)$/;

/** `x-alga-event-id` → `X-Alga-Event-Id`; webhook-* stay as the Standard Webhooks spec writes them. */
const displayName = (name: string) =>
  name.startsWith('webhook-')
    ? name
    : name.replace(
        /(^|-)([a-z])/g,
        (_match, dash: string, letter: string) => dash + letter.toUpperCase(),
      );

const formatBody = (body: Buffer): string => {
  if (body.length === 0) return '(no body)';
  const text = body.toString('utf8');
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
};

/** What is printed for one delivery, pretty-printed. */
export const formatDelivery = (
  delivery: ReceivedDelivery,
  checks: readonly SignatureCheck[] | undefined,
  answeredStatus: number,
  receivedAt: Date,
): string =>
  deliveryOutput(delivery, checks, answeredStatus, receivedAt, { raw: false }).toString('utf8');

/**
 * What is printed for one delivery, as bytes: with `raw` the body goes out
 * exactly as it came in, however it is encoded.
 */
export const deliveryOutput = (
  delivery: ReceivedDelivery,
  checks: readonly SignatureCheck[] | undefined,
  answeredStatus: number,
  receivedAt: Date,
  options: { raw: boolean; savedTo?: string | undefined },
): Buffer => {
  const headers = Object.entries(delivery.headers)
    .filter(([name, value]) => SHOWN_HEADER.test(name) && value !== undefined)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, value]) => `  ${displayName(name)}: ${value}`);
  const signatures =
    checks === undefined
      ? ['  signatures not checked: give the signing secret with --secret or RECEIVER_SECRET']
      : checks.map(
          (check) => `  ${check.valid ? 'OK  ' : 'FAIL'} ${check.scheme}: ${check.detail}`,
        );
  const head = [
    `--- ${receivedAt.toISOString()} ${delivery.method} ${delivery.path} -> ${answeredStatus}`,
    ...headers,
  ].join('\n');
  const body = options.raw ? delivery.body : Buffer.from(formatBody(delivery.body));
  // The line break that separates a raw body from what follows is not part of it.
  const separator = body.length > 0 && body.at(-1) === 0x0a ? '' : '\n';
  const tail = [
    ...signatures,
    ...(options.savedTo === undefined ? [] : [`  body saved to ${options.savedTo}`]),
    '',
  ].join('\n');
  return Buffer.concat([
    Buffer.from(`${head}\n`),
    body,
    Buffer.from(options.raw ? separator : '\n'),
    Buffer.from(tail),
  ]);
};

const SAFE_FILE_NAME = /^[A-Za-z0-9_-]{1,128}$/;

/**
 * The file a delivery's body is saved under: its X-Alga-Delivery-Id (or
 * webhook-id), when that is a plain id. Anyone on this machine can post to the
 * receiver, so a header that is not one never becomes a path.
 */
export const bodyFileName = (headers: Headers): string | undefined => {
  const id = headers['x-alga-delivery-id'] ?? headers['webhook-id'];
  return id !== undefined && SAFE_FILE_NAME.test(id) ? `${id}.body` : undefined;
};
