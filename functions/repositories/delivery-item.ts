import { DELIVERY_SORT_PREFIX, deliverySort, KEYS, webhookPartition } from '../commons/table.ts';
import {
  type AttemptRecord,
  type DeliveryRecord,
  deliveryRecordSchema,
} from '../domain/delivery/record.ts';
import { readRecord } from './records.ts';

/**
 * A delivery record as the deliveries table keeps it, in as few bytes as it
 * takes: DynamoDB bills a write by the started kilobyte of the whole item,
 * and every attempt rewrites it. Nothing derivable is stored (the ids are in
 * the keys, the event type in the event, `next_retry_at` is the last
 * attempt's, `completed_at` of a finished delivery its `updated_at`, and the
 * headers that carry the delivery's own ids and times are rebuilt from them);
 * false, 0, null and empty values are left out; attempts use short names.
 * Reading gives back exactly the record written. docs/data-model.md shows
 * the item.
 */

type Item = Record<string, unknown>;

interface AttemptContext {
  delivery_id: string;
  webhook_id: string;
  event_id: string;
  event_type: string;
}

/**
 * Request headers every attempt carries whose value the record already
 * holds. A stored attempt lists which of them it had (`d`, a bit each, in
 * this order), unless it had all of them; then it says nothing.
 */
const DERIVED_HEADERS: readonly [
  name: string,
  value: (context: AttemptContext, attempt: AttemptRecord) => string,
][] = [
  ['X-Alga-Webhook-Id', (context) => context.webhook_id],
  ['X-Alga-Event-Id', (context) => context.event_id],
  ['X-Alga-Event-Type', (context) => context.event_type],
  ['X-Alga-Delivery-Id', (context) => context.delivery_id],
  ['X-Alga-Delivery-Attempt', (_, attempt) => String(attempt.attempt)],
  ['webhook-id', (context) => context.delivery_id],
  ['webhook-timestamp', (_, attempt) => String(Math.floor(Date.parse(attempt.started_at) / 1000))],
];
const ALL_DERIVED = 2 ** DERIVED_HEADERS.length - 1;
const DERIVED_BY_NAME = new Map(
  DERIVED_HEADERS.map(([name, value], bit) => [name, { value, bit }]),
);
const FIRST_SIGNATURE_HEADER = 'X-Alga-Signature';

/** An attempt as stored: see docs/data-model.md for the names. */
const packAttempt = (attempt: AttemptRecord, context: AttemptContext): Item => {
  const headers: Record<string, string> = {};
  let derived = 0;
  for (const [name, value] of Object.entries(attempt.request.headers)) {
    const rule = DERIVED_BY_NAME.get(name);
    if (rule && rule.value(context, attempt) === value) derived |= 1 << rule.bit;
    else headers[name] = value;
  }
  const packed: Item = {
    n: attempt.attempt,
    at: attempt.started_at,
    ms: attempt.duration_ms,
    url: attempt.request.url,
  };
  if (attempt.request.method !== 'POST') packed.m = attempt.request.method;
  if (Object.keys(headers).length > 0) packed.h = headers;
  if (derived !== ALL_DERIVED) packed.d = derived;
  if (attempt.status_code !== null && attempt.status_code !== undefined) {
    packed.s = attempt.status_code;
  }
  if (Object.keys(attempt.response_headers).length > 0) packed.rh = attempt.response_headers;
  if (attempt.response_body !== '') packed.rb = attempt.response_body;
  if (attempt.error_class) packed.ec = attempt.error_class;
  if (attempt.error_message) packed.em = attempt.error_message;
  if (attempt.next_retry_at) packed.nr = attempt.next_retry_at;
  return packed;
};

/** The attempt a packed one stands for; checked afterwards with the whole record. */
const unpackAttempt = (packed: Item, context: AttemptContext): unknown => {
  const attempt = {
    attempt: packed.n,
    started_at: packed.at,
    duration_ms: packed.ms,
    request: { url: packed.url, method: packed.m ?? 'POST', headers: {} },
    status_code: packed.s ?? null,
    response_headers: packed.rh ?? {},
    response_body: packed.rb ?? '',
    error_class: packed.ec ?? null,
    error_message: packed.em ?? null,
    next_retry_at: packed.nr ?? null,
  } as AttemptRecord;
  attempt.request.headers = withDerivedHeaders(
    (packed.h ?? {}) as Record<string, string>,
    typeof packed.d === 'number' ? packed.d : ALL_DERIVED,
    context,
    attempt,
  );
  return attempt;
};

/**
 * The stored headers with the derived ones put back where the sender puts
 * them: the ids after the first headers, the Standard Webhooks id and time
 * after the Alga signature.
 */
const withDerivedHeaders = (
  stored: Record<string, string>,
  derived: number,
  context: AttemptContext,
  attempt: AttemptRecord,
): Record<string, string> => {
  const rebuilt = DERIVED_HEADERS.flatMap(([name, value], bit) =>
    derived & (1 << bit) ? [[name, value(context, attempt)] as [string, string]] : [],
  );
  const ids = rebuilt.filter(([name]) => name.startsWith('X-Alga-'));
  const standard = rebuilt.filter(([name]) => !name.startsWith('X-Alga-'));
  const entries = Object.entries(stored);
  const leading = entries.findIndex(([name]) => name !== 'Content-Type' && name !== 'User-Agent');
  const split = leading === -1 ? entries.length : leading;
  const result: [string, string][] = [...entries.slice(0, split), ...ids];
  for (const entry of entries.slice(split)) {
    result.push(entry);
    if (entry[0] === FIRST_SIGNATURE_HEADER) result.push(...standard.splice(0));
  }
  result.push(...standard);
  // fromEntries defines own properties: a header named __proto__ stays a header.
  return Object.fromEntries(result);
};

const FINAL_STATUSES: ReadonlySet<string> = new Set(['delivered', 'failed', 'abandoned']);

/** Left out of the item: derived on reading, or the default. */
const omitted = (name: string, value: unknown): boolean =>
  value === null ||
  value === undefined ||
  value === false ||
  (name === 'chain_start' && value === 0);

/** The item to put: keys, the record's fields that carry information, the attempts packed. */
export const toDeliveryItem = (record: DeliveryRecord): Item => {
  const {
    delivery_id,
    webhook_id,
    event_type: _,
    attempts,
    next_retry_at,
    completed_at,
    ...rest
  } = record;
  const item: Item = {
    [KEYS.partition]: webhookPartition(webhook_id),
    [KEYS.sort]: deliverySort(delivery_id),
  };
  for (const [name, value] of Object.entries(rest)) {
    if (!omitted(name, value)) item[name] = value;
  }
  if (next_retry_at && next_retry_at !== derivedNextRetry(record.status, attempts.at(-1))) {
    item.next_retry_at = next_retry_at;
  }
  if (completed_at && completed_at !== derivedCompletion(record.status, record.updated_at)) {
    item.completed_at = completed_at;
  }
  if (attempts.length > 0) {
    const context = contextOf(delivery_id, webhook_id, record.event);
    item.attempts = attempts.map((attempt) => packAttempt(attempt, context));
  }
  return item;
};

const derivedNextRetry = (
  status: unknown,
  last: { next_retry_at?: unknown } | undefined,
): unknown => (status === 'retrying' ? (last?.next_retry_at ?? null) : null);

const derivedCompletion = (status: unknown, updatedAt: unknown): unknown =>
  typeof status === 'string' && FINAL_STATUSES.has(status) ? updatedAt : null;

const contextOf = (deliveryId: string, webhookId: string, event: unknown): AttemptContext => {
  const { event_id, event_type } = (event ?? {}) as { event_id?: unknown; event_type?: unknown };
  return {
    delivery_id: deliveryId,
    webhook_id: webhookId,
    event_id: String(event_id),
    event_type: String(event_type),
  };
};

/**
 * The record an item holds, checked against its schema (readRecord). Items
 * written before this layout (ids stored, attempts as the record has them)
 * read too.
 */
export const fromDeliveryItem = (item: Item): DeliveryRecord => {
  const { [KEYS.partition]: partition, [KEYS.sort]: sort, attempts, ...rest } = item;
  const webhookId = String(partition ?? '').slice(webhookPartition('').length);
  const deliveryId = String(sort ?? '').slice(DELIVERY_SORT_PREFIX.length);
  const context = contextOf(deliveryId, webhookId, rest.event);
  const unpacked = Array.isArray(attempts)
    ? attempts.map((attempt: Item) => ('n' in attempt ? unpackAttempt(attempt, context) : attempt))
    : [];
  const last = unpacked.at(-1) as { next_retry_at?: unknown } | undefined;
  return readRecord(
    deliveryRecordSchema,
    {
      delivery_id: deliveryId,
      webhook_id: webhookId,
      event_type: context.event_type,
      ...rest,
      attempts: unpacked,
      next_retry_at: rest.next_retry_at ?? derivedNextRetry(rest.status, last),
      completed_at: rest.completed_at ?? derivedCompletion(rest.status, rest.updated_at),
    },
    `delivery ${String(sort ?? '')}`,
  );
};
