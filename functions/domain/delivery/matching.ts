import { parseInstant } from '../webhooks/fields.ts';
import type { EventFilter, FILTER_OPERATORS, WebhookRecord } from '../webhooks/schema.ts';
import type { DeliveryEvent } from './model.ts';

/**
 * Which webhooks receive an event. A webhook matches when it is active, is
 * subscribed to the event's type (or its alias), and every part of its
 * event_filter that is given holds:
 *
 * - `project.completed` is a deprecated alias of `project.closed`: a webhook
 *   subscribed to either name receives events of both. The event keeps the
 *   name its producer gave it.
 * - An empty list (`entity_types: []`, `entity_ids: []`, `tags: []`) counts as
 *   not given: a filter that can match nothing is never what was meant.
 * - `entity_types` compares case-insensitively; `entity_ids` too (UUIDs);
 *   an event without entity_id never matches `entity_ids`.
 * - `tags` matches when the event carries at least one of the filter's tags
 *   (exact, case-sensitive).
 * - `conditions` must all hold. A missing path makes `equals`, `contains`,
 *   `greater_than`, `less_than` and `in` false, and `not_equals`,
 *   `not_contains` and `not_in` true: the negations are exact complements.
 */

type Matchable = Pick<WebhookRecord, 'is_active' | 'event_types' | 'event_filter'>;
type Condition = NonNullable<EventFilter['conditions']>[number];
type FilterOperator = (typeof FILTER_OPERATORS)[number];

const ALIASES: Readonly<Record<string, string>> = { 'project.completed': 'project.closed' };

/** The name an event type is matched under: its alias target, or itself. */
export const canonicalEventType = (eventType: string): string => ALIASES[eventType] ?? eventType;

export const matchesEvent = (webhook: Matchable, event: DeliveryEvent): boolean =>
  webhook.is_active &&
  isSubscribed(webhook.event_types, event.event_type) &&
  passesFilter(webhook.event_filter, event);

export const matchingWebhooks = <W extends Matchable>(
  webhooks: readonly W[],
  event: DeliveryEvent,
): W[] => webhooks.filter((webhook) => matchesEvent(webhook, event));

const isSubscribed = (subscribed: readonly string[], eventType: string): boolean => {
  const wanted = canonicalEventType(eventType);
  return subscribed.some((type) => canonicalEventType(type) === wanted);
};

const passesFilter = (filter: EventFilter | null | undefined, event: DeliveryEvent): boolean => {
  if (!filter) return true;
  const { entity_types, entity_ids, tags, conditions } = filter;
  if (isGiven(entity_types) && !includesIgnoringCase(entity_types, event.entity_type)) {
    return false;
  }
  if (isGiven(entity_ids) && !includesIgnoringCase(entity_ids, event.entity_id)) return false;
  if (isGiven(tags) && !tags.some((tag) => event.tags?.includes(tag))) return false;
  return (conditions ?? []).every((condition) => holds(condition, event.data));
};

const isGiven = <T>(list: readonly T[] | undefined): list is readonly T[] =>
  list !== undefined && list.length > 0;

const includesIgnoringCase = (list: readonly string[], value: string | undefined): boolean => {
  if (value === undefined) return false;
  const lower = value.toLowerCase();
  return list.some((item) => item.toLowerCase() === lower);
};

type Lookup = { found: true; value: unknown } | { found: false };

/** Own properties only, so `constructor` or `__proto__` never reach a prototype. */
export const valueAtPath = (data: unknown, path: string): Lookup => {
  let current: unknown = data;
  for (const segment of path.split('.')) {
    if (Array.isArray(current)) {
      if (!/^(0|[1-9]\d*)$/.test(segment) || Number(segment) >= current.length) {
        return { found: false };
      }
      current = current[Number(segment)];
    } else if (isRecord(current) && Object.hasOwn(current, segment)) {
      current = current[segment];
    } else {
      return { found: false };
    }
  }
  return { found: true, value: current };
};

const holds = (condition: Condition, data: Record<string, unknown>): boolean => {
  const lookup = valueAtPath(data, condition.field);
  return applyOperator(condition.operator, lookup, condition.value);
};

const applyOperator = (operator: FilterOperator, lookup: Lookup, expected: unknown): boolean => {
  switch (operator) {
    case 'equals':
      return lookup.found && deepEqual(lookup.value, expected);
    case 'not_equals':
      return !applyOperator('equals', lookup, expected);
    case 'contains':
      return lookup.found && contains(lookup.value, expected);
    case 'not_contains':
      return !applyOperator('contains', lookup, expected);
    case 'greater_than':
      return lookup.found && compare(lookup.value, expected) === 'after';
    case 'less_than':
      return lookup.found && compare(lookup.value, expected) === 'before';
    case 'in':
      return (
        lookup.found &&
        Array.isArray(expected) &&
        expected.some((item) => deepEqual(lookup.value, item))
      );
    case 'not_in':
      return !applyOperator('in', lookup, expected);
  }
};

const contains = (actual: unknown, expected: unknown): boolean => {
  if (typeof actual === 'string') return typeof expected === 'string' && actual.includes(expected);
  if (Array.isArray(actual)) return actual.some((item) => deepEqual(item, expected));
  return false;
};

/**
 * Numbers numerically; two ISO-8601 dates as instants; other strings by code
 * unit, the same on every machine. Anything else does not compare.
 */
const compare = (actual: unknown, expected: unknown): Order | undefined => {
  if (typeof actual === 'number' && typeof expected === 'number') return order(actual, expected);
  if (typeof actual !== 'string' || typeof expected !== 'string') return undefined;
  const actualInstant = parseInstant(actual);
  const expectedInstant = parseInstant(expected);
  if (actualInstant instanceof Date && expectedInstant instanceof Date) {
    return order(actualInstant.getTime(), expectedInstant.getTime());
  }
  return order(actual, expected);
};

type Order = 'before' | 'same' | 'after';

const order = <T extends number | string>(left: T, right: T): Order => {
  if (left < right) return 'before';
  return left > right ? 'after' : 'same';
};

/** Equality of JSON values: key order does not matter, array order does. */
export const deepEqual = (left: unknown, right: unknown): boolean => {
  if (left === right) return true;
  if (Array.isArray(left) || Array.isArray(right)) {
    return (
      Array.isArray(left) &&
      Array.isArray(right) &&
      left.length === right.length &&
      left.every((item, index) => deepEqual(item, right[index]))
    );
  }
  if (!isRecord(left) || !isRecord(right)) return false;
  const leftKeys = Object.keys(left);
  if (leftKeys.length !== Object.keys(right).length) return false;
  return leftKeys.every((key) => Object.hasOwn(right, key) && deepEqual(left[key], right[key]));
};

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
