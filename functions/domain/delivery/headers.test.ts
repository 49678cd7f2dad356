import { createHmac, randomBytes } from 'node:crypto';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { Webhook as SvixWebhook } from 'svix';
import { describe, expect, it } from 'vitest';
import type { Security } from '../webhooks/schema.ts';
import {
  type DeliveryHeadersInput,
  deliveryHeaders,
  REDACTED,
  redactHeaders,
  redactSignatures,
  SECRET_TOKEN_HEADER,
} from './headers.ts';
import type { DeliveryEvent } from './model.ts';
import { verifySample } from './verify.ts';

/** Whether POST /webhooks/verify would call this X-Alga-Signature valid. */
const verifies = (signature: string, body: string, secrets: readonly string[]): boolean =>
  verifySample(
    { webhook_id: '5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d', signature, body },
    { security: { type: 'none' } },
    secrets,
    new Date(),
  ).valid;

const event: DeliveryEvent = {
  event_id: '0b6f8c1e-2d3a-4e5f-8a9b-1c2d3e4f5a6b',
  event_type: 'ticket.created',
  tenant_id: 'acme',
  occurred_at: '2026-01-02T03:04:05.000Z',
  entity_type: 'ticket',
  data: { ticket_id: 't-1' },
};

const whsec = (): string => `whsec_${randomBytes(32).toString('base64')}`;

const inputFor = (overrides: Partial<DeliveryHeadersInput> = {}): DeliveryHeadersInput => ({
  webhook: {
    webhook_id: '5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d',
    security: { type: 'none' },
    custom_headers: null,
  },
  event,
  deliveryId: '9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a',
  attempt: 2,
  timestamp: Math.floor(Date.now() / 1000),
  body: '{"ticket_id":"t-1"}',
  contentType: 'application/json',
  secrets: [whsec()],
  userAgent: 'Hookline/1.0',
  ...overrides,
});

const withSecurity = (security: Security, overrides: Partial<DeliveryHeadersInput> = {}) =>
  inputFor({ ...overrides, webhook: { ...inputFor().webhook, security } });

describe('deliveryHeaders', () => {
  it('identifies the webhook, event, delivery and attempt', () => {
    // Prepare
    const input = inputFor();

    // Act
    const headers = deliveryHeaders(input);

    // Assess
    expect(headers).toMatchObject({
      'Content-Type': 'application/json',
      'User-Agent': 'Hookline/1.0',
      'X-Alga-Webhook-Id': input.webhook.webhook_id,
      'X-Alga-Event-Id': event.event_id,
      'X-Alga-Event-Type': 'ticket.created',
      'X-Alga-Delivery-Id': input.deliveryId,
      'X-Alga-Delivery-Attempt': '2',
      'webhook-id': input.deliveryId,
      'webhook-timestamp': String(input.timestamp),
    });
    expect(Object.keys(headers)).toHaveLength(11);
  });

  it('signs X-Alga-Signature and webhook-signature so receivers can verify them', () => {
    // Prepare
    const input = inputFor();

    // Act
    const headers = deliveryHeaders(input);

    // Assess
    const signature = headers['X-Alga-Signature'] ?? '';
    expect(signature).toMatch(new RegExp(`^t=${input.timestamp},v1=[0-9a-f]{64}$`));
    expect(verifies(signature, input.body ?? '', input.secrets)).toBe(true);
    const [secret = ''] = input.secrets;
    expect(() => new StandardWebhook(secret).verify(input.body ?? '', headers)).not.toThrow();
    expect(() => new SvixWebhook(secret).verify(input.body ?? '', headers)).not.toThrow();
  });

  it('carries both secrets during a rotation; a receiver with either one accepts', () => {
    // Prepare
    const secrets = [whsec(), whsec()];
    const input = inputFor({ secrets });

    // Act
    const headers = deliveryHeaders(input);

    // Assess
    expect(headers['X-Alga-Signature']?.match(/,v1=/g)).toHaveLength(2);
    expect(headers['webhook-signature']?.split(' ')).toHaveLength(2);
    for (const secret of secrets) {
      expect(verifies(headers['X-Alga-Signature'] ?? '', input.body ?? '', [secret])).toBe(true);
      expect(() => new StandardWebhook(secret).verify(input.body ?? '', headers)).not.toThrow();
      expect(() => new SvixWebhook(secret).verify(input.body ?? '', headers)).not.toThrow();
    }
  });

  it('sends no Content-Type without a body and signs the empty string', () => {
    // Prepare
    const input = inputFor({ body: undefined });

    // Act
    const headers = deliveryHeaders(input);

    // Assess
    expect(Object.keys(headers).map((name) => name.toLowerCase())).not.toContain('content-type');
    const [secret = ''] = input.secrets;
    const expected = createHmac('sha256', secret).update(`${input.timestamp}.`).digest('hex');
    expect(headers['X-Alga-Signature']).toBe(`t=${input.timestamp},v1=${expected}`);
    expect(() => new StandardWebhook(secret).verify('', headers)).not.toThrow();
  });

  it('adds custom headers but never lets them override ours, in any case', () => {
    // Prepare
    const input = withSecurity({
      type: 'bearer_token',
      token: 'tok',
      header_name: 'Authorization',
    });
    input.webhook.custom_headers = {
      'X-Team': 'billing',
      authorization: 'Bearer stolen',
      'x-alga-event-type': 'spoofed',
      'WEBHOOK-SIGNATURE': 'v1,forged',
      'content-type': 'text/plain',
    };

    // Act
    const headers = deliveryHeaders(input);

    // Assess
    expect(headers['X-Team']).toBe('billing');
    expect(headers.Authorization).toBe('Bearer tok');
    expect(headers['X-Alga-Event-Type']).toBe('ticket.created');
    expect(headers['Content-Type']).toBe('application/json');
    const names = Object.keys(headers).map((name) => name.toLowerCase());
    expect(new Set(names).size).toBe(names.length);
    expect(Object.values(headers)).not.toContain('spoofed');
    expect(Object.values(headers)).not.toContain('v1,forged');
    expect(Object.values(headers)).not.toContain('text/plain');
  });

  it('drops a reserved custom header even when the delivery sets no such header', () => {
    // Prepare
    const input = inputFor({ body: undefined });
    input.webhook.custom_headers = { 'Content-Type': 'text/plain', Host: 'evil.example' };

    // Act
    const headers = deliveryHeaders(input);

    // Assess
    const names = Object.keys(headers).map((name) => name.toLowerCase());
    expect(names).not.toContain('content-type');
    expect(names).not.toContain('host');
  });

  it('authenticates with basic_auth', () => {
    // Act
    const headers = deliveryHeaders(
      withSecurity({ type: 'basic_auth', username: 'alice', password: 'pä:ss' }),
    );

    // Assess
    const expected = Buffer.from('alice:pä:ss', 'utf8').toString('base64');
    expect(headers.Authorization).toBe(`Basic ${expected}`);
  });

  it('authenticates with bearer_token in the configured header', () => {
    // Act
    const headers = deliveryHeaders(
      withSecurity({ type: 'bearer_token', token: 'abc', header_name: 'X-Auth' }),
    );

    // Assess
    expect(headers['X-Auth']).toBe('Bearer abc');
    expect(headers).not.toHaveProperty('Authorization');
  });

  it('authenticates with api_key as the bare token', () => {
    // Act
    const headers = deliveryHeaders(
      withSecurity({ type: 'api_key', token: 'k-123', header_name: 'X-Api-Key' }),
    );

    // Assess
    expect(headers['X-Api-Key']).toBe('k-123');
  });

  it('authenticates with the oauth2 access token, and refuses to go without one', () => {
    // Prepare
    const security: Security = {
      type: 'oauth2',
      client_id: 'id',
      client_secret: 'secret',
      token_url: 'https://auth.example/token',
    };

    // Act
    const headers = deliveryHeaders(withSecurity(security, { oauth2Token: 'at-1' }));

    // Assess
    expect(headers.Authorization).toBe('Bearer at-1');
    expect(() => deliveryHeaders(withSecurity(security))).toThrow(/access token/);
    expect(() => deliveryHeaders(withSecurity(security, { oauth2Token: 'a\r\nb' }))).toThrow();
  });

  it.each(['sha1', 'sha512'] as const)('signs the hmac_signature header with %s', (algorithm) => {
    // Prepare
    const secrets = ['current-secret', 'previous-secret'];
    const security: Security = { type: 'hmac_signature', algorithm, signature_header: 'X-Sig' };
    const input = withSecurity(security, { secrets });

    // Act
    const headers = deliveryHeaders(input);

    // Assess
    const digest = (secret: string) =>
      createHmac(algorithm, secret).update(`${input.timestamp}.${input.body}`).digest('hex');
    expect(headers['X-Sig']).toBe(
      `t=${input.timestamp},v1=${digest('current-secret')},v1=${digest('previous-secret')}`,
    );
    expect(headers['X-Alga-Signature']).toMatch(/^t=\d+,v1=[0-9a-f]{64},v1=[0-9a-f]{64}$/);
  });
});

describe('the secret_token', () => {
  it('goes in X-Alga-Secret-Token after the security header, before the signatures', () => {
    // Prepare
    const input = withSecurity({ type: 'bearer_token', token: 'abc', header_name: 'X-Auth' });
    input.webhook = { ...input.webhook, secret_token: 'st-0123456789' };

    // Act
    const headers = deliveryHeaders(input);

    // Assess
    expect(headers[SECRET_TOKEN_HEADER]).toBe('st-0123456789');
    const names = Object.keys(headers);
    expect(names.indexOf(SECRET_TOKEN_HEADER)).toBe(names.indexOf('X-Auth') + 1);
    expect(names.indexOf('X-Alga-Signature')).toBe(names.indexOf(SECRET_TOKEN_HEADER) + 1);
  });

  it('is left out when the webhook has none, and never taken from a custom header', () => {
    // Prepare
    const input = inputFor({
      webhook: {
        ...inputFor().webhook,
        secret_token: null,
        custom_headers: { 'x-alga-secret-token': 'forged' },
      },
    });

    // Act
    const headers = deliveryHeaders(input);

    // Assess
    expect(Object.keys(headers).map((name) => name.toLowerCase())).not.toContain(
      'x-alga-secret-token',
    );
  });

  it('is redacted in the stored copy, whatever the security type', () => {
    // Act
    const redacted = redactHeaders(
      { 'X-Alga-Secret-Token': 'st-0123456789', 'X-Other': 'x' },
      { security: { type: 'none' } },
    );

    // Assess
    expect(redacted).toEqual({ 'X-Alga-Secret-Token': REDACTED, 'X-Other': 'x' });
  });
});

describe('redactSignatures', () => {
  it('replaces every digest and keeps the timestamps, the number of secrets and the rest', () => {
    // Prepare
    const security: Security = {
      type: 'hmac_signature',
      algorithm: 'sha512',
      signature_header: 'X-Sig',
    };
    const headers = deliveryHeaders(withSecurity(security, { secrets: ['new-one', 'old-one'] }));

    // Act
    const redacted = redactSignatures(headers, { security });

    // Assess
    const t = headers['webhook-timestamp'];
    expect(redacted['X-Alga-Signature']).toBe(`t=${t},v1=${REDACTED},v1=${REDACTED}`);
    expect(redacted['X-Sig']).toBe(`t=${t},v1=${REDACTED},v1=${REDACTED}`);
    expect(redacted['webhook-signature']).toBe(`v1,${REDACTED} v1,${REDACTED}`);
    expect({ ...redacted, 'X-Alga-Signature': '', 'X-Sig': '', 'webhook-signature': '' }).toEqual({
      ...headers,
      'X-Alga-Signature': '',
      'X-Sig': '',
      'webhook-signature': '',
    });
  });
});

describe('redactHeaders', () => {
  it('hides credentials but keeps signatures and the rest', () => {
    // Prepare
    const webhook = {
      security: { type: 'api_key', token: 'k', header_name: 'X-Api-Key' },
    } as const;
    const headers = {
      authorization: 'Basic abc',
      'Proxy-Authorization': 'Basic def',
      Cookie: 'session=1',
      'x-api-key': 'k',
      'X-Alga-Signature': 't=1,v1=ab',
      'webhook-signature': 'v1,cd',
      'X-Team': 'billing',
    };

    // Act
    const redacted = redactHeaders(headers, webhook);

    // Assess
    expect(redacted).toEqual({
      authorization: REDACTED,
      'Proxy-Authorization': REDACTED,
      Cookie: REDACTED,
      'x-api-key': REDACTED,
      'X-Alga-Signature': 't=1,v1=ab',
      'webhook-signature': 'v1,cd',
      'X-Team': 'billing',
    });
    expect(headers.authorization).toBe('Basic abc');
  });

  it('hides a bearer token kept in a custom header name', () => {
    // Prepare
    const webhook = {
      security: { type: 'bearer_token', token: 't', header_name: 'X-Auth' },
    } as const;

    // Act
    const redacted = redactHeaders({ 'X-Auth': 'Bearer t', 'X-Other': 'x' }, webhook);

    // Assess
    expect(redacted).toEqual({ 'X-Auth': REDACTED, 'X-Other': 'x' });
  });
});
