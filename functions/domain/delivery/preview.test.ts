import { describe, expect, it } from 'vitest';
import { EVENT_TYPES } from '../events/catalog.ts';
import { parseOrThrow } from '../validation.ts';
import { webhookConfigSchema } from '../webhooks/schema.ts';
import { newWebhook } from '../webhooks/webhook.ts';
import { REDACTED } from './headers.ts';
import { deliveryIdFor } from './ids.ts';
import { type PreviewEventInput, previewDelivery, previewEvent } from './preview.ts';
import { deliveryRequest } from './request.ts';

const NOW = new Date('2026-03-01T12:00:00.000Z');
const EVENT_ID = '3f2e1d0c-9b8a-4765-8432-10fedcba9876';
const context = { now: NOW, newId: () => EVENT_ID, userAgent: 'Hookline-Webhooks/1.0' };

const webhookOf = (config: Record<string, unknown> = {}) =>
  newWebhook(
    'acme',
    parseOrThrow(webhookConfigSchema, {
      name: 'Preview',
      url: 'https://receiver.example/hook',
      event_types: ['ticket.created'],
      ...config,
    }),
    { webhookId: '5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d', now: NOW },
  );

const preview = (config: Record<string, unknown> = {}, input: PreviewEventInput = {}) => {
  const webhook = webhookOf(config);
  return previewDelivery(webhook, previewEvent(webhook, input, context), context);
};

describe('previewEvent', () => {
  it.each(EVENT_TYPES)('has a sample of %s that the fan-out would accept', (eventType) => {
    // Act
    const event = previewEvent(webhookOf({ event_types: [eventType] }), {}, context);

    // Assess
    expect(event).toMatchObject({
      event_id: EVENT_ID,
      event_type: eventType,
      tenant_id: 'acme',
      occurred_at: NOW.toISOString(),
      entity_type: eventType.split('.')[0],
      entity_id: expect.any(String),
    });
    expect(Object.keys(event.data).length).toBeGreaterThan(0);
  });

  it('takes the given event, with the defaults a producer message gets', () => {
    // Act
    const event = previewEvent(
      webhookOf(),
      { event_type: 'invoice.paid', data: { invoice_id: 'i-1' }, occurred_at: '2026-01-01' },
      context,
    );

    // Assess
    expect(event).toEqual({
      event_id: EVENT_ID,
      event_type: 'invoice.paid',
      tenant_id: 'acme',
      occurred_at: '2026-01-01T00:00:00.000Z',
      entity_type: 'invoice',
      data: { invoice_id: 'i-1' },
    });
  });
});

describe('previewDelivery', () => {
  it('answers the request the first attempt would send, built by the same code', () => {
    // Prepare
    const webhook = webhookOf({ custom_headers: { 'X-Team': 'billing' } });
    const event = previewEvent(webhook, {}, context);
    const deliveryId = deliveryIdFor('acme', EVENT_ID, webhook.webhook_id, NOW.getTime());
    const sent = deliveryRequest({
      webhook,
      event,
      deliveryId,
      attempt: 1,
      now: NOW,
      userAgent: context.userAgent,
    })();

    // Act
    const result = previewDelivery(webhook, event, context);

    // Assess
    expect(result).toMatchObject({ webhook_id: webhook.webhook_id, matches: true, error: null });
    expect(result.request).toEqual({
      method: 'POST',
      url: 'https://receiver.example/hook',
      body: sent.body,
      headers: {
        ...sent.headers,
        'X-Alga-Signature': `t=${Math.floor(NOW.getTime() / 1000)},v1=${REDACTED}`,
        'webhook-signature': `v1,${REDACTED}`,
      },
    });
    expect(result.request?.headers['X-Alga-Delivery-Id']).toBe(deliveryId);
  });

  it.each([
    [
      'basic_auth',
      { type: 'basic_auth', username: 'u', password: 'pw-secret-1234' },
      'Authorization',
    ],
    [
      'bearer_token',
      { type: 'bearer_token', token: 'tok-secret-1234', header_name: 'X-Auth' },
      'X-Auth',
    ],
    [
      'oauth2, whose token it does not fetch',
      {
        type: 'oauth2',
        client_id: 'c',
        client_secret: 'cs-secret-1234',
        token_url: 'https://auth.example/token',
      },
      'Authorization',
    ],
  ])('redacts the credentials of %s and the secret_token', (_case, security, header) => {
    // Act
    const result = preview({ security, secret_token: 'st-secret-1234' });

    // Assess
    expect(result.request?.headers[header]).toBe(REDACTED);
    expect(result.request?.headers['X-Alga-Secret-Token']).toBe(REDACTED);
    expect(JSON.stringify(result)).not.toMatch(/secret-1234/);
  });

  it('redacts the hmac_signature header and every secret of a rotation', () => {
    // Prepare
    const webhook = webhookOf({
      security: { type: 'hmac_signature', secret: 'hmac-secret-1234', signature_header: 'X-Sig' },
    });
    webhook.previous_signing_secrets = [
      { secret: 'old-secret-1234', expires_at: '2026-03-02T00:00:00.000Z' },
    ];

    // Act
    const result = previewDelivery(webhook, previewEvent(webhook, {}, context), context);

    // Assess
    const t = Math.floor(NOW.getTime() / 1000);
    expect(result.request?.headers['X-Sig']).toBe(`t=${t},v1=${REDACTED},v1=${REDACTED}`);
    expect(result.request?.headers['webhook-signature']).toBe(`v1,${REDACTED} v1,${REDACTED}`);
  });

  it('shows no body and no Content-Type for GET', () => {
    // Act
    const result = preview({ method: 'GET' });

    // Assess
    expect(result.request?.body).toBeNull();
    expect(result.request?.headers).not.toHaveProperty('Content-Type');
  });

  it('answers the config failure a delivery would have, instead of a request', () => {
    // Act
    const result = preview({
      payload_transformation: { template: 'not {{data.ticket_id}} json' },
    });

    // Assess
    expect(result).toMatchObject({
      request: null,
      error: {
        error_class: 'config',
        error_message: 'The payload template must render JSON for payload_format json',
      },
    });
  });

  it.each([
    ['an event type it is not subscribed to', {}, { event_type: 'invoice.paid' }],
    ['a disabled webhook', { is_active: false }, {}],
    [
      'an event its filter refuses',
      { event_filter: { conditions: [{ field: 'priority', operator: 'equals', value: 'low' }] } },
      {},
    ],
  ])('says whether the webhook would get the event: not %s', (_case, config, input) => {
    // Act
    const result = preview(config, input);

    // Assess
    expect(result.matches).toBe(false);
    expect(result.request).not.toBeNull();
  });
});
