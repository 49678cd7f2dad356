import * as v from 'valibot';
import { webhookViewSchema } from '../domain/webhooks/view.ts';
import { type OpenApiDocument, openApiDocument } from '../http/openapi.ts';
import { json } from '../http/responses.ts';
import type { PublicRoute, Route } from '../http/router.ts';
import { deliveryDetailSchema, deliverySummarySchema, errorAnswerSchema } from './answers.ts';

/**
 * GET /api/v1/openapi.json: the API's OpenAPI 3.1 document, made from the
 * route table once per cold start. Public (the stack gives it no
 * authorizer): clients and tools read it before they hold a key.
 */

export const OPENAPI_PATH = '/openapi.json';

/** Answers named once in the document and referred to by name. */
export const NAMED_SCHEMAS = {
  Error: errorAnswerSchema,
  Webhook: webhookViewSchema,
  DeliverySummary: deliverySummarySchema,
  DeliveryDetail: deliveryDetailSchema,
};

const DESCRIPTION = [
  'Hookline: register webhooks, publish events, and follow their deliveries.',
  'Every route but this document needs an `X-API-Key`; each key belongs to one tenant and carries permissions. Errors come as `{"error": {"code", "message", "details"?}}`.',
].join('\n\n');

export const openApiRoutes = (routes: readonly Route[]): Route[] => {
  let document: OpenApiDocument | undefined;
  const self: PublicRoute = {
    method: 'GET',
    path: OPENAPI_PATH,
    permission: 'public',
    docs: {
      summary: 'This document',
      description: 'The OpenAPI 3.1 description of the API, made from its route table.',
      success: {
        status: 200,
        description: 'An OpenAPI 3.1 document',
        schema: v.looseObject({ openapi: v.literal('3.1.0') }),
      },
    },
    handle: async () => {
      document ??= openApiDocument([...routes, self], {
        title: 'Hookline API',
        version: '1.0.0',
        description: DESCRIPTION,
        names: NAMED_SCHEMAS,
      });
      return json(200, document, { 'cache-control': 'public, max-age=300' });
    },
  };
  return [self];
};
