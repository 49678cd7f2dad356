import * as v from 'valibot';
import {
  type ApiKeyRecord,
  generateApiKey,
  newApiKeyRecord,
  PERMISSIONS,
  permissionsSchema,
  tenantIdSchema,
} from '../functions/domain/keys/api-keys.ts';
import type { ApiKeyRepository } from '../functions/repositories/api-keys.ts';
import { UsageError } from './targets.ts';
import type { UsagePlanKeys } from './usage-plan.ts';

/** The keys CLI's commands, apart from argument parsing and connecting. */

export interface KeyTarget {
  keys: Pick<ApiKeyRepository, 'create' | 'list' | 'revoke'>;
  /** A deployed stack's usage plan; the local runtime throttles by key id itself. */
  usagePlan?: UsagePlanKeys | undefined;
}

export interface KeyOptions {
  tenant?: string | undefined;
  permissions?: string | undefined;
  name?: string | undefined;
}

type Print = (line: string) => void;

const parseWith = <S extends v.GenericSchema>(schema: S, value: unknown, what: string) => {
  const result = v.safeParse(schema, value);
  if (!result.success) throw new UsageError(`${what}: ${result.issues[0]?.message ?? 'invalid'}`);
  return result.output;
};

export const createKey = async (target: KeyTarget, options: KeyOptions, print: Print) => {
  if (!options.tenant) throw new UsageError('create needs --tenant <id>');
  const tenant = parseWith(tenantIdSchema, options.tenant, '--tenant');
  const requested = options.permissions?.split(',').map((name) => name.trim()) ?? [...PERMISSIONS];
  const permissions = parseWith(permissionsSchema, requested, '--permissions');
  const key = generateApiKey();
  const record = newApiKeyRecord(key, tenant, permissions, new Date(), options.name);
  // Usage plan first: a key stored without one would authenticate, then be refused.
  await target.usagePlan?.add(record.key_id, tenant);
  await target.keys.create(record);
  print(`Created ${record.key_id} for tenant ${tenant} with ${permissions.join(',')}.`);
  print('Store the key now: it is not kept and cannot be shown again.');
  print(key);
  return record;
};

const row = (key: ApiKeyRecord) =>
  [
    key.key_id,
    key.tenant,
    key.created_at,
    key.revoked_at ? `revoked ${key.revoked_at}` : 'active',
    key.permissions.join(','),
    key.name ?? '',
  ].join('\t');

export const listKeys = async (target: KeyTarget, options: KeyOptions, print: Print) => {
  const tenant = options.tenant ? parseWith(tenantIdSchema, options.tenant, '--tenant') : undefined;
  const keys = await target.keys.list(tenant);
  if (keys.length === 0) {
    print('No keys.');
    return;
  }
  print(['KEY ID', 'TENANT', 'CREATED', 'STATUS', 'PERMISSIONS', 'NAME'].join('\t'));
  for (const key of keys) print(row(key));
};

export const revokeKey = async (target: KeyTarget, keyId: string | undefined, print: Print) => {
  if (!keyId) throw new UsageError('revoke needs a key id (see list)');
  const revoked = await target.keys.revoke(keyId, new Date());
  if (!revoked) throw new UsageError(`No key ${keyId}`);
  await target.usagePlan?.remove(keyId);
  print(`Revoked ${keyId} (tenant ${revoked.tenant}) at ${revoked.revoked_at}.`);
  print('A gateway that cached the key may accept it until its authorizer cache expires.');
};
