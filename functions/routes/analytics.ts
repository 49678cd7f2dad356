import * as v from 'valibot';
import {
  analyticsRange,
  analyticsReportSchema,
  tenantAnalyticsQuerySchema,
  webhookAnalyticsQuerySchema,
} from '../domain/analytics/report.ts';
import type { AnalyticsService } from '../domain/analytics/service.ts';
import { parseOrThrow } from '../domain/validation.ts';
import { uuidString } from '../domain/webhooks/fields.ts';
import { healthView, healthViewSchema } from '../domain/webhooks/health.ts';
import type { WebhookService } from '../domain/webhooks/service.ts';
import type { ApiRequest } from '../http/request.ts';
import { ok } from '../http/responses.ts';
import type { Route } from '../http/router.ts';
import { dataOf } from './answers.ts';

/**
 * A webhook's health (its counters) and the delivery analytics of a
 * webhook or a whole tenant (the aggregates). Paths below /webhooks. A
 * webhook is looked up in the caller's tenant first: a foreign id is a 404.
 */

const webhookParams = v.object({ id: uuidString });
const webhookIdOf = (request: ApiRequest): string =>
  parseOrThrow(webhookParams, request.params, 'The webhook id is invalid').id;

const RANGE_DOCS =
  'Ranges are whole hours (UTC): `date_from` from the start of its hour, `date_to` to the end of its hour, a bare date to the end of that day. By default the 30 days ending today; at most 366 days. `granularity` is `hour` (ranges up to 31 days; the default up to 72 hours) or `day`. A delivery counts in the hour of its final outcome, an attempt in the hour it finished; test deliveries are left out.';

export const analyticsRoutes = (
  webhooks: WebhookService,
  analytics: AnalyticsService,
  now: () => Date = () => new Date(),
): Route[] => [
  {
    method: 'GET',
    path: '/{id}/health',
    permission: 'read',
    docs: {
      summary: 'A webhook’s health',
      description:
        'From its counters: `failing` when its last failed attempt is newer than its last successful one, `disabled` when it is switched off. `success_rate` is 0..1, 1 when there were no deliveries.',
      params: webhookParams,
      success: { status: 200, description: 'Its health', schema: dataOf(healthViewSchema) },
    },
    handle: async (request) => {
      const webhook = await webhooks.get(request.principal.tenant, webhookIdOf(request));
      return ok(healthView(webhook, now()));
    },
  },
  {
    method: 'GET',
    path: '/{id}/analytics',
    permission: 'analytics',
    docs: {
      summary: 'A webhook’s delivery analytics',
      description: RANGE_DOCS,
      params: webhookParams,
      query: webhookAnalyticsQuerySchema,
      success: {
        status: 200,
        description: 'Its analytics for the range',
        schema: dataOf(analyticsReportSchema),
      },
    },
    handle: async (request) => {
      const id = webhookIdOf(request);
      const query = parseOrThrow(
        webhookAnalyticsQuerySchema,
        request.query,
        'The query string is invalid',
      );
      const range = analyticsRange(query, now());
      const { tenant } = request.principal;
      await webhooks.get(tenant, id);
      return ok((await analytics.read({ tenant, webhookId: id }, range)).report);
    },
  },
  {
    method: 'GET',
    path: '/analytics',
    permission: 'analytics',
    docs: {
      summary: 'The tenant’s delivery analytics',
      description: `Over all the tenant’s webhooks, deleted ones included, or one of them with \`webhook_id\`. ${RANGE_DOCS}`,
      query: tenantAnalyticsQuerySchema,
      success: {
        status: 200,
        description: 'The analytics for the range',
        schema: dataOf(analyticsReportSchema),
      },
    },
    handle: async (request) => {
      const { webhook_id: webhookId, ...query } = parseOrThrow(
        tenantAnalyticsQuerySchema,
        request.query,
        'The query string is invalid',
      );
      const range = analyticsRange(query, now());
      const { tenant } = request.principal;
      if (webhookId !== undefined) await webhooks.get(tenant, webhookId);
      return ok((await analytics.read({ tenant, webhookId }, range)).report);
    },
  },
];
