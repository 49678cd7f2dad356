import * as v from 'valibot';
import type { WebhookRecord } from '../webhooks/schema.ts';
import { redactHeaders } from './headers.ts';
import {
  type DeliveryEvent,
  ERROR_CLASSES,
  failedSend,
  type OutgoingRequest,
  type SendResult,
} from './model.ts';
import { PayloadError } from './payload.ts';
import type { OAuth2TokenSource, Sender } from './ports.ts';
import type { AttemptRecord } from './record.ts';
import { deliveryRequest } from './request.ts';

/**
 * One attempt of one delivery: build the body, sign it, authenticate, send,
 * and describe what happened as the attempt record the history keeps. Used
 * by queued deliveries and by the synchronous test route alike.
 */

const errorClassSchema = v.picklist(ERROR_CLASSES);

/**
 * What an attempt record keeps, in UTF-8 bytes. A delivery holds up to 20
 * attempts and its event (at most 128 KiB) in one DynamoDB item, which
 * cannot pass 400 KB: 20 x (8 + 2 + 2) KiB of attempts leaves room.
 */
const MAX_STORED_BODY_BYTES = 8192;
const MAX_STORED_HEADER_BYTES = 2048;

/** The longest prefix of `text` within `maxBytes` of UTF-8, never splitting a character. */
const capText = (text: string, maxBytes: number): string => {
  if (Buffer.byteLength(text, 'utf8') <= maxBytes) return text;
  const cut = Buffer.from(text, 'utf8').subarray(0, maxBytes).toString('utf8');
  // A character cut in two decodes as U+FFFD at the end; drop it.
  return cut.endsWith('\uFFFD') ? cut.slice(0, -1) : cut;
};

/** Headers in order until the budget is spent; the rest are dropped, and a value may be cut. */
const capHeaders = (headers: Record<string, string>): Record<string, string> => {
  const kept: [string, string][] = [];
  let budget = MAX_STORED_HEADER_BYTES;
  for (const [name, value] of Object.entries(headers)) {
    const room = budget - Buffer.byteLength(name, 'utf8');
    if (room <= 0) break;
    const stored = capText(value, room);
    kept.push([name, stored]);
    budget = room - Buffer.byteLength(stored, 'utf8');
  }
  // fromEntries defines own properties: a header named __proto__ stays a header.
  return Object.fromEntries(kept);
};

export interface AttemptDependencies {
  sender: Sender;
  tokens: OAuth2TokenSource;
  userAgent: string;
}

export interface AttemptInput {
  webhook: WebhookRecord;
  event: DeliveryEvent;
  deliveryId: string;
  attempt: number;
  now: Date;
  /** Caps the webhook's own timeout, for callers with a deadline of their own. */
  maxTimeoutMs?: number | undefined;
}

/** A token endpoint gets less time than a receiver: it answers from a cache, or it is down. */
const MAX_TOKEN_TIMEOUT_MS = 10_000;

export interface AttemptResult {
  record: AttemptRecord;
  result: SendResult;
}

export const performAttempt = async (
  deps: AttemptDependencies,
  input: AttemptInput,
): Promise<AttemptResult> => {
  const { webhook, event, deliveryId, attempt, now } = input;
  const timeoutMs = Math.min(webhook.retry_config.timeout, input.maxTimeoutMs ?? Infinity);
  const options = { timeoutMs, verifySsl: webhook.verify_ssl };
  const tokenOptions = { ...options, timeoutMs: Math.min(timeoutMs, MAX_TOKEN_TIMEOUT_MS) };
  let request: OutgoingRequest = { url: webhook.url, method: webhook.method, headers: {} };
  const started = now.toISOString();
  const finish = (result: SendResult): AttemptResult => ({
    result,
    record: {
      attempt,
      started_at: started,
      duration_ms: result.duration_ms,
      request: {
        url: request.url,
        method: request.method,
        headers: capHeaders(redactHeaders(request.headers, webhook)),
      },
      status_code: result.status_code,
      response_headers: capHeaders(result.response_headers),
      response_body: capText(result.response_body, MAX_STORED_BODY_BYTES),
      error_class: result.error_class,
      error_message: result.error_message,
    },
  });

  let build: ReturnType<typeof deliveryRequest>;
  try {
    build = deliveryRequest({
      webhook,
      event,
      deliveryId,
      attempt,
      now,
      userAgent: deps.userAgent,
    });
  } catch (error) {
    if (error instanceof PayloadError) return finish(failedSend('config', error.message));
    throw error;
  }

  const security = webhook.security;
  if (security.type !== 'oauth2') {
    request = build();
    return finish(await deps.sender.send(request, options));
  }
  const token = await tokenOrFailure(deps.tokens, security, tokenOptions);
  if (typeof token !== 'string') return finish(token);
  request = build(token);
  const first = await deps.sender.send(request, options);
  if (first.status_code !== 401) return finish(first);
  // The receiver may have revoked the token before its expiry: fetch a new one, once.
  deps.tokens.invalidate(security);
  const fresh = await tokenOrFailure(deps.tokens, security, tokenOptions);
  if (typeof fresh !== 'string') return finish(fresh);
  request = build(fresh);
  return finish(await deps.sender.send(request, options));
};

const tokenOrFailure = async (
  tokens: OAuth2TokenSource,
  security: Parameters<OAuth2TokenSource['token']>[0],
  options: { timeoutMs: number; verifySsl: boolean },
): Promise<string | SendResult> => {
  try {
    return await tokens.token(security, options);
  } catch (error) {
    const named = error instanceof Error && 'errorClass' in error ? error.errorClass : undefined;
    const errorClass = v.is(errorClassSchema, named) ? named : 'config';
    const message = error instanceof Error ? error.message : 'token request failed';
    return failedSend(errorClass, `OAuth2 token request failed: ${message}`);
  }
};
