import { createHmac, randomBytes } from 'node:crypto';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { Webhook as SvixWebhook } from 'svix';
import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../errors.ts';
import type { Security } from '../webhooks/schema.ts';
import { deliveryHeaders } from './headers.ts';
import { hmacHeaderSignature } from './signing.ts';
import { type VerifyRequest, verifyRequestSchema, verifySample } from './verify.ts';

const WEBHOOK_ID = '7d2c1f0e-8a4b-4c6d-9e8f-0a1b2c3d4e5f';
const NOW = new Date('2026-03-01T12:00:00.000Z');
const NOW_SECONDS = Math.floor(NOW.getTime() / 1000);
const NONE: Security = { type: 'none' };
const whsec = (): string => `whsec_${randomBytes(32).toString('base64')}`;

const verify = (
  request: Omit<VerifyRequest, 'webhook_id'>,
  secrets: readonly string[],
  security: Security = NONE,
  now = NOW,
) => verifySample({ webhook_id: WEBHOOK_ID, ...request }, { security }, secrets, now);

const isValid = (
  request: Omit<VerifyRequest, 'webhook_id'>,
  secrets: readonly string[],
  security: Security = NONE,
) => verify(request, secrets, security).valid;

describe('a signature given as before (signature, algorithm, timestamp)', () => {
  const body = '{"a":1}';
  const golden = 'be310eac0f84daf469d630347a950258de768b365563ab68f29f2f783473d547';

  it('accepts the contract golden vector in full header form, and says so in one check', () => {
    // Act
    const result = verify({ algorithm: 'sha256', signature: `t=1700000000,v1=${golden}`, body }, [
      'shh',
    ]);

    // Assess
    expect(result).toEqual({
      valid: true,
      checks: [{ source: 'signature', scheme: 'alga', valid: true, reason: null }],
    });
  });

  it('accepts a bare hex digest with the timestamp given apart, in any hex case', () => {
    expect(
      isValid({ signature: golden.toUpperCase(), timestamp: 1_700_000_000, body }, ['shh']),
    ).toBe(true);
    expect(
      isValid({ signature: `t=1700000000,v1=${golden}`, timestamp: 1_700_000_000, body }, ['shh']),
    ).toBe(true);
  });

  it('signs the body alone when there is no timestamp anywhere', () => {
    // Prepare
    const digest = createHmac('sha512', 'k').update(body).digest('hex');

    // Act / Assess
    expect(isValid({ algorithm: 'sha512', signature: digest, body }, ['k'])).toBe(true);
    expect(isValid({ algorithm: 'sha512', signature: `v1=${digest}`, body }, ['k'])).toBe(true);
  });

  it('accepts a rotation header with any of the secrets, for every algorithm', () => {
    for (const algorithm of ['sha1', 'sha256', 'sha512'] as const) {
      // Prepare
      const signature = hmacHeaderSignature(['new', 'old'], algorithm, 1_700_000_000, body);

      // Act / Assess
      expect(isValid({ algorithm, signature, body }, ['old'])).toBe(true);
      expect(isValid({ algorithm, signature, body }, ['other', 'new'])).toBe(true);
      expect(isValid({ algorithm, signature, body }, ['other'])).toBe(false);
    }
  });

  it('rejects a tampered body, a wrong secret and a wrong algorithm, saying why', () => {
    // Prepare
    const signature = `t=1700000000,v1=${golden}`;

    // Act
    const tampered = verify({ signature, body: '{"a":2}' }, ['shh']);

    // Assess
    expect(tampered.checks[0]?.reason).toBe(
      "matches none of the webhook's signing secrets (HMAC-sha256)",
    );
    expect(isValid({ signature, body }, ['shhh'])).toBe(false);
    expect(isValid({ algorithm: 'sha512', signature, body }, ['shh'])).toBe(false);
    expect(isValid({ signature, body }, [])).toBe(false);
  });

  it('rejects a timestamp that disagrees with the header, or is not the signed one', () => {
    // Prepare
    const signature = `t=1700000000,v1=${golden}`;

    // Act
    const disagreeing = verify({ signature, timestamp: 1_700_000_001, body }, ['shh']);

    // Assess
    expect(disagreeing.checks[0]?.reason).toBe('timestamp differs from the t= of the signature');
    expect(isValid({ signature: golden, timestamp: 1_700_000_001, body }, ['shh'])).toBe(false);
    expect(isValid({ signature: golden, body }, ['shh'])).toBe(false);
  });

  it('rejects unreadable signatures instead of throwing', () => {
    for (const signature of [
      'not-hex',
      't=1700000000',
      `t=abc,v1=${golden}`,
      `t=1,t=1700000000,v1=${golden}`,
      `v1=${golden.slice(0, -2)}`,
      `${golden}00`,
    ]) {
      expect(isValid({ signature, body }, ['shh'])).toBe(false);
    }
    expect(verify({ signature: 'not-hex', body }, ['shh']).checks[0]?.reason).toMatch(
      /^no v1 digest could be read/,
    );
  });
});

describe('freshness (tolerance_seconds)', () => {
  const body = '{}';
  const signedAt = (seconds: number) => hmacHeaderSignature(['k'], 'sha256', seconds, body);

  it.each([
    ['now', NOW_SECONDS, true],
    ['exactly the tolerance ago', NOW_SECONDS - 300, true],
    ['just past it', NOW_SECONDS - 301, false],
    ['as far in the future', NOW_SECONDS + 301, false],
  ])('judges a signature made %s', (_case, seconds, valid) => {
    expect(isValid({ signature: signedAt(seconds), body, tolerance_seconds: 300 }, ['k'])).toBe(
      valid,
    );
  });

  it('says how old a stale signature is', () => {
    // Act
    const result = verify(
      { signature: signedAt(NOW_SECONDS - 3600), body, tolerance_seconds: 300 },
      ['k'],
    );

    // Assess
    expect(result.checks[0]?.reason).toBe(
      'the timestamp is 3600 seconds old, outside tolerance_seconds (300)',
    );
  });

  it('is not checked without tolerance_seconds: a pasted sample may be old', () => {
    expect(isValid({ signature: signedAt(1_000_000_000), body }, ['k'])).toBe(true);
  });

  it('cannot be checked on a digest without a timestamp', () => {
    // Prepare
    const digest = createHmac('sha256', 'k').update(body).digest('hex');

    // Act
    const result = verify({ signature: digest, body, tolerance_seconds: 300 }, ['k']);

    // Assess
    expect(result.checks[0]).toMatchObject({
      valid: false,
      reason: 'carries no timestamp to check tolerance_seconds against',
    });
  });
});

describe('a delivery’s headers, as the receiver got them', () => {
  const body = '{"event_type":"ticket.created"}';
  const deliveryId = '01939a7e-1f2b-7c3d-8e4f-5a6b7c8d9e0f';

  const headersOf = (secrets: string[], security: Security = NONE, timestamp = NOW_SECONDS) =>
    deliveryHeaders({
      webhook: { webhook_id: WEBHOOK_ID, security, custom_headers: null },
      event: {
        event_id: 'evt-1',
        event_type: 'ticket.created',
        tenant_id: 'acme',
        occurred_at: NOW.toISOString(),
        entity_type: 'ticket',
        data: {},
      },
      deliveryId,
      attempt: 1,
      timestamp,
      body,
      contentType: 'application/json',
      secrets,
      userAgent: 'Hookline/1.0',
    });

  it('checks every signature a delivery carries in their order, the hmac_signature header with its algorithm', () => {
    // Prepare
    const secret = whsec();
    const security: Security = {
      type: 'hmac_signature',
      algorithm: 'sha512',
      signature_header: 'X-Sig',
    };

    // Act
    const result = verify({ headers: headersOf([secret], security), body }, [secret], security);

    // Assess
    expect(result).toEqual({
      valid: true,
      checks: [
        { source: 'headers.X-Sig', scheme: 'alga', valid: true, reason: null },
        { source: 'headers.X-Alga-Signature', scheme: 'alga', valid: true, reason: null },
        {
          source: 'headers.webhook-signature',
          scheme: 'standard_webhooks',
          valid: true,
          reason: null,
        },
      ],
    });
  });

  it('reads header names in any case, and accepts any secret of a rotation', () => {
    // Prepare
    const [current, previous] = [whsec(), whsec()];
    const headers = Object.fromEntries(
      Object.entries(headersOf([current, previous])).map(([name, value]) => [
        name.toUpperCase(),
        value,
      ]),
    );

    // Act / Assess
    expect(isValid({ headers, body }, [previous])).toBe(true);
    expect(isValid({ headers, body }, [whsec()])).toBe(false);
  });

  it('is invalid when any of them fails: every signature covers the same body', () => {
    // Prepare
    const secret = whsec();
    const headers = {
      ...headersOf([secret]),
      'webhook-signature': `v1,${Buffer.alloc(32).toString('base64')}`,
    };

    // Act
    const result = verify({ headers, body }, [secret]);

    // Assess
    expect(result.valid).toBe(false);
    expect(result.checks.map((check) => check.valid)).toEqual([true, false]);
  });

  it('rejects a tampered body, and a Standard Webhooks signature without its id or timestamp', () => {
    // Prepare
    const secret = whsec();
    const { 'webhook-id': _id, ...withoutId } = headersOf([secret]);

    // Act
    const tampered = verify({ headers: headersOf([secret]), body: `${body} ` }, [secret]);
    const idless = verify({ headers: withoutId, body }, [secret]);

    // Assess
    expect(tampered.checks.every((check) => !check.valid)).toBe(true);
    expect(idless.checks.at(-1)?.reason).toBe(
      'needs the webhook-id and webhook-timestamp headers too',
    );
  });

  it('applies the tolerance to the Standard Webhooks timestamp too', () => {
    // Prepare
    const secret = whsec();
    const headers = headersOf([secret], NONE, NOW_SECONDS - 600);

    // Act
    const result = verify({ headers, body, tolerance_seconds: 300 }, [secret]);

    // Assess
    expect(result.valid).toBe(false);
    expect(result.checks.map((check) => check.reason)).toEqual([
      'the timestamp is 600 seconds old, outside tolerance_seconds (300)',
      'the timestamp is 600 seconds old, outside tolerance_seconds (300)',
    ]);
  });

  it('is refused without a signature header of the webhook', () => {
    expect(() =>
      verify({ headers: { 'content-type': 'application/json', 'X-Sig': 't=1,v1=ab' }, body }, [
        'k',
      ]),
    ).toThrowError(ValidationError);
  });
});

describe('signatures made by the public libraries', () => {
  const body = '{"type":"invoice.paid","amount":1250}';
  const messageId = 'msg_2xYzAbCdEf';
  const signedAt = new Date(NOW.getTime() - 5000);

  const libraries = [
    {
      name: 'standardwebhooks',
      make: (key: string | Uint8Array, raw?: boolean) =>
        new StandardWebhook(key, raw ? { format: 'raw' } : undefined),
    },
    {
      name: 'svix',
      make: (key: string | Uint8Array, raw?: boolean) =>
        new SvixWebhook(key, raw ? { format: 'raw' } : undefined),
    },
  ];

  const headersFor = (signature: string, prefix = 'webhook') => ({
    [`${prefix}-id`]: messageId,
    [`${prefix}-timestamp`]: String(Math.floor(signedAt.getTime() / 1000)),
    [`${prefix}-signature`]: signature,
  });

  it.each(libraries)('are valid from $name with a whsec_ secret', ({ make }) => {
    // Prepare
    const secret = whsec();
    const signature = make(secret).sign(messageId, signedAt, body);

    // Act / Assess
    expect(
      isValid({ headers: headersFor(signature), body, tolerance_seconds: 300 }, [secret]),
    ).toBe(true);
    expect(isValid({ headers: headersFor(signature), body }, [whsec()])).toBe(false);
  });

  it.each(libraries)(
    'are valid from $name in raw mode with a plain secret, keyed by its UTF-8 bytes',
    ({ make }) => {
      // Prepare
      const secret = 'plain-hmac-secret-1234';
      const signature = make(Buffer.from(secret, 'utf8'), true).sign(messageId, signedAt, body);

      // Act / Assess
      expect(isValid({ headers: headersFor(signature), body }, [secret])).toBe(true);
    },
  );

  it.each(libraries)(
    'are valid from $name among several space-separated signatures',
    ({ make }) => {
      // Prepare: a rotation, as a sender holding both secrets signs it.
      const [current, previous] = [whsec(), whsec()];
      const both = [current, previous].map((secret) =>
        make(secret).sign(messageId, signedAt, body),
      );

      // Act / Assess
      for (const secret of [current, previous]) {
        expect(isValid({ headers: headersFor(both.join(' ')), body }, [secret])).toBe(true);
      }
      expect(isValid({ headers: headersFor(both.join(' ')), body }, [whsec()])).toBe(false);
    },
  );

  it('are read under svix- header names too, as the svix library sends them', () => {
    // Prepare
    const secret = whsec();
    const signature = new SvixWebhook(secret).sign(messageId, signedAt, body);

    // Act
    const result = verify({ headers: headersFor(signature, 'svix'), body }, [secret]);

    // Assess
    expect(result.checks).toEqual([
      { source: 'headers.svix-signature', scheme: 'standard_webhooks', valid: true, reason: null },
    ]);
  });
});

describe('verifyRequestSchema', () => {
  const parse = (input: Record<string, unknown>) =>
    v.safeParse(
      verifyRequestSchema,
      { webhook_id: WEBHOOK_ID, body: '{}', ...input },
      { abortPipeEarly: true },
    );
  const problemsOf = (input: Record<string, unknown>) =>
    Object.fromEntries(
      (parse(input).issues ?? []).map((issue) => [v.getDotPath(issue), issue.message]),
    );

  it('takes the request as before, reading a numeric-string timestamp', () => {
    expect(parse({ signature: 'abc', timestamp: '1700000000' }).output).toEqual({
      webhook_id: WEBHOOK_ID,
      body: '{}',
      signature: 'abc',
      timestamp: 1_700_000_000,
    });
  });

  it('takes headers and a tolerance instead', () => {
    expect(
      parse({ headers: { 'webhook-signature': 'v1,abc' }, tolerance_seconds: 300 }).success,
    ).toBe(true);
  });

  it('explains each bad field', () => {
    expect(
      problemsOf({
        algorithm: 'md5',
        signature: '',
        timestamp: 1_700_000_000_000,
        body: 'x'.repeat(256 * 1024 + 1),
        webhook_id: 'nope',
        tolerance_seconds: 0,
        extra: true,
      }),
    ).toMatchObject({
      algorithm: 'must be one of sha1, sha256, sha512',
      signature: 'must not be empty',
      timestamp: 'must be in seconds, not milliseconds',
      body: 'must be at most 256 KiB',
      webhook_id: 'must be a UUID',
      tolerance_seconds: 'must be an integer from 1 to 2592000',
      extra: expect.any(String),
    });
  });

  it.each([
    [{}, 'signature', 'is required unless headers are given'],
    [
      { signature: 'ab', headers: { 'webhook-signature': 'v1,x' } },
      'signature',
      'cannot be given with headers: send the signature in one or the other',
    ],
    [
      { headers: { 'webhook-signature': 'v1,x' }, algorithm: 'sha256' },
      'algorithm',
      "is only used with signature: with headers, each header's algorithm is known",
    ],
    [
      { headers: { 'webhook-signature': 'v1,x' }, timestamp: 1 },
      'timestamp',
      'is only used with signature: the headers carry their own timestamps',
    ],
    [
      { signature: 'v1,c2lnbmF0dXJl' },
      'signature',
      'is a Standard Webhooks signature (v1,<base64>): send it in headers, with webhook-id and webhook-timestamp',
    ],
    [
      { headers: { 'Webhook-Id': 'a', 'webhook-id': 'b' } },
      'headers',
      'names a header twice (header names are case-insensitive)',
    ],
    [{ headers: ['webhook-id'] }, 'headers', 'must be an object, not an array'],
  ])('refuses %j', (input, field, message) => {
    expect(problemsOf(input)).toEqual({ [field]: message });
  });

  it.each([-1, 1.5, '17e8', '', ' 1', true])('refuses timestamp %j', (timestamp) => {
    expect(problemsOf({ signature: 'abc', timestamp }).timestamp).toMatch(
      /^must be a Unix time in seconds/,
    );
  });
});
