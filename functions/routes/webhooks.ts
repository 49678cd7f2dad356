import * as v from 'valibot';
import { EVENT_TYPES } from '../domain/events/catalog.ts';
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

/** The webhook management routes: parse, call the service, shape the answer. */

const webhookIdOf = (request: ApiRequest): string =>
  parseOrThrow(v.object({ id: uuidString }), request.params, 'The webhook id is invalid').id;

export const webhookRoutes = (webhooks: WebhookService): Route[] => [
  {
    method: 'GET',
    path: '',
    permission: 'read',
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
    handle: async (request) => {
      const config = parseOrThrow(webhookConfigSchema, withoutReadOnlyFields(request.body()));
      const webhook = await webhooks.create(request.principal.tenant, config);
      return created(webhookView(webhook, { revealSigningSecret: true }));
    },
  },
  {
    method: 'GET',
    path: '/events',
    permission: 'read',
    handle: async () => ok(EVENT_TYPES),
  },
  {
    method: 'GET',
    path: '/{id}',
    permission: 'read',
    handle: async (request) =>
      ok(webhookView(await webhooks.get(request.principal.tenant, webhookIdOf(request)))),
  },
  {
    method: 'PUT',
    path: '/{id}',
    permission: 'update',
    handle: async (request) => {
      const webhookId = webhookIdOf(request);
      const patch = parseOrThrow(webhookPatchSchema, withoutReadOnlyFields(request.body()));
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
    handle: async (request) => {
      await webhooks.delete(request.principal.tenant, webhookIdOf(request));
      return noContent();
    },
  },
  {
    method: 'GET',
    path: '/{id}/subscriptions',
    permission: 'read',
    handle: async (request) => {
      const webhook = await webhooks.get(request.principal.tenant, webhookIdOf(request));
      return ok({ webhook_id: webhook.webhook_id, event_types: webhook.event_types });
    },
  },
];
