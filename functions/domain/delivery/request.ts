import type { WebhookRecord } from '../webhooks/schema.ts';
import { deliveryHeaders } from './headers.ts';
import type { DeliveryEvent, OutgoingRequest } from './model.ts';
import { renderPayload } from './payload.ts';

/**
 * The request one attempt sends: the rendered body and every header, signed.
 * The one place it is made, so an attempt (queued or a test) and a preview
 * of it cannot differ.
 */

export interface DeliveryRequestInput {
  webhook: WebhookRecord;
  event: DeliveryEvent;
  deliveryId: string;
  attempt: number;
  now: Date;
  userAgent: string;
}

/** The secrets that sign now: the current one, then those still in a rotation's grace period. */
export const signingSecrets = (webhook: WebhookRecord, now: Date): string[] => [
  webhook.signing_secret,
  ...(webhook.previous_signing_secrets ?? [])
    .filter((previous) => Date.parse(previous.expires_at) > now.getTime())
    .map((previous) => previous.secret),
];

/**
 * Renders the body once (throwing PayloadError when the webhook's settings
 * cannot make one) and answers the request for an OAuth2 access token,
 * which an `oauth2` webhook needs: a receiver's 401 makes another with a
 * fresh token, the body and timestamp unchanged.
 */
export const deliveryRequest = (
  input: DeliveryRequestInput,
): ((oauth2Token?: string) => OutgoingRequest) => {
  const { webhook, event, deliveryId, attempt, now } = input;
  const payload = renderPayload(webhook, event);
  return (oauth2Token) => ({
    url: webhook.url,
    method: webhook.method,
    body: payload.body,
    headers: deliveryHeaders({
      webhook,
      event,
      deliveryId,
      attempt,
      timestamp: Math.floor(now.getTime() / 1000),
      body: payload.body,
      contentType: payload.contentType,
      secrets: signingSecrets(webhook, now),
      oauth2Token,
      userAgent: input.userAgent,
    }),
  });
};
