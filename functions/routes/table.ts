import type { AnalyticsService } from '../domain/analytics/service.ts';
import type { DeliveryService } from '../domain/delivery/service.ts';
import type { EventQueue } from '../domain/events/publish.ts';
import type { WebhookService } from '../domain/webhooks/service.ts';
import { type Route, under } from '../http/router.ts';
import type { DeliveryRepository } from '../repositories/deliveries.ts';
import { analyticsRoutes } from './analytics.ts';
import { deliveryRoutes } from './deliveries.ts';
import { eventRoutes } from './events.ts';
import { openApiRoutes } from './openapi.ts';
import { previewRoutes } from './preview.ts';
import { templateRoutes } from './templates.ts';
import { webhookRoutes } from './webhooks.ts';

/**
 * Every route of the API, as the api handler serves it, with its path below
 * /api/v1. The one list: tests walk it (tenant isolation, permissions,
 * fuzzing), the OpenAPI document is made from it, and the stack's resources
 * must hold each of its paths (test/api/openapi.test.ts), so a route added
 * here is tested and described without anyone remembering to.
 */

export interface ApiServices {
  webhooks: WebhookService;
  deliveries: DeliveryService;
  history: DeliveryRepository;
  /** The ingest queue, for events published over HTTP. */
  events: EventQueue;
  analytics: AnalyticsService;
}

export const apiRoutes = ({
  webhooks,
  deliveries,
  history,
  events,
  analytics,
}: ApiServices): Route[] => {
  const routes: Route[] = [
    ...under('/webhooks', [
      // Literal paths (/templates, /events, /verify) win over /{id} whatever the order.
      ...webhookRoutes(webhooks),
      ...templateRoutes(),
      ...deliveryRoutes(webhooks, deliveries, history),
      ...previewRoutes(webhooks, deliveries),
      ...analyticsRoutes(webhooks, analytics),
    ]),
    ...eventRoutes(events),
  ];
  return [...routes, ...openApiRoutes(routes)];
};
