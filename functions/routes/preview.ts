import * as v from 'valibot';
import { deliveryPreviewSchema, previewEventSchema } from '../domain/delivery/preview.ts';
import type { DeliveryService } from '../domain/delivery/service.ts';
import { ValidationError } from '../domain/errors.ts';
import { parseOrThrow } from '../domain/validation.ts';
import { notArray, uuidString } from '../domain/webhooks/fields.ts';
import type { WebhookService } from '../domain/webhooks/service.ts';
import { ok } from '../http/responses.ts';
import type { Route } from '../http/router.ts';
import { dataOf } from './answers.ts';
import { bodyWithPreset, createBodySchema } from './webhooks.ts';

/**
 * Previews: the exact request a webhook would send for an event, secrets and
 * signatures redacted, for a saved webhook or for a webhook body not yet
 * created. They send nothing and store nothing, and show nothing a key that
 * may read the webhook cannot see already: permission `read`.
 */

const webhookParams = v.object({ id: uuidString });

const savedPreviewSchema = v.strictObject({ event: v.optional(previewEventSchema) });

const draftPreviewSchema = v.strictObject({
  webhook: notArray(createBodySchema),
  event: v.optional(previewEventSchema),
});

const previewAnswerSchema = dataOf(deliveryPreviewSchema);

const EVENT_DOCS =
  "`event` is a producer message without `tenant_id` (the key's), every field optional: `event_type` defaults to the webhook's first, `data` to the catalog's sample of that type. The answer is the request the first attempt would make (method, URL, headers in order with credentials, `secret_token` and signature digests redacted, body), whether the webhook would get the event now (`matches`), and the event used; or, when the webhook's settings cannot make a body (a template that fails), the `config` error a delivery would have. Nothing is sent or stored.";

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The draft as a create takes it: read-only fields dropped, a `template` preset filled in. */
const draftBody = (body: Record<string, unknown>): Record<string, unknown> =>
  isObject(body.webhook) ? { ...body, webhook: bodyWithPreset(body.webhook) } : body;

/** The draft's own checks name its fields; in this body they sit under `webhook`. */
const underWebhook = <T>(build: () => T): T => {
  try {
    return build();
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    throw new ValidationError(
      error.details.map(({ field, message }) => ({ field: `webhook.${field}`, message })),
      error.message,
    );
  }
};

export const previewRoutes = (webhooks: WebhookService, deliveries: DeliveryService): Route[] => [
  {
    method: 'POST',
    path: '/{id}/preview',
    permission: 'read',
    docs: {
      summary: 'Preview what a webhook would send',
      description: EVENT_DOCS,
      params: webhookParams,
      body: savedPreviewSchema,
      bodyOptional: true,
      success: {
        status: 200,
        description: 'The request it would send',
        schema: previewAnswerSchema,
      },
      errors: [404],
    },
    handle: async (request) => {
      const { id } = parseOrThrow(webhookParams, request.params, 'The path is invalid');
      const body = parseOrThrow(savedPreviewSchema, request.optionalBody());
      const webhook = await webhooks.get(request.principal.tenant, id);
      return ok(deliveries.preview(webhook, body.event));
    },
  },
  {
    method: 'POST',
    path: '/preview',
    permission: 'read',
    docs: {
      summary: 'Preview what a webhook not yet created would send',
      description: `\`webhook\` is a create body, checked as POST /webhooks checks it (a fetched webhook may be sent as it is, and \`template\` takes a chat preset). Its headers carry the nil UUID as its id, and \`webhook_id\` is null. ${EVENT_DOCS}`,
      body: draftPreviewSchema,
      success: {
        status: 200,
        description: 'The request it would send',
        schema: previewAnswerSchema,
      },
    },
    handle: async (request) => {
      const body = parseOrThrow(draftPreviewSchema, draftBody(request.body()));
      const { template: _preset, ...config } = body.webhook;
      const webhook = underWebhook(() => webhooks.draft(request.principal.tenant, config));
      return ok({ ...deliveries.preview(webhook, body.event), webhook_id: null });
    },
  },
];
