import { describe, expect, it } from 'vitest';
import {
  type ApiKeyRecord,
  authenticate,
  generateApiKey,
  hashApiKey,
  keyIdFromHash,
  newApiKeyRecord,
} from './api-keys.ts';

const lookupOf = (records: ApiKeyRecord[]) => ({
  get: async (keyId: string) => records.find((record) => record.key_id === keyId),
});

describe('API keys', () => {
  it('are 256 random bits behind a recognisable prefix', () => {
    const key = generateApiKey();
    expect(key).toMatch(/^hl_[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(key.slice(3), 'base64url')).toHaveLength(32);
    expect(generateApiKey()).not.toBe(key);
  });

  it('are stored as a SHA-256 hash, addressed by an id derived from it', () => {
    const record = newApiKeyRecord(
      'hl_example-key-for-hashing',
      'acme',
      ['read'],
      new Date(0),
      'ci',
    );

    expect(record.key_hash).toBe(hashApiKey('hl_example-key-for-hashing'));
    expect(record.key_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(record.key_id).toBe(keyIdFromHash(record.key_hash));
    expect(record.key_id).toMatch(/^key_[0-9a-f]{16}$/);
    expect(JSON.stringify(record)).not.toContain('hl_example-key-for-hashing');
  });
});

describe('authenticate', () => {
  const key = 'hl_a-perfectly-good-key-value';
  const record = newApiKeyRecord(key, 'acme', ['read', 'create'], new Date(0));

  it('maps a known key to its tenant and permissions', async () => {
    expect(await authenticate(key, lookupOf([record]))).toEqual({
      tenant: 'acme',
      keyId: record.key_id,
      permissions: ['read', 'create'],
    });
  });

  it('refuses unknown, revoked, missing and implausible keys', async () => {
    const revoked = { ...record, revoked_at: '2026-01-01T00:00:00.000Z' };
    expect(await authenticate('hl_some-other-key-value-here', lookupOf([record]))).toBeUndefined();
    expect(await authenticate(key, lookupOf([revoked]))).toBeUndefined();
    expect(await authenticate(undefined, lookupOf([record]))).toBeUndefined();
    expect(await authenticate('short', lookupOf([record]))).toBeUndefined();
    expect(await authenticate('x'.repeat(257), lookupOf([record]))).toBeUndefined();
  });

  it('refuses a record whose hash differs even if the id matches', async () => {
    const forged = { ...record, key_hash: hashApiKey('hl_not-the-same-key-at-all') };
    expect(await authenticate(key, lookupOf([forged]))).toBeUndefined();
  });
});
