import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import * as v from 'valibot';

/**
 * API keys: what they look like, how they are stored (a SHA-256 hash, never
 * the key), and what they may do.
 *
 * SHA-256 rather than a password hash: generated keys carry 256 random bits,
 * so there is nothing to brute-force, and the authorizer must check a key in
 * microseconds. The key id is derived from the hash, so any key string (the
 * local runtime accepts one from the environment) maps to exactly one record
 * without a secondary index.
 */

export const PERMISSIONS = [
  'read',
  'create',
  'update',
  'delete',
  'test',
  'retry',
  'analytics',
  'verify',
  'manage_security',
  /** POST /events: publish the tenant's events, as a producer with the queue's send right could. */
  'publish',
] as const;

export type Permission = (typeof PERMISSIONS)[number];

const KEY_PREFIX = 'hl_';

export const generateApiKey = (): string => `${KEY_PREFIX}${randomBytes(32).toString('base64url')}`;

export const hashApiKey = (key: string): string =>
  createHash('sha256').update(key, 'utf8').digest('hex');

/** 64 bits of the hash: unique enough to address a key, useless to recover it. */
export const keyIdFromHash = (hash: string): string => `key_${hash.slice(0, 16)}`;

/**
 * The value of the API Gateway key that stands for this key in the usage plan
 * (which throttles per key). API Gateway wants 20 to 128 letters and digits;
 * the value is derived from the key id, so it is no secret, and with the API's
 * key source set to AUTHORIZER no client can present it.
 */
export const usageKeyOf = (keyId: string): string => `hookline${keyId.replace(/^key_/, '')}`;

export const hashesMatch = (stored: string, presented: string): boolean => {
  const a = Buffer.from(stored, 'hex');
  const b = Buffer.from(presented, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
};

/** Tenant ids: what producers and the keys CLI may use. UUIDs qualify. */
export const tenantIdSchema = v.pipe(
  v.string(),
  v.regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/,
    'tenant ids are 1-128 letters, digits, dots, dashes or underscores',
  ),
);

/** The shortest key the service accepts, so a guessable dev key cannot slip in. */
export const MIN_KEY_LENGTH = 16;
export const MAX_KEY_LENGTH = 256;

export const permissionsSchema = v.pipe(
  v.array(v.picklist(PERMISSIONS, `permissions are ${PERMISSIONS.join(', ')}`)),
  v.minLength(1, 'a key needs at least one permission'),
  v.transform((list) => PERMISSIONS.filter((permission) => list.includes(permission))),
);

export const apiKeyRecordSchema = v.object({
  key_id: v.string(),
  key_hash: v.string(),
  tenant: v.string(),
  permissions: v.array(v.picklist(PERMISSIONS)),
  name: v.optional(v.string()),
  created_at: v.string(),
  revoked_at: v.optional(v.string()),
});

export type ApiKeyRecord = v.InferOutput<typeof apiKeyRecordSchema>;

/** Builds the record of a key; the key itself is not part of it. */
export const newApiKeyRecord = (
  key: string,
  tenant: string,
  permissions: Permission[],
  now: Date,
  name?: string,
): ApiKeyRecord => {
  const key_hash = hashApiKey(key);
  return {
    key_id: keyIdFromHash(key_hash),
    key_hash,
    tenant,
    permissions,
    name,
    created_at: now.toISOString(),
  };
};

/** Who a request acts for, as the authorizer establishes it. */
export interface Principal {
  tenant: string;
  keyId: string;
  permissions: Permission[];
}

export interface ApiKeyLookup {
  get(keyId: string): Promise<ApiKeyRecord | undefined>;
}

/** The principal a presented key stands for; undefined for unknown or revoked keys. */
export const authenticate = async (
  presented: string | undefined,
  keys: ApiKeyLookup,
): Promise<Principal | undefined> => {
  if (!presented || presented.length < MIN_KEY_LENGTH || presented.length > MAX_KEY_LENGTH) {
    return undefined;
  }
  const hash = hashApiKey(presented);
  const record = await keys.get(keyIdFromHash(hash));
  if (!record || record.revoked_at || !hashesMatch(record.key_hash, hash)) return undefined;
  return { tenant: record.tenant, keyId: record.key_id, permissions: record.permissions };
};
