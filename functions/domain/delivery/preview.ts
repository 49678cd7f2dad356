import * as v from 'valibot';
import { ValidationError } from '../errors.ts';
import { ingestMessageSchema, MAX_INGEST_BODY_BYTES, parseIngestEvent } from '../events/ingest.ts';
import { sampleEvent } from '../events/samples.ts';
import { notArray } from '../webhooks/fields.ts';
import { HTTP_METHODS, type WebhookRecord } from '../webhooks/schema.ts';
import { redactHeaders, redactSignatures } from './headers.ts';
import { deliveryIdFor } from './ids.ts';
import { matchesEvent } from './matching.ts';
import { type DeliveryEvent, deliveryEventSchema } from './model.ts';
import { PayloadError } from './payload.ts';
import { deliveryRequest } from './request.ts';

/**
 * What a webhook would send for an event, without sending or storing
 * anything: the request its first attempt would make, built by the code that
 * builds every attempt's (request.ts), with credentials and signatures
 * redacted. The event is what the fan-out would make of the same producer
 * message (ingest.ts, defaults included); without data it is the catalog's
 * sample of its type.
 */

const { event_id, event_type, occurred_at, entity_type, entity_id, tags } =
  ingestMessageSchema.entries;

/** The event of a preview: a producer's message without tenant_id (the key's), all optional. */
export const previewEventSchema = notArray(
  v.strictObject({
    event_type: v.optional(event_type),
    event_id,
    occurred_at,
    entity_type,
    entity_id,
    tags,
    data: v.optional(
      notArray(
        v.pipe(
          v.record(v.string(), v.unknown()),
          v.check(
            (data) => Buffer.byteLength(JSON.stringify(data), 'utf8') <= MAX_INGEST_BODY_BYTES,
            `must be at most ${MAX_INGEST_BODY_BYTES / 1024} KiB, as an event's data is`,
          ),
        ),
      ),
    ),
  }),
);

export type PreviewEventInput = v.InferOutput<typeof previewEventSchema>;

/** An OAuth2 token stands in for the one a delivery would fetch: the header is redacted anyway. */
const PLACEHOLDER_TOKEN = 'preview';

/** What a preview answers; the API's answer is this schema's shape. */
export const deliveryPreviewSchema = v.strictObject({
  /** Null for a webhook not yet created (its headers carry the nil UUID). */
  webhook_id: v.nullable(v.string()),
  /** Whether the webhook would get this event now: active, subscribed, its event_filter passing. */
  matches: v.boolean(),
  event: deliveryEventSchema,
  /** Null when the webhook's settings cannot make a body for this event. */
  request: v.nullable(
    v.strictObject({
      method: v.picklist(HTTP_METHODS),
      url: v.string(),
      /** In the order they are sent; credentials and signature digests redacted. */
      headers: v.record(v.string(), v.string()),
      /** Null for GET and DELETE, which send none. */
      body: v.nullable(v.string()),
    }),
  ),
  /** The failure a delivery would have instead (`config`: a template that fails, say). */
  error: v.nullable(
    v.strictObject({ error_class: v.literal('config'), error_message: v.string() }),
  ),
});

export type DeliveryPreview = v.InferOutput<typeof deliveryPreviewSchema>;

export interface PreviewContext {
  now: Date;
  newId: () => string;
  userAgent: string;
}

/** The event as the fan-out would make it of this message from the webhook's tenant. */
export const previewEvent = (
  webhook: Pick<WebhookRecord, 'tenant' | 'event_types'>,
  input: PreviewEventInput,
  context: Pick<PreviewContext, 'now' | 'newId'>,
): DeliveryEvent => {
  // event_types is never empty (the schema refuses that): the fallback is for the type checker.
  const [firstType = 'custom.event'] = webhook.event_types;
  const eventType = input.event_type ?? firstType;
  const sample = input.data === undefined ? sampleEvent(eventType) : undefined;
  const message = {
    ...input,
    event_type: eventType,
    tenant_id: webhook.tenant,
    ...(sample && { data: sample.data, entity_id: input.entity_id ?? sample.entity_id }),
  };
  const parsed = parseIngestEvent(JSON.stringify(message), context);
  if (!parsed.ok) throw new ValidationError([{ field: 'event', message: parsed.reason }]);
  return parsed.event;
};

export const previewDelivery = (
  webhook: WebhookRecord,
  event: DeliveryEvent,
  context: PreviewContext,
): DeliveryPreview => {
  const { now } = context;
  const deliveryId = deliveryIdFor(
    webhook.tenant,
    event.event_id,
    webhook.webhook_id,
    now.getTime(),
  );
  const matches = matchesEvent(webhook, event);
  let build: ReturnType<typeof deliveryRequest>;
  try {
    build = deliveryRequest({
      webhook,
      event,
      deliveryId,
      attempt: 1,
      now,
      userAgent: context.userAgent,
    });
  } catch (error) {
    if (!(error instanceof PayloadError)) throw error;
    return {
      webhook_id: webhook.webhook_id,
      matches,
      event,
      request: null,
      error: { error_class: 'config', error_message: error.message },
    };
  }
  const request = build(webhook.security.type === 'oauth2' ? PLACEHOLDER_TOKEN : undefined);
  return {
    webhook_id: webhook.webhook_id,
    matches,
    event,
    request: {
      method: request.method,
      url: request.url,
      headers: redactSignatures(redactHeaders(request.headers, webhook), webhook),
      body: request.body ?? null,
    },
    error: null,
  };
};
