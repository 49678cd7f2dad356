import * as v from 'valibot';
import { deliveryIdTime } from '../domain/delivery/ids.ts';
import { DELIVERY_STATUSES } from '../domain/delivery/model.ts';
import { deliveryDetailView, deliverySummaryView } from '../domain/delivery/record.ts';
import { signingSecrets } from '../domain/delivery/request.ts';
import type { DeliveryService } from '../domain/delivery/service.ts';
import { verifyRequestSchema, verifySample } from '../domain/delivery/verify.ts';
import { EVENT_TYPES, TEST_EVENT_TYPE } from '../domain/events/catalog.ts';
import { parseOrThrow } from '../domain/validation.ts';
import { absoluteHttpUrl, jsonMap, uuidString } from '../domain/webhooks/fields.ts';
import { dateFrom, dateTo, MAX_PAGE_SIZE, rangeInOrder } from '../domain/webhooks/list.ts';
import type { WebhookService } from '../domain/webhooks/service.ts';
import type { ApiRequest } from '../http/request.ts';
import { json, ok } from '../http/responses.ts';
import type { Route } from '../http/router.ts';
import type { DeliveryRepository } from '../repositories/deliveries.ts';
import {
  dataOf,
  deliveryDetailSchema,
  deliveryListAnswerSchema,
  rotationSchema,
  testResultSchema,
  verifyResultSchema,
} from './answers.ts';

/**
 * Delivery history and control: the deliveries of a webhook, one delivery,
 * a manual retry, a synchronous test, secret rotation and signature checks.
 * Each looks the webhook up in the caller's tenant first, so a foreign id is
 * a 404 like a missing one.
 */

const webhookParams = v.object({ id: uuidString });
const deliveryParams = v.object({ id: uuidString, delivery_id: uuidString });

const webhookIdOf = (request: ApiRequest) =>
  parseOrThrow(webhookParams, request.params, 'The path is invalid');
const deliveryIdsOf = (request: ApiRequest) =>
  parseOrThrow(deliveryParams, request.params, 'The path is invalid');

const cursorSchema = v.pipe(
  v.string(),
  v.transform((cursor) => Buffer.from(cursor, 'base64url').toString('utf8')),
  v.uuid('is not a cursor this API gave out'),
);

const historyQuerySchema = v.pipe(
  v.strictObject({
    status: v.optional(
      v.picklist(DELIVERY_STATUSES, `must be one of ${DELIVERY_STATUSES.join(', ')}`),
    ),
    event_type: v.optional(
      v.picklist(
        [...EVENT_TYPES, TEST_EVENT_TYPE],
        'is not a known event type (GET /api/v1/webhooks/events lists them)',
      ),
    ),
    from_date: v.optional(dateFrom),
    to_date: v.optional(dateTo),
    limit: v.optional(
      v.pipe(
        v.string(),
        v.regex(/^\d{1,3}$/, `must be a whole number from 1 to ${MAX_PAGE_SIZE}`),
        v.transform(Number),
        v.minValue(1, `must be a whole number from 1 to ${MAX_PAGE_SIZE}`),
        v.maxValue(MAX_PAGE_SIZE, `must be a whole number from 1 to ${MAX_PAGE_SIZE}`),
      ),
      '25',
    ),
    cursor: v.optional(cursorSchema),
  }),
  v.forward(
    v.check(
      ({ from_date, to_date }) => rangeInOrder(from_date, to_date),
      'must not be after to_date',
    ),
    ['from_date'],
  ),
  // A cursor from another date range would start the query outside its own key range.
  v.forward(
    v.check(({ cursor, from_date, to_date }) => {
      if (!cursor) return true;
      const at = deliveryIdTime(cursor);
      return (!from_date || at >= Date.parse(from_date)) && (!to_date || at <= Date.parse(to_date));
    }, 'belongs to a page of other dates; start again without it'),
    ['cursor'],
  ),
);

const testBodySchema = v.strictObject({
  test_event_type: v.optional(
    v.picklist(
      [TEST_EVENT_TYPE, ...EVENT_TYPES],
      `must be ${TEST_EVENT_TYPE} or a catalog event type (GET /api/v1/webhooks/events)`,
    ),
  ),
  test_payload: v.optional(jsonMap(200)),
  /** Sends this test there instead of the webhook's url; the URL rules of `url` apply. */
  override_url: v.optional(absoluteHttpUrl),
});

/** Svix allows at most 7 days of overlap; so do we. */
const MAX_GRACE_HOURS = 168;
const DEFAULT_GRACE_HOURS = 24;

const rotateBodySchema = v.strictObject({
  grace_period_hours: v.optional(
    v.pipe(
      v.number(),
      v.minValue(0, `must be a number of hours from 0 to ${MAX_GRACE_HOURS}`),
      v.maxValue(MAX_GRACE_HOURS, `must be a number of hours from 0 to ${MAX_GRACE_HOURS}`),
    ),
    DEFAULT_GRACE_HOURS,
  ),
});

export const deliveryRoutes = (
  webhooks: WebhookService,
  deliveries: DeliveryService,
  history: DeliveryRepository,
  now: () => Date = () => new Date(),
): Route[] => [
  {
    method: 'GET',
    path: '/{id}/deliveries',
    permission: 'read',
    docs: {
      summary: 'List a webhook’s deliveries',
      description:
        'Newest first, paged by an opaque cursor (`next_cursor`). A filtered page may be short and still have a next one.',
      params: webhookParams,
      query: historyQuerySchema,
      success: {
        status: 200,
        description: 'A page of deliveries',
        schema: deliveryListAnswerSchema,
      },
    },
    handle: async (request) => {
      const { id } = webhookIdOf(request);
      const query = parseOrThrow(historyQuerySchema, request.query, 'The query string is invalid');
      await webhooks.get(request.principal.tenant, id);
      const page = await history.list(
        id,
        {
          status: query.status,
          eventType: query.event_type,
          fromMs: query.from_date ? Date.parse(query.from_date) : undefined,
          toMs: query.to_date ? Date.parse(query.to_date) : undefined,
          limit: query.limit,
          after: query.cursor,
        },
        now().getTime(),
      );
      return json(200, {
        data: page.items.map(deliverySummaryView),
        pagination: {
          limit: query.limit,
          hasNext: page.next !== undefined,
          next_cursor: page.next ? Buffer.from(page.next).toString('base64url') : null,
        },
        meta: {
          filters: {
            status: query.status ?? null,
            event_type: query.event_type ?? null,
            from_date: query.from_date ?? null,
            to_date: query.to_date ?? null,
          },
        },
      });
    },
  },
  {
    method: 'GET',
    path: '/{id}/deliveries/{delivery_id}',
    permission: 'read',
    docs: {
      summary: 'Show a delivery with every attempt',
      params: deliveryParams,
      success: { status: 200, description: 'The delivery', schema: dataOf(deliveryDetailSchema) },
    },
    handle: async (request) => {
      const { id, delivery_id } = deliveryIdsOf(request);
      await webhooks.get(request.principal.tenant, id);
      return ok(deliveryDetailView(await deliveries.get(id, delivery_id)));
    },
  },
  {
    method: 'POST',
    path: '/{id}/deliveries/{delivery_id}/retry',
    permission: 'retry',
    docs: {
      summary: 'Send a delivery again',
      description:
        'A new attempt chain for a finished delivery, same delivery id. 409 while it is pending or retrying, for a disabled webhook, a test delivery, or after 20 attempts.',
      params: deliveryParams,
      success: { status: 202, description: 'Queued', schema: dataOf(deliveryDetailSchema) },
      errors: [409],
    },
    handle: async (request) => {
      const { id, delivery_id } = deliveryIdsOf(request);
      const webhook = await webhooks.get(request.principal.tenant, id);
      const record = await deliveries.retry(webhook, delivery_id);
      return json(202, { data: deliveryDetailView(record) });
    },
  },
  {
    method: 'POST',
    path: '/{id}/test',
    permission: 'test',
    docs: {
      summary: 'Send a test delivery now',
      description:
        "One attempt now, kept in the history as a test. `override_url` sends it there instead of the webhook's url (the same URL rules and SSRF guard); when the webhook sends a stored credential or `secret_token` to its url, that needs a key with `manage_security` (403 otherwise, nothing sent).",
      params: webhookParams,
      body: testBodySchema,
      bodyOptional: true,
      success: {
        status: 200,
        description: 'What the receiver answered',
        schema: dataOf(testResultSchema),
      },
      errors: [403],
    },
    handle: async (request) => {
      const { id } = webhookIdOf(request);
      const body = parseOrThrow(testBodySchema, request.optionalBody());
      const webhook = await webhooks.get(request.principal.tenant, id);
      return ok(
        await deliveries.test(webhook, {
          eventType: body.test_event_type,
          payload: body.test_payload,
          overrideUrl: body.override_url,
          // Only a key that manages security may send a stored credential somewhere new.
          mayRedirectCredentials: request.principal.permissions.includes('manage_security'),
        }),
      );
    },
  },
  {
    method: 'POST',
    path: '/{id}/secret/rotate',
    permission: 'manage_security',
    docs: {
      summary: 'Rotate the signing secret',
      description:
        'The new secret is shown in clear this once; the old one keeps signing for the grace period.',
      params: webhookParams,
      body: rotateBodySchema,
      bodyOptional: true,
      success: { status: 200, description: 'The new secret', schema: dataOf(rotationSchema) },
      errors: [409],
    },
    handle: async (request) => {
      const { id } = webhookIdOf(request);
      const body = parseOrThrow(rotateBodySchema, request.optionalBody());
      const webhook = await webhooks.rotateSecret(
        request.principal.tenant,
        id,
        body.grace_period_hours * 3_600_000,
      );
      return ok({
        webhook_id: webhook.webhook_id,
        signing_secret: webhook.signing_secret,
        previous_secret_expires_at:
          body.grace_period_hours > 0
            ? (webhook.previous_signing_secrets?.[0]?.expires_at ?? null)
            : null,
        rotated_at: webhook.updated_at,
      });
    },
  },
  {
    method: 'POST',
    path: '/verify',
    permission: 'verify',
    docs: {
      summary: 'Check a signature',
      description:
        "Checks a sample against the current secret and those in a rotation's grace period. Give `signature` (one `t=..,v1=..` header value or a hex digest, with `algorithm` and `timestamp`), or `headers` as received: every signature among them is checked (`X-Alga-Signature`, the `hmac_signature` header, Standard Webhooks `webhook-*` or `svix-*`). `tolerance_seconds` adds a freshness check. `valid` holds when every signature found holds; `checks` says which failed and why.",
      body: verifyRequestSchema,
      success: { status: 200, description: 'Whether it holds', schema: dataOf(verifyResultSchema) },
      errors: [404],
    },
    handle: async (request) => {
      const body = parseOrThrow(verifyRequestSchema, request.body());
      const webhook = await webhooks.get(request.principal.tenant, body.webhook_id);
      const at = now();
      return ok(verifySample(body, webhook, signingSecrets(webhook, at), at));
    },
  },
];
