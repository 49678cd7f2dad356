import { ForbiddenError } from '../errors.ts';
import type { Security, WebhookPatch, WebhookRecord } from './schema.ts';

/**
 * The rule that keeps stored credentials where they were saved to go: what a
 * PUT may change about their destinations, and who may change it.
 */

/**
 * A credential the service sends, and where each goes: basic-auth passwords
 * and bearer or api_key tokens to the receiver; an OAuth2 client secret to
 * the token endpoint, and the token it buys to the receiver. (An hmac secret
 * never leaves the service: only signatures made with it do.)
 */
interface SentCredential {
  field: string;
  secret: string;
  destinations: { field: string; url: string }[];
}

const sentCredential = (security: Security, url: string): SentCredential | undefined => {
  const receiver = { field: 'url', url };
  switch (security.type) {
    case 'basic_auth':
      return { field: 'password', secret: security.password, destinations: [receiver] };
    case 'bearer_token':
    case 'api_key':
      return { field: 'token', secret: security.token, destinations: [receiver] };
    case 'oauth2':
      return {
        field: 'client_secret',
        secret: security.client_secret,
        destinations: [{ field: 'security.token_url', url: security.token_url }, receiver],
      };
    default:
      return undefined;
  }
};

/** Where a request goes: the URL as sent, the fragment (never sent) left out. */
const destination = (url: string): string => {
  if (!URL.canParse(url)) return url;
  const parsed = new URL(url);
  parsed.hash = '';
  return parsed.href;
};

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
  const before = sentCredential(current.security, current.url);
  const after = sentCredential(next.security, next.url);
  if (before === undefined || after === undefined) return;
  // A new secret is not a stored one; and one the request sent in clear, the
  // caller knows already. Only a secret left out or sent back masked is kept.
  if (before.field !== after.field || before.secret !== after.secret) return;
  if (patch.security && sentCredential(patch.security, next.url)?.secret === before.secret) return;
  const moved = after.destinations.filter(
    ({ field, url }) =>
      !before.destinations.some(
        (earlier) => earlier.field === field && destination(earlier.url) === destination(url),
      ),
  );
  if (moved.length === 0) return;
  const targets = moved.map(({ field }) => field).join(' and ');
  throw new ForbiddenError(
    `The stored security.${after.field} would reach a new ${targets}: send security.${after.field} again in clear, or use an API key with the manage_security permission`,
    [
      {
        field: `security.${after.field}`,
        message: `is kept from the stored webhook (sent back masked, or left out), so it may not reach a new ${targets}`,
      },
    ],
  );
};
