import { createHmac, randomBytes } from 'node:crypto';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { Webhook as SvixWebhook } from 'svix';
import { describe, expect, it } from 'vitest';
import { algaSignature, hmacHeaderSignature, standardWebhooksSignature } from './signing.ts';

const whsec = (): string => `whsec_${randomBytes(32).toString('base64')}`;
const now = (): number => Math.floor(Date.now() / 1000);
const hexHmac = (algorithm: string, secret: string, content: string): string =>
  createHmac(algorithm, secret).update(content).digest('hex');

/** The three headers a Standard Webhooks receiver reads. */
const standardHeaders = (secrets: readonly string[], body: string, id = 'msg_2xYz') => {
  const timestamp = now();
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': standardWebhooksSignature(secrets, id, timestamp, body),
  };
};

/** Both public verifiers, built the way a receiver would build them. */
const verifiers = (secret: string | Uint8Array, options?: { format: 'raw' }) => [
  { name: 'standardwebhooks', verifier: new StandardWebhook(secret, options) },
  { name: 'svix', verifier: new SvixWebhook(secret, options) },
];

describe('algaSignature', () => {
  it('matches the contract golden vector', () => {
    // Act
    const header = algaSignature(['shh'], 1_700_000_000, '{"a":1}');

    // Assess
    expect(header).toBe(
      't=1700000000,v1=be310eac0f84daf469d630347a950258de768b365563ab68f29f2f783473d547',
    );
  });

  it('carries one v1 per secret during a rotation, the current one first', () => {
    // Act
    const header = algaSignature(['new-secret', 'old-secret'], 1_700_000_000, '{}');

    // Assess
    expect(header).toBe(
      `t=1700000000,v1=${hexHmac('sha256', 'new-secret', '1700000000.{}')},v1=${hexHmac('sha256', 'old-secret', '1700000000.{}')}`,
    );
  });

  it('refuses to sign without a secret', () => {
    expect(() => algaSignature([], 1, '')).toThrow(/at least one secret/);
  });
});

describe('hmacHeaderSignature', () => {
  it.each(['sha1', 'sha256', 'sha512'] as const)('signs "<t>.<body>" with %s', (algorithm) => {
    // Prepare
    const body = '{"ticket":"é"}';

    // Act
    const header = hmacHeaderSignature(['s3cret', 'older'], algorithm, 1_712_345_678, body);

    // Assess
    const expected = (secret: string) => hexHmac(algorithm, secret, `1712345678.${body}`);
    expect(header).toBe(`t=1712345678,v1=${expected('s3cret')},v1=${expected('older')}`);
  });
});

describe('standardWebhooksSignature', () => {
  it('is accepted by both public verifier libraries for a whsec_ secret', () => {
    // Prepare
    const secret = whsec();
    const body = '{"event_type":"ticket.created"}';
    const headers = standardHeaders([secret], body);

    // Act / Assess
    for (const { verifier } of verifiers(secret)) {
      expect(() => verifier.verify(body, headers)).not.toThrow();
    }
  });

  it('is accepted during a rotation by a receiver holding either secret alone', () => {
    // Prepare
    const [current, previous] = [whsec(), whsec()];
    const body = '{"a":1}';
    const headers = standardHeaders([current, previous], body);

    // Act / Assess
    expect(headers['webhook-signature'].split(' ')).toHaveLength(2);
    for (const secret of [current, previous]) {
      for (const { verifier } of verifiers(secret)) {
        expect(() => verifier.verify(body, headers)).not.toThrow();
      }
    }
    for (const { verifier } of verifiers(whsec())) {
      expect(() => verifier.verify(body, headers)).toThrow(/No matching signature/);
    }
  });

  it('signs an absent body as the empty string, which the libraries accept', () => {
    // Prepare
    const secret = whsec();
    const headers = standardHeaders([secret], '');

    // Act / Assess
    for (const { verifier } of verifiers(secret)) {
      expect(() => verifier.verify('', headers)).not.toThrow();
    }
  });

  it('is rejected for a tampered body or id', () => {
    // Prepare
    const secret = whsec();
    const headers = standardHeaders([secret], '{"a":1}');

    // Act / Assess
    for (const { verifier } of verifiers(secret)) {
      expect(() => verifier.verify('{"a":2}', headers)).toThrow();
      expect(() => verifier.verify('{"a":1}', { ...headers, 'webhook-id': 'other' })).toThrow();
    }
  });

  it('keys a plain secret by its UTF-8 bytes: verifiable in raw mode, not as given', () => {
    // Prepare: the libraries base64-decode any secret string unless told it is raw.
    const secret = 'plain-secret-1234';
    const body = '{"a":1}';
    const headers = standardHeaders([secret], body);

    // Act / Assess
    for (const { verifier } of verifiers(secret, { format: 'raw' })) {
      expect(() => verifier.verify(body, headers)).not.toThrow();
    }
    const asWhsec = `whsec_${Buffer.from(secret, 'utf8').toString('base64')}`;
    for (const { verifier } of verifiers(asWhsec)) {
      expect(() => verifier.verify(body, headers)).not.toThrow();
    }
    expect(() => new StandardWebhook(secret)).toThrow(/incorrect characters/);
    expect(() => new SvixWebhook(secret)).toThrow(/incorrect characters/);
    const base64Looking = 'c2VjcmV0LWtleQ==';
    const signedWithIt = standardHeaders([base64Looking], body);
    for (const { verifier } of verifiers(base64Looking)) {
      expect(() => verifier.verify(body, signedWithIt)).toThrow(/No matching signature/);
    }
  });

  it('keys a non-ASCII plain secret by UTF-8, which raw mode only matches given bytes', () => {
    // Prepare
    const secret = 'clé-secrète';
    const body = '{}';
    const headers = standardHeaders([secret], body);

    // Act / Assess
    for (const { verifier } of verifiers(Buffer.from(secret, 'utf8'), { format: 'raw' })) {
      expect(() => verifier.verify(body, headers)).not.toThrow();
    }
    for (const { verifier } of verifiers(secret, { format: 'raw' })) {
      expect(() => verifier.verify(body, headers)).toThrow(/No matching signature/);
    }
  });
});
