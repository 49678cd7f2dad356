import { describe, expect, it } from 'vitest';
import { ValidationError } from '../errors.ts';
import { parseOrThrow } from '../validation.ts';
import { type WebhookRecord, webhookConfigSchema } from './schema.ts';
import { maskSecret } from './secrets.ts';
import { webhookView } from './view.ts';
import { applyPatch, effectiveContentType, newWebhook } from './webhook.ts';

const NOW = new Date('2026-11-26T10:00:00.000Z');
const LATER = new Date('2026-11-26T11:00:00.000Z');

const build = (overrides: Record<string, unknown> = {}): WebhookRecord =>
  newWebhook(
    'acme',
    parseOrThrow(webhookConfigSchema, {
      name: 'Orders',
      url: 'https://example.com/hook',
      event_types: ['ticket.created'],
      ...overrides,
    }),
    { webhookId: '11111111-1111-4111-8111-111111111111', now: NOW },
  );

describe('newWebhook', () => {
  it('starts with zero counters, version 1 and equal timestamps', () => {
    const webhook = build();

    expect(webhook).toMatchObject({
      webhook_id: '11111111-1111-4111-8111-111111111111',
      tenant: 'acme',
      total_deliveries: 0,
      successful_deliveries: 0,
      failed_deliveries: 0,
      created_at: NOW.toISOString(),
      updated_at: NOW.toISOString(),
      version: 1,
    });
  });

  it('takes the hmac secret as the signing secret and keeps it once', () => {
    const webhook = build({ security: { type: 'hmac_signature', secret: 'given-secret' } });

    expect(webhook.signing_secret).toBe('given-secret');
    expect(webhook.security).toEqual({
      type: 'hmac_signature',
      algorithm: 'sha256',
      signature_header: 'X-Signature',
    });
  });

  it('refuses a custom header that collides with the security header', () => {
    expect(() =>
      build({
        security: { type: 'api_key', token: 't', header_name: 'X-Key' },
        custom_headers: { 'x-key': 'v' },
      }),
    ).toThrowError(ValidationError);
    try {
      build({
        security: { type: 'basic_auth', username: 'u', password: 'p' },
        custom_headers: { Authorization: 'x' },
      });
    } catch (error) {
      expect((error as ValidationError).details).toEqual([
        {
          field: 'custom_headers.Authorization',
          message: 'collides with the basic_auth header set by security',
        },
      ]);
    }
  });

  it('refuses custom headers that differ only in case', () => {
    expect(() => build({ custom_headers: { 'X-Team': 'a', 'x-team': 'b' } })).toThrowError(
      /request is invalid/,
    );
  });
});

describe('effectiveContentType', () => {
  it.each([
    ['json', 'application/json'],
    ['xml', 'application/xml'],
    ['form_data', 'application/x-www-form-urlencoded'],
    ['custom', 'application/json'],
  ] as const)('defaults %s to %s', (format, type) => {
    expect(effectiveContentType({ payload_format: format, content_type: null })).toBe(type);
  });

  it('prefers the configured one', () => {
    expect(effectiveContentType({ payload_format: 'custom', content_type: 'text/csv' })).toBe(
      'text/csv',
    );
  });
});

describe('applyPatch', () => {
  it('changes nothing for an empty patch', () => {
    expect(applyPatch(build(), {}, LATER)).toBeUndefined();
  });

  it('returns only the changed attributes, never the counters', () => {
    const applied = applyPatch(build(), { name: 'New', description: null }, LATER);

    expect(applied?.changes).toEqual({
      name: 'New',
      description: null,
      updated_at: LATER.toISOString(),
    });
    expect(applied?.record).toMatchObject({ name: 'New', description: null, version: 2 });
  });

  it('gives a new receiver, or one switched back on, a fresh circuit and lane', () => {
    const tripped = {
      ...build(),
      circuit_opened_at: NOW.toISOString(),
      circuit_failures: 5,
      lane: 'standard' as const,
    };
    const reset = {
      circuit_failures: null,
      circuit_opened_at: null,
      circuit_retry_at: null,
      circuit_reopens: null,
      circuit_probe_at: null,
      circuit_last_failure: null,
      lane: null,
      lane_since: null,
    };
    expect(
      applyPatch(tripped, { url: 'https://other.example/hook' }, LATER)?.changes,
    ).toMatchObject(reset);
    expect(
      applyPatch({ ...tripped, is_active: false }, { is_active: true }, LATER)?.changes,
    ).toMatchObject(reset);
    expect(applyPatch(tripped, { name: 'Renamed' }, LATER)?.changes).not.toHaveProperty('lane');
    expect(applyPatch(tripped, { url: tripped.url }, LATER)?.changes).not.toHaveProperty('lane');
  });

  it('keeps secrets sent back masked', () => {
    const current = build({
      security: {
        type: 'oauth2',
        client_id: 'c',
        client_secret: 'client-secret-0001',
        token_url: 'https://a.example/t',
      },
      secret_token: 'secret-token-0002',
    });

    const applied = applyPatch(
      current,
      {
        security: {
          type: 'oauth2',
          client_id: 'c2',
          client_secret: maskSecret('client-secret-0001'),
          token_url: 'https://a.example/t',
        },
        secret_token: maskSecret('secret-token-0002'),
      },
      LATER,
    );

    expect(applied?.record.security).toMatchObject({
      client_id: 'c2',
      client_secret: 'client-secret-0001',
    });
    expect(applied?.record.secret_token).toBe('secret-token-0002');
  });

  it('takes a masked-looking value as new when the type changed', () => {
    const current = build({ security: { type: 'bearer_token', token: 'bearer-token-1234' } });

    const applied = applyPatch(
      current,
      { security: { type: 'api_key', token: '****1234', header_name: 'X-K' } },
      LATER,
    );

    expect(applied?.record.security).toEqual({
      type: 'api_key',
      token: '****1234',
      header_name: 'X-K',
    });
  });

  it('switches the signing secret when a new hmac secret is given, and only then', () => {
    const current = build({ security: { type: 'hmac_signature', secret: 'first-secret-value' } });

    const same = applyPatch(
      current,
      { security: { type: 'hmac_signature', algorithm: 'sha1', signature_header: 'X-S' } },
      LATER,
    );
    const changed = applyPatch(
      current,
      {
        security: {
          type: 'hmac_signature',
          secret: 'second-secret-value',
          algorithm: 'sha256',
          signature_header: 'X-S',
        },
      },
      LATER,
    );

    expect(same?.record.signing_secret).toBe('first-secret-value');
    expect(same?.changes.signing_secret).toBeUndefined();
    expect(changed?.record.signing_secret).toBe('second-secret-value');
    expect(changed?.changes.signing_secret).toBe('second-secret-value');
  });

  it('checks the merged result across fields', () => {
    const current = build({ custom_headers: { 'X-Key': 'v' } });

    expect(() =>
      applyPatch(
        current,
        { security: { type: 'api_key', token: 't', header_name: 'x-key' } },
        LATER,
      ),
    ).toThrowError(ValidationError);
  });
});

describe('webhookView', () => {
  it('reveals the signing secret only when asked', () => {
    const webhook = build();

    expect(webhookView(webhook).signing_secret).toBe(maskSecret(webhook.signing_secret));
    expect(webhookView(webhook, { revealSigningSecret: true }).signing_secret).toBe(
      webhook.signing_secret,
    );
  });

  it('never carries the version or storage keys', () => {
    expect(Object.keys(webhookView(build()))).not.toContain('version');
  });
});

describe('maskSecret', () => {
  it('shows the last four characters of long secrets and nothing of short ones', () => {
    expect(maskSecret('abcdefghijkl')).toBe('****ijkl');
    expect(maskSecret('abcdefghijk')).toBe('********');
    expect(maskSecret('abc')).toBe('********');
  });
});
