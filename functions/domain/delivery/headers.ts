import { isReservedHeader } from '../webhooks/fields.ts';
import type { WebhookRecord } from '../webhooks/schema.ts';
import type { DeliveryEvent } from './model.ts';
import { algaSignature, hmacHeaderSignature, standardWebhooksSignature } from './signing.ts';

/** The headers of one delivery attempt, and their redacted copy for the attempt record. */

/**
 * Carries the webhook's `secret_token`, for receivers that cannot check an
 * HMAC: they compare it with the token they were given (as GitLab's
 * X-Gitlab-Token, Telegram's X-Telegram-Bot-Api-Secret-Token). A credential:
 * redacted wherever a request is kept or shown.
 */
export const SECRET_TOKEN_HEADER = 'X-Alga-Secret-Token';

/**
 * `true` on a test delivery: every delivery of a webhook in test mode
 * (`is_test_mode`, real events), and the test route's. Such deliveries are
 * marked `is_test` in the history and counted nowhere (docs/decisions.md).
 */
export const TEST_HEADER = 'X-Alga-Test';

export interface DeliveryHeadersInput {
  /** `is_test_mode` true: the delivery is a test (TEST_HEADER). */
  webhook: Pick<WebhookRecord, 'webhook_id' | 'security' | 'custom_headers'> &
    Partial<Pick<WebhookRecord, 'secret_token' | 'is_test_mode'>>;
  event: DeliveryEvent;
  deliveryId: string;
  attempt: number;
  /** Unix seconds; the same value goes into every signature. */
  timestamp: number;
  /** Absent for GET and DELETE: the signatures then cover the empty string. */
  body: string | undefined;
  contentType: string;
  /** The current signing secret first, then the previous ones still in their grace period. */
  secrets: readonly string[];
  /** Required for `security.type: oauth2`: the access token fetched for this attempt. */
  oauth2Token?: string | undefined;
  userAgent: string;
}

type Headers = Record<string, string>;

/** RFC 6750 tokens are visible ASCII; anything else would corrupt the header. */
const VISIBLE_ASCII = /^[\x21-\x7e]+$/;

/** The header `security.type` asks for, if any. */
const securityHeader = (input: DeliveryHeadersInput, signedBody: string): Headers => {
  const { security } = input.webhook;
  switch (security.type) {
    case 'none':
      return {};
    case 'basic_auth': {
      const credentials = Buffer.from(`${security.username}:${security.password}`, 'utf8');
      return { Authorization: `Basic ${credentials.toString('base64')}` };
    }
    case 'bearer_token':
      return { [security.header_name]: `Bearer ${security.token}` };
    case 'api_key':
      return { [security.header_name]: security.token };
    case 'oauth2': {
      const token = input.oauth2Token;
      if (token === undefined || !VISIBLE_ASCII.test(token)) {
        throw new Error('An oauth2 webhook needs a usable access token for each delivery');
      }
      return { Authorization: `Bearer ${token}` };
    }
    case 'hmac_signature': {
      // Keyed by the signing secrets: a `security.secret` given on create or update
      // becomes the webhook's signing secret rather than being stored twice.
      const { signature_header, algorithm } = security;
      const signature = hmacHeaderSignature(input.secrets, algorithm, input.timestamp, signedBody);
      return { [signature_header]: signature };
    }
  }
};

/**
 * Every header of one attempt, in the contract's order. Custom headers never
 * override ours: one is dropped when its name, in any case, is one we set or
 * one the service reserves (the schema refuses those already; records written
 * before a name became reserved might not).
 */
export const deliveryHeaders = (input: DeliveryHeadersInput): Headers => {
  const { webhook, event, secrets, timestamp } = input;
  const signedBody = input.body ?? '';
  const identity: Headers = {
    ...(input.body === undefined ? {} : { 'Content-Type': input.contentType }),
    'User-Agent': input.userAgent,
    'X-Alga-Webhook-Id': webhook.webhook_id,
    'X-Alga-Event-Id': event.event_id,
    'X-Alga-Event-Type': event.event_type,
    'X-Alga-Delivery-Id': input.deliveryId,
    'X-Alga-Delivery-Attempt': String(input.attempt),
    ...(webhook.is_test_mode ? { [TEST_HEADER]: 'true' } : {}),
  };
  const security: Headers = {
    ...securityHeader(input, signedBody),
    ...(webhook.secret_token ? { [SECRET_TOKEN_HEADER]: webhook.secret_token } : {}),
  };
  const signatures: Headers = {
    'X-Alga-Signature': algaSignature(secrets, timestamp, signedBody),
    'webhook-id': input.deliveryId,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': standardWebhooksSignature(
      secrets,
      input.deliveryId,
      timestamp,
      signedBody,
    ),
  };
  const customHeaders = webhook.custom_headers ?? {};
  // Nothing can collide without custom or security headers: ours have distinct fixed names.
  if (Object.keys(customHeaders).length === 0 && Object.keys(security).length === 0) {
    return { ...identity, ...signatures };
  }
  const taken = new Set(
    [identity, security, signatures].flatMap((group) => Object.keys(group).map(lower)),
  );
  const custom = Object.entries(customHeaders).filter(
    ([name]) => !taken.has(lower(name)) && !isReservedHeader(name),
  );
  // Keyed by lower-case name: a later group replaces an earlier entry whatever its
  // case. The schema keeps security header names off ours, so that only matters
  // for records written before that rule.
  const byName = new Map<string, [string, string]>();
  for (const [name, value] of [
    ...Object.entries(identity),
    ...custom,
    ...Object.entries(security),
    ...Object.entries(signatures),
  ]) {
    byName.delete(lower(name));
    byName.set(lower(name), [name, value]);
  }
  // fromEntries defines own properties, so even a header named __proto__ stays a header.
  return Object.fromEntries(byName.values());
};

const lower = (name: string): string => name.toLowerCase();

export const REDACTED = '[redacted]';

/** Credentials whatever the security type; compared in lower case. */
const ALWAYS_SECRET = [
  'authorization',
  'proxy-authorization',
  'cookie',
  SECRET_TOKEN_HEADER.toLowerCase(),
];

/**
 * The copy of an attempt's request headers that is stored and shown in the
 * delivery history. Redacted: the credential headers above, and the
 * header a bearer_token or api_key webhook puts its token in. Kept: signatures
 * (an HMAC digest does not reveal its key, and receivers debugging a mismatch
 * need them), and custom headers, which the API already returns unmasked as
 * part of the webhook's configuration.
 */
export const redactHeaders = (
  headers: Readonly<Headers>,
  webhook: Pick<WebhookRecord, 'security'>,
): Headers => {
  const secretNames = new Set(ALWAYS_SECRET);
  const { security } = webhook;
  if (security.type === 'bearer_token' || security.type === 'api_key') {
    secretNames.add(lower(security.header_name));
  }
  return Object.fromEntries(
    Object.entries(headers).map(([name, value]) => [
      name,
      secretNames.has(lower(name)) ? REDACTED : value,
    ]),
  );
};

/**
 * Signature headers with each digest replaced, their shape kept (the
 * timestamp, one entry per secret): for a preview, whose event the caller
 * chose. A real signature over it would be a delivery any receiver accepts,
 * made by a route that sends and records nothing.
 */
export const redactSignatures = (
  headers: Readonly<Headers>,
  webhook: Pick<WebhookRecord, 'security'>,
): Headers => {
  const { security } = webhook;
  const hexSigned = new Set(['x-alga-signature']);
  if (security.type === 'hmac_signature') hexSigned.add(lower(security.signature_header));
  return Object.fromEntries(
    Object.entries(headers).map(([name, value]) => {
      if (hexSigned.has(lower(name))) {
        return [name, value.replace(/v1=[^,]*/g, `v1=${REDACTED}`)];
      }
      if (lower(name) === 'webhook-signature') {
        return [name, value.replace(/v1,\S*/g, `v1,${REDACTED}`)];
      }
      return [name, value];
    }),
  );
};
