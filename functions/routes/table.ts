import type { DeliveryService } from '../domain/delivery/service.ts';
import type { WebhookService } from '../domain/webhooks/service.ts';
import type { Route } from '../http/router.ts';
import type { DeliveryRepository } from '../repositories/deliveries.ts';
import { deliveryRoutes } from './deliveries.ts';
import { webhookRoutes } from './webhooks.ts';

/**
 * Every route of the API, as the api handler serves it. The one list: tests
 * walk it (tenant isolation, permissions, fuzzing), so a route added here is
 * tested without anyone remembering to.
 */

export interface ApiServices {
  webhooks: WebhookService;
  deliveries: DeliveryService;
  history: DeliveryRepository;
}

export const apiRoutes = ({ webhooks, deliveries, history }: ApiServices): Route[] => [
  ...webhookRoutes(webhooks),
  ...deliveryRoutes(webhooks, deliveries, history),
];
