import * as v from 'valibot';
import { EVENT_TYPES } from '../domain/events/catalog.ts';
import { presetIdSchema, withPreset } from '../domain/presets/presets.ts';
import { parseOrThrow } from '../domain/validation.ts';
import { uuidString } from '../domain/webhooks/fields.ts';
import { listQuerySchema } from '../domain/webhooks/list.ts';
import {
  webhookConfigSchema,
  webhookPatchSchema,
  withoutReadOnlyFields,
} from '../domain/webhooks/schema.ts';
import type { WebhookService } from '../domain/webhooks/service.ts';
import { webhookView } from '../domain/webhooks/view.ts';
import type { ApiRequest } from '../http/request.ts';
import { created, json, noContent, ok } from '../http/responses.ts';
import type { Route } from '../http/router.ts';
import {
  eventTypesAnswerSchema,
  subscriptionsAnswerSchema,
  webhookAnswerSchema,
  webhookListAnswerSchema,
} from './answers.ts';

/** The webhook management routes: parse, call the service, shape the answer. Paths below /webhooks. */

const webhookParams = v.object({ id: uuidString });

const webhookIdOf = (request: ApiRequest): string =>
  parseOrThrow(webhookParams, request.params, 'The webhook id is invalid').id;

/** `template` names a chat preset (GET /webhooks/templates) whose fields the body is laid over. */
export const createBodySchema = v.strictObject({
  ...webhookConfigSchema.entries,
  template: v.optional(presetIdSchema),
});
const patchBodySchema = v.strictObject({
  ...webhookPatchSchema.entries,
  template: v.optional(presetIdSchema),
});

/** The body with its preset filled in, read-only fields dropped; `template` itself is not stored. */
export const bodyWithPreset = (body: Record<string, unknown>) =>
  withPreset(withoutReadOnlyFields(body));

export const webhookRoutes = (webhooks: WebhookService): Route[] => [
  {
    method: 'GET',
    path: '',
    permission: 'read',
    docs: {
      summary: 'List webhooks',
      description:
        'Filter, sort and page the tenant’s webhooks. Text filters are case-insensitive substrings; date bounds are inclusive.',
      query: listQuerySchema,
      success: { status: 200, description: 'A page of webhooks', schema: webhookListAnswerSchema },
    },
    handle: async (request) => {
      const query = parseOrThrow(listQuerySchema, request.query, 'The query string is invalid');
      const page = await webhooks.list(request.principal.tenant, query);
      return json(200, {
        data: page.items.map((webhook) => webhookView(webhook)),
        pagination: page.pagination,
        meta: page.meta,
      });
    },
  },
  {
    method: 'POST',
    path: '',
    permission: 'create',
    docs: {
      summary: 'Create a webhook',
      description:
        'The answer shows `signing_secret` in clear, this once. With `"template": "<id>"` the webhook takes that chat preset’s `payload_format` and `payload_transformation` (key by key under the body’s own).',
      body: createBodySchema,
      success: { status: 201, description: 'Created', schema: webhookAnswerSchema },
      errors: [409],
    },
    handle: async (request) => {
      const { template: _preset, ...config } = parseOrThrow(
        createBodySchema,
        bodyWithPreset(request.body()),
      );
      const webhook = await webhooks.create(request.principal.tenant, config);
      return created(webhookView(webhook, { revealSigningSecret: true }));
    },
  },
  {
    method: 'GET',
    path: '/events',
    permission: 'read',
    docs: {
      summary: 'List the event types',
      success: { status: 200, description: 'The catalog', schema: eventTypesAnswerSchema },
    },
    handle: async () => ok(EVENT_TYPES),
  },
  {
    method: 'GET',
    path: '/{id}',
    permission: 'read',
    docs: {
      summary: 'Show a webhook',
      params: webhookParams,
      success: { status: 200, description: 'The webhook', schema: webhookAnswerSchema },
    },
    handle: async (request) =>
      ok(webhookView(await webhooks.get(request.principal.tenant, webhookIdOf(request)))),
  },
  {
    method: 'PUT',
    path: '/{id}',
    permission: 'update',
    docs: {
      summary: 'Update a webhook',
      description:
        'A partial update: a field given replaces the stored one whole, `null` clears an optional one, an absent one stays. Sending a kept credential to a new destination needs `manage_security` (403 otherwise).',
      params: webhookParams,
      body: patchBodySchema,
      success: { status: 200, description: 'The webhook as updated', schema: webhookAnswerSchema },
      errors: [409],
    },
    handle: async (request) => {
      const webhookId = webhookIdOf(request);
      const { template: _preset, ...patch } = parseOrThrow(
        patchBodySchema,
        bodyWithPreset(request.body()),
      );
      // Only a key that manages security may send a stored credential somewhere new.
      const rights = {
        mayRedirectCredentials: request.principal.permissions.includes('manage_security'),
      };
      return ok(
        webhookView(await webhooks.update(request.principal.tenant, webhookId, patch, rights)),
      );
    },
  },
  {
    method: 'DELETE',
    path: '/{id}',
    permission: 'delete',
    docs: {
      summary: 'Delete a webhook',
      description:
        'Its pending deliveries stop. Its delivery history is no longer reachable through the API and expires with the retention period (docs/decisions.md, "Deleting a webhook").',
      params: webhookParams,
      success: { status: 204, description: 'Deleted' },
    },
    handle: async (request) => {
      await webhooks.delete(request.principal.tenant, webhookIdOf(request));
      return noContent();
    },
  },
  {
    method: 'GET',
    path: '/{id}/subscriptions',
    permission: 'read',
    docs: {
      summary: 'Show a webhook’s event types',
      params: webhookParams,
      success: { status: 200, description: 'Its subscriptions', schema: subscriptionsAnswerSchema },
    },
    handle: async (request) => {
      const webhook = await webhooks.get(request.principal.tenant, webhookIdOf(request));
      return ok({ webhook_id: webhook.webhook_id, event_types: webhook.event_types });
    },
  },
];
