import { describe, expect, it } from 'vitest';
import { E2eSettingsError, e2eSettingsFrom, webhooksApiUrl } from './settings.ts';

const REMOTE = {
  HOOKLINE_E2E_API_URL: 'https://abc123.execute-api.eu-west-1.amazonaws.com/prod/api/v1/webhooks',
  HOOKLINE_E2E_API_KEY: 'hk_0123456789abcdef',
  HOOKLINE_E2E_EVENTS_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/webhook-events',
  HOOKLINE_E2E_DELIVERIES_DLQ_URL:
    'https://sqs.eu-west-1.amazonaws.com/123456789012/webhook-deliveries-dlq',
};

describe('e2eSettingsFrom', () => {
  it('runs against the embedded runtime, receiver on a free loopback port, by default', () => {
    expect(e2eSettingsFrom({})).toEqual({
      kind: 'embedded',
      receiver: { host: '127.0.0.1', port: 0 },
      waitMs: 15_000,
    });
  });

  it('runs against a deployment once its API URL is given', () => {
    expect(e2eSettingsFrom(REMOTE)).toEqual({
      kind: 'remote',
      apiUrl: REMOTE.HOOKLINE_E2E_API_URL,
      apiKey: REMOTE.HOOKLINE_E2E_API_KEY,
      eventsQueueUrl: REMOTE.HOOKLINE_E2E_EVENTS_QUEUE_URL,
      deliveriesDeadLetterUrl: REMOTE.HOOKLINE_E2E_DELIVERIES_DLQ_URL,
      receiver: { host: '127.0.0.1', port: 0 },
      waitMs: 60_000,
    });
  });

  it('takes where the receiver listens and the address deliveries use, together', () => {
    const settings = e2eSettingsFrom({
      ...REMOTE,
      HOOKLINE_E2E_RECEIVER_URL: 'http://host.docker.internal:4000',
      HOOKLINE_E2E_RECEIVER_LISTEN: '0.0.0.0:4000',
      HOOKLINE_E2E_WAIT_MS: '90000',
    });

    expect(settings.receiver).toEqual({
      host: '0.0.0.0',
      port: 4000,
      publicUrl: 'http://host.docker.internal:4000',
    });
    expect(settings.waitMs).toBe(90_000);
  });

  it.each([
    [{ ...REMOTE, HOOKLINE_E2E_API_KEY: '' }, /HOOKLINE_E2E_API_KEY must be too/],
    [
      { HOOKLINE_E2E_API_URL: REMOTE.HOOKLINE_E2E_API_URL },
      /HOOKLINE_E2E_API_KEY, HOOKLINE_E2E_EVENTS_QUEUE_URL, HOOKLINE_E2E_DELIVERIES_DLQ_URL/,
    ],
    [{ HOOKLINE_E2E_API_KEY: 'k' }, /HOOKLINE_E2E_API_KEY only apply with HOOKLINE_E2E_API_URL/],
    [{ ...REMOTE, HOOKLINE_E2E_API_URL: 'ftp://x' }, /HOOKLINE_E2E_API_URL must be an http/],
    [{ ...REMOTE, HOOKLINE_E2E_RECEIVER_URL: 'http://x:4000' }, /go together/],
    [
      {
        ...REMOTE,
        HOOKLINE_E2E_RECEIVER_URL: 'http://x:4000',
        HOOKLINE_E2E_RECEIVER_LISTEN: '4000',
      },
      /must be host:port/,
    ],
    [{ HOOKLINE_E2E_WAIT_MS: '1.5' }, /whole number of milliseconds/],
  ])('refuses %o', (env, message) => {
    expect(() => e2eSettingsFrom(env)).toThrow(E2eSettingsError);
    expect(() => e2eSettingsFrom(env)).toThrow(message);
  });
});

describe('webhooksApiUrl', () => {
  it.each([
    ['http://127.0.0.1:3000', 'http://127.0.0.1:3000/api/v1/webhooks'],
    ['http://127.0.0.1:3000/', 'http://127.0.0.1:3000/api/v1/webhooks'],
    ['https://a.example/prod/api/v1/webhooks/', 'https://a.example/prod/api/v1/webhooks'],
  ])('%s is %s', (given, expected) => {
    expect(webhooksApiUrl(given)).toBe(expected);
  });
});
