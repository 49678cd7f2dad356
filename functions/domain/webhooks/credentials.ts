import { ForbiddenError } from '../errors.ts';
import type { Security, WebhookPatch, WebhookRecord } from './schema.ts';

/**
 * The rule that keeps stored credentials where they were saved to go: what a
 * PUT may change about their destinations, and who may change it.
 */

/**
 * A credential the service sends, and where each goes: basic-auth passwords,
 * bearer or api_key tokens and the secret_token to the receiver; an OAuth2
 * client secret to the token endpoint, and the token it buys to the
 * receiver. (An hmac secret never leaves the service: only signatures made
 * with it do.) `field` is its path in the webhook.
 */
interface SentCredential {
  field: string;
  secret: string;
  destinations: { field: string; url: string }[];
}

const securityCredential = (security: Security, url: string): SentCredential | undefined => {
  const receiver = { field: 'url', url };
  switch (security.type) {
    case 'basic_auth':
      return { field: 'security.password', secret: security.password, destinations: [receiver] };
    case 'bearer_token':
    case 'api_key':
      return { field: 'security.token', secret: security.token, destinations: [receiver] };
    case 'oauth2':
      return {
        field: 'security.client_secret',
        secret: security.client_secret,
        destinations: [{ field: 'security.token_url', url: security.token_url }, receiver],
      };
    default:
      return undefined;
  }
};

type Destined = Pick<WebhookRecord, 'security' | 'url'> &
  Partial<Pick<WebhookRecord, 'secret_token'>>;

const sentCredentials = (webhook: Destined): SentCredential[] => {
  const security = securityCredential(webhook.security, webhook.url);
  const token = webhook.secret_token
    ? {
        field: 'secret_token',
        secret: webhook.secret_token,
        destinations: [{ field: 'url', url: webhook.url }],
      }
    : undefined;
  return [security, token].filter((credential) => credential !== undefined);
};

/** Where a request goes: the URL as sent, the fragment (never sent) left out. */
const destination = (url: string): string => {
  if (!URL.canParse(url)) return url;
  const parsed = new URL(url);
  parsed.hash = '';
  return parsed.href;
};

/** Whether the request itself carries this credential in clear: then the caller knows it. */
const sentInClear = (patch: WebhookPatch, credential: SentCredential, url: string): boolean =>
  credential.field === 'secret_token'
    ? patch.secret_token === credential.secret
    : patch.security !== undefined &&
      securityCredential(patch.security, url)?.secret === credential.secret;

const joined = (names: readonly string[]): string => [...new Set(names)].join(' and ');

/**
 * A stored credential goes only where it was saved to go. A change that
 * would send one elsewhere (a new url, token_url) needs the credential sent
 * again in clear, proving the caller knows it, or a key with
 * manage_security; otherwise a key that may only update could point the
 * webhook at its own server, keep the masked secret, and read it there.
 * Origins are not enough: on a shared host (a hook relay, a serverless
 * platform) another path is another owner.
 */
export const assertCredentialsStay = (
  current: WebhookRecord,
  patch: WebhookPatch,
  next: WebhookRecord,
  mayRedirectCredentials: boolean,
): void => {
  if (mayRedirectCredentials) return;
  const stored = sentCredentials(current);
  const refused: { field: string; targets: string[] }[] = [];
  for (const after of sentCredentials(next)) {
    // A new secret is not a stored one; and one the request sent in clear, the
    // caller knows already. Only a secret left out or sent back masked is kept.
    const before = stored.find(
      (credential) => credential.field === after.field && credential.secret === after.secret,
    );
    if (!before || sentInClear(patch, after, next.url)) continue;
    const moved = after.destinations.filter(
      ({ field, url }) =>
        !before.destinations.some(
          (earlier) => earlier.field === field && destination(earlier.url) === destination(url),
        ),
    );
    if (moved.length > 0) refused.push({ field: after.field, targets: moved.map((d) => d.field) });
  }
  if (refused.length === 0) return;
  const fields = joined(refused.map(({ field }) => field));
  throw new ForbiddenError(
    `The stored ${fields} would reach a new ${joined(refused.flatMap(({ targets }) => targets))}: send ${fields} again in clear, or use an API key with the manage_security permission`,
    refused.map(({ field, targets }) => ({
      field,
      message: `is kept from the stored webhook (sent back masked, or left out), so it may not reach a new ${joined(targets)}`,
    })),
  );
};

/**
 * The same rule for a test sent to `override_url`: the stored credentials
 * that go to the webhook's url (and an OAuth2 token, bought with its stored
 * client secret) may go to another URL only for a key with manage_security.
 * Without it a key that may only test could collect them at a server of its
 * own. Signatures go anywhere: they reveal no key, and a test's event is one
 * the key could send to the real receiver anyway.
 */
export const assertCredentialsMayReach = (
  webhook: Destined,
  overrideUrl: string,
  mayRedirectCredentials: boolean,
): void => {
  if (mayRedirectCredentials || destination(overrideUrl) === destination(webhook.url)) return;
  const sent = sentCredentials(webhook).filter(({ destinations }) =>
    destinations.some(({ field }) => field === 'url'),
  );
  if (sent.length === 0) return;
  const fields = joined(sent.map(({ field }) => field));
  throw new ForbiddenError(
    `The stored ${fields} would reach override_url, which is not the webhook's url: test without override_url, or use an API key with the manage_security permission`,
    [
      {
        field: 'override_url',
        message: `is not the webhook's url, so the stored ${fields} may not go to it`,
      },
    ],
  );
};
