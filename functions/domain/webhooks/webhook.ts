import { type FieldProblem, ValidationError } from '../errors.ts';
import { assertCredentialsStay } from './credentials.ts';
import type { Security, WebhookConfig, WebhookPatch, WebhookRecord } from './schema.ts';
import { generateSigningSecret, keepIfMasked } from './secrets.ts';

/**
 * The webhook aggregate's pure rules: building a new one, applying a partial
 * update, and the checks that span fields. What clients see is view.ts.
 */

const DEFAULT_CONTENT_TYPES: Record<WebhookConfig['payload_format'], string> = {
  json: 'application/json',
  xml: 'application/xml',
  form_data: 'application/x-www-form-urlencoded',
  custom: 'application/json',
};

/** The Content-Type deliveries carry: the configured one, else the format's own. */
export const effectiveContentType = (
  webhook: Pick<WebhookConfig, 'content_type' | 'payload_format'>,
) => webhook.content_type ?? DEFAULT_CONTENT_TYPES[webhook.payload_format];

/**
 * For hmac_signature the signing secret is the webhook's `signing_secret`; it is
 * not stored twice. A secret given in `security` becomes the signing secret.
 */
const splitSigningSecret = (security: Security): { security: Security; secret?: string } => {
  if (security.type !== 'hmac_signature') return { security };
  const { secret, ...rest } = security;
  return secret === undefined ? { security: rest } : { security: rest, secret };
};

/** The header the security type adds to each delivery, if any. */
const securityHeader = (security: Security): string | undefined => {
  switch (security.type) {
    case 'basic_auth':
    case 'oauth2':
      return 'Authorization';
    case 'bearer_token':
    case 'api_key':
      return security.header_name;
    case 'hmac_signature':
      return security.signature_header;
    default:
      return undefined;
  }
};

/** Checks that need more than one field. */
const assertConsistent = (config: WebhookConfig): void => {
  const problems: FieldProblem[] = [];
  const owned = securityHeader(config.security)?.toLowerCase();
  for (const name of Object.keys(config.custom_headers ?? {})) {
    if (name.toLowerCase() === owned) {
      problems.push({
        field: `custom_headers.${name}`,
        message: `collides with the ${config.security.type} header set by security`,
      });
    }
  }
  const caseless = new Map<string, string>();
  for (const name of Object.keys(config.custom_headers ?? {})) {
    const lower = name.toLowerCase();
    const earlier = caseless.get(lower);
    if (earlier !== undefined) {
      problems.push({
        field: `custom_headers.${name}`,
        message: `repeats header ${earlier} (header names are case-insensitive)`,
      });
    }
    caseless.set(lower, name);
  }
  if (problems.length > 0) throw new ValidationError(problems);
};

export interface NewWebhookIds {
  webhookId: string;
  now: Date;
}

export const newWebhook = (
  tenant: string,
  config: WebhookConfig,
  { webhookId, now }: NewWebhookIds,
): WebhookRecord => {
  assertConsistent(config);
  const { security, secret } = splitSigningSecret(config.security);
  const at = now.toISOString();
  return {
    ...config,
    security,
    webhook_id: webhookId,
    tenant,
    signing_secret: secret ?? generateSigningSecret(),
    total_deliveries: 0,
    successful_deliveries: 0,
    failed_deliveries: 0,
    last_delivery_at: null,
    last_success_at: null,
    last_failure_at: null,
    auto_disabled_at: null,
    created_at: at,
    updated_at: at,
    version: 1,
  };
};

/** Masked secrets sent back unchanged keep the stored secret. */
const unmaskSecurity = (incoming: Security, stored: WebhookRecord): Security => {
  const current = stored.security;
  switch (incoming.type) {
    case 'basic_auth':
      return current.type === 'basic_auth'
        ? { ...incoming, password: keepIfMasked(incoming.password, current.password) }
        : incoming;
    case 'bearer_token':
    case 'api_key':
      return current.type === incoming.type
        ? { ...incoming, token: keepIfMasked(incoming.token, current.token) }
        : incoming;
    case 'oauth2':
      return current.type === 'oauth2'
        ? {
            ...incoming,
            client_secret: keepIfMasked(incoming.client_secret, current.client_secret),
          }
        : incoming;
    case 'hmac_signature':
      return incoming.secret === undefined
        ? incoming
        : { ...incoming, secret: keepIfMasked(incoming.secret, stored.signing_secret) };
    default:
      return incoming;
  }
};

/** The circuit and lane as a webhook's first delivery finds them: nothing stored. */
const CIRCUIT_RESET = {
  circuit_failures: null,
  circuit_timeouts: null,
  circuit_opened_at: null,
  circuit_retry_at: null,
  circuit_reopens: null,
  circuit_probe_at: null,
  circuit_last_failure: null,
  lane: null,
  lane_since: null,
} as const satisfies Partial<WebhookRecord>;

/**
 * Applies a partial update. Given fields replace stored ones as a whole; null
 * clears an optional field. Returns the new record and just the attributes
 * that change, so a store writes those alone (delivery counters, which the
 * delivery side updates concurrently, are never part of it). No fields given:
 * nothing changes. `mayRedirectCredentials` (the key has manage_security)
 * lets a stored credential follow a new url or token_url.
 */
export const applyPatch = (
  current: WebhookRecord,
  patch: WebhookPatch,
  now: Date,
  { mayRedirectCredentials = false }: { mayRedirectCredentials?: boolean } = {},
): { record: WebhookRecord; changes: Partial<WebhookRecord> } | undefined => {
  if (Object.keys(patch).length === 0) return undefined;
  const changes: Partial<WebhookRecord> = { ...patch, updated_at: now.toISOString() };
  // The default Content-Type sent back as shown by GET stays a default, so a
  // later change of payload_format still brings its own.
  if (!current.content_type && patch.content_type === effectiveContentType(current)) {
    changes.content_type = null;
  }
  // Switching a disabled webhook back on starts it afresh: an old run of
  // failures must not switch it off again at its next failed attempt.
  if (patch.is_active === true && !current.is_active) {
    changes.auto_disabled_at = null;
    changes.failing_since = null;
  }
  // A new receiver, or one switched back on, starts with a closed circuit in
  // the overflow lane until it answers fast (functions/domain/delivery/circuit.ts).
  if (
    (patch.is_active === true && !current.is_active) ||
    (patch.url && patch.url !== current.url)
  ) {
    Object.assign(changes, CIRCUIT_RESET);
  }
  if (typeof patch.secret_token === 'string') {
    changes.secret_token = keepIfMasked(patch.secret_token, current.secret_token ?? undefined);
  }
  if (patch.security !== undefined) {
    const { security, secret } = splitSigningSecret(unmaskSecurity(patch.security, current));
    changes.security = security;
    if (secret !== undefined && secret !== current.signing_secret) {
      changes.signing_secret = secret;
    }
  }
  const record: WebhookRecord = { ...current, ...changes, version: current.version + 1 };
  assertConsistent(record);
  assertCredentialsStay(current, patch, record, mayRedirectCredentials);
  return { record, changes };
};

/** Secrets kept signing after rotations, at most (Svix keeps ten too). */
export const MAX_PREVIOUS_SECRETS = 10;

/**
 * A new signing secret; the old one keeps signing beside it until the grace
 * period ends, so receivers can switch without losing a delivery. With
 * hmac_signature the configured header is signed with the same secrets.
 */
export const rotateSigningSecret = (
  current: WebhookRecord,
  now: Date,
  graceMs: number,
  newSecret: string = generateSigningSecret(),
): { record: WebhookRecord; changes: Partial<WebhookRecord> } => {
  const at = now.toISOString();
  const stillValid = (current.previous_signing_secrets ?? []).filter(
    (previous) => Date.parse(previous.expires_at) > now.getTime(),
  );
  const kept =
    graceMs > 0
      ? [
          {
            secret: current.signing_secret,
            expires_at: new Date(now.getTime() + graceMs).toISOString(),
          },
          ...stillValid,
        ].slice(0, MAX_PREVIOUS_SECRETS)
      : stillValid;
  const changes: Partial<WebhookRecord> = {
    signing_secret: newSecret,
    previous_signing_secrets: kept,
    updated_at: at,
  };
  return { record: { ...current, ...changes, version: current.version + 1 }, changes };
};
