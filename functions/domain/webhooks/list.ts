import * as v from 'valibot';
import { successRatio } from '../analytics/aggregate.ts';
import { EVENT_TYPES } from '../events/catalog.ts';
import { isoTimestamp, issuePath } from './fields.ts';
import { PAYLOAD_FORMATS, type WebhookRecord } from './schema.ts';

/**
 * GET /webhooks: its query string, and the pure filter, sort and page over
 * one tenant's webhooks.
 */

export const SORT_FIELDS = [
  'created_at',
  'updated_at',
  'name',
  'last_delivery_at',
  'success_rate',
] as const;
export const SORT_ORDERS = ['asc', 'desc'] as const;
export const MAX_PAGE_SIZE = 100;
const DEFAULT_PAGE_SIZE = 25;

const positiveInteger = (what: string, max: number) =>
  v.pipe(
    v.string(),
    v.regex(/^\d{1,9}$/, `${what} must be a whole number from 1 to ${max}`),
    v.transform(Number),
    v.minValue(1, `${what} must be a whole number from 1 to ${max}`),
    v.maxValue(max, `${what} must be a whole number from 1 to ${max}`),
  );

const booleanFlag = v.pipe(
  v.picklist(['true', 'false'], 'must be true or false'),
  v.transform((flag) => flag === 'true'),
);

const text = v.pipe(
  v.string(),
  v.minLength(1, 'must not be empty'),
  v.maxLength(255, 'must be at most 255 characters'),
);

/** A success rate in percent, as Alga's clients send it: 0 to 100, decimals allowed. */
const percent = v.pipe(
  v.string(),
  v.regex(/^\d{1,3}(\.\d{1,6})?$/, 'must be a percentage from 0 to 100'),
  v.transform(Number),
  v.maxValue(100, 'must be a percentage from 0 to 100'),
);

/**
 * A webhook's success rate in percent (successful of total deliveries);
 * undefined when it has had none: it has no rate to filter or sort on.
 */
export const deliveryRate = (
  webhook: Pick<WebhookRecord, 'successful_deliveries' | 'total_deliveries'>,
): number | undefined => {
  const ratio = successRatio(webhook.successful_deliveries, webhook.total_deliveries);
  return ratio === undefined ? undefined : ratio * 100;
};

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const LAST_MS_OF_DAY = 86_400_000 - 1;

/** A lower bound, as an ISO instant; a bare date means the start of that day (UTC). */
export const dateFrom = v.pipe(
  isoTimestamp,
  v.transform(({ instant }) => instant.toISOString()),
);

/** An upper bound, inclusive; a bare date means the whole of that day (UTC). */
export const dateTo = v.pipe(
  isoTimestamp,
  v.transform(({ given, instant }) =>
    new Date(instant.getTime() + (DATE_ONLY.test(given) ? LAST_MS_OF_DAY : 0)).toISOString(),
  ),
);

/**
 * Whether a date range (ISO instants, whose strings sort as their times do)
 * can match anything; one that ends before it starts is refused rather than
 * answered empty, which would look like no data.
 */
export const rangeInOrder = (from: string | undefined, to: string | undefined): boolean =>
  from === undefined || to === undefined || from <= to;

export const listQuerySchema = v.pipe(
  v.strictObject({
    page: v.optional(positiveInteger('page', 1_000_000), '1'),
    limit: v.optional(positiveInteger('limit', MAX_PAGE_SIZE), String(DEFAULT_PAGE_SIZE)),
    sort: v.optional(
      v.picklist(SORT_FIELDS, `must be one of ${SORT_FIELDS.join(', ')}`),
      'created_at',
    ),
    order: v.optional(v.picklist(SORT_ORDERS, 'must be asc or desc'), 'desc'),
    name: v.optional(text),
    url: v.optional(text),
    event_type: v.optional(v.picklist(EVENT_TYPES, 'is not a known event type')),
    is_active: v.optional(booleanFlag),
    is_test_mode: v.optional(booleanFlag),
    payload_format: v.optional(
      v.picklist(PAYLOAD_FORMATS, `must be one of ${PAYLOAD_FORMATS.join(', ')}`),
    ),
    has_failures: v.optional(booleanFlag),
    search: v.optional(text),
    created_from: v.optional(dateFrom),
    created_to: v.optional(dateTo),
    updated_from: v.optional(dateFrom),
    updated_to: v.optional(dateTo),
    last_delivery_from: v.optional(dateFrom),
    last_delivery_to: v.optional(dateTo),
    delivery_rate_min: v.optional(percent),
    delivery_rate_max: v.optional(percent),
  }),
  // One check for both ranges, so that both are reported at once.
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    const ranges = [
      ['created_from', 'created_to'],
      ['updated_from', 'updated_to'],
      ['last_delivery_from', 'last_delivery_to'],
    ] as const;
    for (const [from, to] of ranges) {
      if (!rangeInOrder(dataset.value[from], dataset.value[to])) {
        addIssue({ message: `must not be after ${to}`, path: [issuePath(dataset.value, from)] });
      }
    }
    const { delivery_rate_min: min, delivery_rate_max: max } = dataset.value;
    if (min !== undefined && max !== undefined && min > max) {
      addIssue({
        message: 'must not be above delivery_rate_max',
        path: [issuePath(dataset.value, 'delivery_rate_min')],
      });
    }
  }),
);

export type ListQuery = v.InferOutput<typeof listQuerySchema>;

export interface Page<T> {
  items: T[];
  pagination: {
    page: number;
    limit: number;
    total: number;
    totalPages: number;
    hasNext: boolean;
    hasPrev: boolean;
  };
  meta: {
    sort: ListQuery['sort'];
    order: ListQuery['order'];
    filters: Partial<Omit<ListQuery, 'page' | 'limit' | 'sort' | 'order'>>;
  };
}

const contains = (haystack: string | null | undefined, needle: string): boolean =>
  haystack?.toLowerCase().includes(needle) ?? false;

/** Every given filter must hold. Text filters are case-insensitive substrings. */
const matches = (webhook: WebhookRecord, query: ListQuery): boolean => {
  const name = query.name?.toLowerCase();
  const url = query.url?.toLowerCase();
  const search = query.search?.toLowerCase();
  if (name !== undefined && !contains(webhook.name, name)) return false;
  if (url !== undefined && !contains(webhook.url, url)) return false;
  if (query.event_type !== undefined && !webhook.event_types.includes(query.event_type)) {
    return false;
  }
  if (query.is_active !== undefined && webhook.is_active !== query.is_active) return false;
  if (query.is_test_mode !== undefined && webhook.is_test_mode !== query.is_test_mode) {
    return false;
  }
  if (query.payload_format !== undefined && webhook.payload_format !== query.payload_format) {
    return false;
  }
  if (query.has_failures !== undefined && webhook.failed_deliveries > 0 !== query.has_failures) {
    return false;
  }
  if (
    search !== undefined &&
    !contains(webhook.name, search) &&
    !contains(webhook.url, search) &&
    !contains(webhook.description, search)
  ) {
    return false;
  }
  if (query.last_delivery_from !== undefined || query.last_delivery_to !== undefined) {
    const at = webhook.last_delivery_at;
    if (!at || !within(at, query.last_delivery_from, query.last_delivery_to)) return false;
  }
  if (query.delivery_rate_min !== undefined || query.delivery_rate_max !== undefined) {
    const rate = deliveryRate(webhook);
    if (rate === undefined) return false;
    if (query.delivery_rate_min !== undefined && rate < query.delivery_rate_min) return false;
    if (query.delivery_rate_max !== undefined && rate > query.delivery_rate_max) return false;
  }
  return (
    within(webhook.created_at, query.created_from, query.created_to) &&
    within(webhook.updated_at, query.updated_from, query.updated_to)
  );
};

/** ISO-8601 UTC strings of one shape compare correctly as strings. */
const within = (at: string, from: string | undefined, to: string | undefined): boolean =>
  (from === undefined || at >= from) && (to === undefined || at <= to);

type SortField = ListQuery['sort'];

const sortKey = (webhook: WebhookRecord, field: SortField): string | number | null => {
  switch (field) {
    case 'name':
      return webhook.name.toLowerCase();
    case 'last_delivery_at':
      return webhook.last_delivery_at ?? null;
    case 'success_rate':
      return deliveryRate(webhook) ?? null;
    default:
      return webhook[field];
  }
};

/**
 * Orders by the chosen field; webhooks without a value (never delivered: no
 * last delivery, no success rate) go last in either order; ties fall back
 * to the id so pages are stable.
 */
const compareBy =
  (field: SortField, order: ListQuery['order']) =>
  (a: WebhookRecord, b: WebhookRecord): number => {
    const left = sortKey(a, field);
    const right = sortKey(b, field);
    if (left !== right) {
      if (left === null) return 1;
      if (right === null) return -1;
      const direction = order === 'asc' ? 1 : -1;
      return left < right ? -direction : direction;
    }
    return a.webhook_id < b.webhook_id ? -1 : a.webhook_id > b.webhook_id ? 1 : 0;
  };

export const listWebhooks = (
  webhooks: readonly WebhookRecord[],
  query: ListQuery,
): Page<WebhookRecord> => {
  const { page, limit, sort, order, ...filters } = query;
  const selected = webhooks.filter((webhook) => matches(webhook, query));
  selected.sort(compareBy(sort, order));
  const total = selected.length;
  const totalPages = Math.ceil(total / limit);
  const start = (page - 1) * limit;
  return {
    items: selected.slice(start, start + limit),
    pagination: {
      page,
      limit,
      total,
      totalPages,
      hasNext: page < totalPages,
      hasPrev: page > 1,
    },
    meta: { sort, order, filters },
  };
};
