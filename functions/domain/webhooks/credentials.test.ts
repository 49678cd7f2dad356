import { describe, expect, it } from 'vitest';
import { ForbiddenError } from '../errors.ts';
import { parseOrThrow } from '../validation.ts';
import { assertCredentialsMayReach } from './credentials.ts';
import { type WebhookRecord, webhookConfigSchema, webhookPatchSchema } from './schema.ts';
import { maskSecret } from './secrets.ts';
import { applyPatch, newWebhook } from './webhook.ts';

/** The rule that a stored credential goes only where it was saved to go (applyPatch). */

const NOW = new Date('2026-11-26T10:00:00.000Z');
const LATER = new Date('2026-11-26T11:00:00.000Z');
const URL_SAVED = 'https://receiver.example/hook';
const ELSEWHERE = 'https://attacker.example/collect';
const PASSWORD = 'stored-password-1234';
const TOKEN = 'stored-token-abcd';
const CLIENT_SECRET = 'stored-client-secret-wxyz';
const TOKEN_URL = 'https://auth.example/oauth/token';

const basicAuth = { type: 'basic_auth', username: 'hook', password: PASSWORD };
const bearer = { type: 'bearer_token', token: TOKEN };
const oauth2 = {
  type: 'oauth2',
  client_id: 'hookline',
  client_secret: CLIENT_SECRET,
  token_url: TOKEN_URL,
};

const SECRET_TOKEN = 'stored-secret-token-9876';

const stored = (
  security: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): WebhookRecord =>
  newWebhook(
    'acme',
    parseOrThrow(webhookConfigSchema, {
      name: 'Orders',
      url: URL_SAVED,
      event_types: ['ticket.created'],
      security,
      ...extra,
    }),
    { webhookId: '11111111-1111-4111-8111-111111111111', now: NOW },
  );

/** Applies a PUT body as the route does: parsed by the patch schema first. */
const put = (current: WebhookRecord, body: Record<string, unknown>, mayRedirect = false) =>
  applyPatch(current, parseOrThrow(webhookPatchSchema, body), LATER, {
    mayRedirectCredentials: mayRedirect,
  });

const refusal = (run: () => unknown): ForbiddenError => {
  try {
    run();
  } catch (error) {
    if (error instanceof ForbiddenError) return error;
    throw error;
  }
  throw new Error('expected a ForbiddenError');
};

describe('a stored credential and a new destination', () => {
  it.each([
    ['basic_auth, url alone', basicAuth, { url: ELSEWHERE }, 'security.password', 'url'],
    [
      'basic_auth sent back masked',
      basicAuth,
      { url: ELSEWHERE, security: { ...basicAuth, password: maskSecret(PASSWORD) } },
      'security.password',
      'url',
    ],
    ['bearer_token, url alone', bearer, { url: ELSEWHERE }, 'security.token', 'url'],
    [
      'api_key sent back masked',
      { type: 'api_key', token: TOKEN, header_name: 'X-Key' },
      { url: ELSEWHERE, security: { type: 'api_key', token: maskSecret(TOKEN) } },
      'security.token',
      'url',
    ],
    [
      'oauth2 with a new token_url',
      oauth2,
      { security: { ...oauth2, client_secret: maskSecret(CLIENT_SECRET), token_url: ELSEWHERE } },
      'security.client_secret',
      'security.token_url',
    ],
    [
      'oauth2 with a new url: the token it buys would go there',
      oauth2,
      { url: ELSEWHERE },
      'security.client_secret',
      'url',
    ],
    [
      'another path on the same host, which may be another owner',
      basicAuth,
      { url: 'https://receiver.example/someone-else' },
      'security.password',
      'url',
    ],
    [
      'another scheme on the same host',
      basicAuth,
      { url: 'http://receiver.example/hook' },
      'security.password',
      'url',
    ],
  ])('is refused: %s', (_case, security, body, field, target) => {
    // Prepare
    const current = stored(security);

    // Act
    const error = refusal(() => put(current, body));

    // Assess
    expect(error.message).toBe(
      `The stored ${field} would reach a new ${target}: send ${field} again in clear, or use an API key with the manage_security permission`,
    );
    expect(error.details).toEqual([
      {
        field,
        message: `is kept from the stored webhook (sent back masked, or left out), so it may not reach a new ${target}`,
      },
    ]);
  });

  it('names both destinations when both change', () => {
    const error = refusal(() =>
      put(stored(oauth2), {
        url: ELSEWHERE,
        security: { ...oauth2, client_secret: maskSecret(CLIENT_SECRET), token_url: ELSEWHERE },
      }),
    );

    expect(error.message).toContain('would reach a new security.token_url and url');
  });

  it.each([
    ['the secret sent again in clear', basicAuth, { url: ELSEWHERE, security: basicAuth }],
    [
      'a new secret',
      bearer,
      { url: ELSEWHERE, security: { ...bearer, token: 'a-brand-new-token' } },
    ],
    ['no credential any more', basicAuth, { url: ELSEWHERE, security: { type: 'none' } }],
    [
      'an hmac secret, which never leaves the service',
      { type: 'hmac_signature', secret: 'hmac-secret-value-1234' },
      { url: ELSEWHERE },
    ],
    [
      'the same URL spelled differently',
      basicAuth,
      { url: 'HTTPS://Receiver.Example:443/hook#top' },
    ],
    [
      'other oauth2 settings, the endpoints unchanged',
      oauth2,
      {
        security: {
          ...oauth2,
          client_id: 'other',
          scope: 'read',
          client_secret: maskSecret(CLIENT_SECRET),
        },
      },
    ],
    ['a change of name', basicAuth, { name: 'Renamed' }],
  ])('is allowed: %s', (_case, security, body) => {
    expect(put(stored(security), body)).toBeDefined();
  });

  it('lets a key with manage_security move a kept secret', () => {
    // Prepare
    const current = stored(oauth2);

    // Act
    const applied = put(current, { url: ELSEWHERE }, true);

    // Assess
    expect(applied?.record).toMatchObject({
      url: ELSEWHERE,
      security: { client_secret: CLIENT_SECRET, token_url: TOKEN_URL },
    });
  });

  it('refuses by default, when the caller says nothing of its rights', () => {
    const current = stored(basicAuth);

    expect(() => applyPatch(current, { url: ELSEWHERE }, LATER)).toThrowError(ForbiddenError);
  });
});

describe('a stored secret_token and a new url', () => {
  const withToken = (security: Record<string, unknown> = { type: 'none' }) =>
    stored(security, { secret_token: SECRET_TOKEN });

  it.each([
    ['url alone', { url: ELSEWHERE }],
    ['sent back masked', { url: ELSEWHERE, secret_token: maskSecret(SECRET_TOKEN) }],
  ])('is refused: %s', (_case, body) => {
    // Act
    const error = refusal(() => put(withToken(), body));

    // Assess
    expect(error.message).toBe(
      'The stored secret_token would reach a new url: send secret_token again in clear, or use an API key with the manage_security permission',
    );
    expect(error.details).toEqual([
      {
        field: 'secret_token',
        message:
          'is kept from the stored webhook (sent back masked, or left out), so it may not reach a new url',
      },
    ]);
  });

  it('is named with the security credential when both would move', () => {
    // Act
    const error = refusal(() => put(withToken(basicAuth), { url: ELSEWHERE }));

    // Assess
    expect(error.message).toBe(
      'The stored security.password and secret_token would reach a new url: send security.password and secret_token again in clear, or use an API key with the manage_security permission',
    );
    expect(error.details?.map(({ field }) => field)).toEqual(['security.password', 'secret_token']);
  });

  it.each([
    ['sent again in clear', { url: ELSEWHERE, secret_token: SECRET_TOKEN }],
    ['replaced', { url: ELSEWHERE, secret_token: 'a-brand-new-token' }],
    ['removed', { url: ELSEWHERE, secret_token: null }],
  ])('is allowed: %s', (_case, body) => {
    expect(put(withToken(), body)).toBeDefined();
  });

  it('follows a new url for a key with manage_security', () => {
    expect(put(withToken(), { url: ELSEWHERE }, true)?.record.secret_token).toBe(SECRET_TOKEN);
  });
});

describe('a test sent to override_url', () => {
  it.each([
    ['basic_auth', basicAuth, {}, 'security.password'],
    ['bearer_token', bearer, {}, 'security.token'],
    ['oauth2: the token it buys would go there', oauth2, {}, 'security.client_secret'],
    ['a secret_token', { type: 'none' }, { secret_token: SECRET_TOKEN }, 'secret_token'],
  ])('is refused with a stored %s', (_case, security, extra, field) => {
    // Act
    const error = refusal(() =>
      assertCredentialsMayReach(stored(security, extra), ELSEWHERE, false),
    );

    // Assess
    expect(error.message).toBe(
      `The stored ${field} would reach override_url, which is not the webhook's url: test without override_url, or use an API key with the manage_security permission`,
    );
    expect(error.details).toEqual([
      {
        field: 'override_url',
        message: `is not the webhook's url, so the stored ${field} may not go to it`,
      },
    ]);
  });

  it.each([
    ['no credential', { type: 'none' }, ELSEWHERE, false],
    [
      'an hmac secret, which never leaves the service',
      { type: 'hmac_signature', secret: 'hmac-secret-value-1234' },
      ELSEWHERE,
      false,
    ],
    [
      'the saved url spelled differently',
      basicAuth,
      'HTTPS://Receiver.Example:443/hook#top',
      false,
    ],
    ['a key with manage_security', basicAuth, ELSEWHERE, true],
  ])('is allowed with %s', (_case, security, url, mayRedirect) => {
    expect(() => assertCredentialsMayReach(stored(security), url, mayRedirect)).not.toThrow();
  });
});
