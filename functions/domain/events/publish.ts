import * as v from 'valibot';
import type { DeliveryEvent } from '../delivery/model.ts';
import type { FieldProblem } from '../errors.ts';
import { tenantIdSchema } from '../keys/api-keys.ts';
import { EVENT_TYPES } from './catalog.ts';
import {
  checkIngestEvent,
  type EventProblem,
  type IngestDefaults,
  ingestMessageSchema,
} from './ingest.ts';

/**
 * Events published over HTTP (POST /api/v1/events): one event, or
 * `{"events": [...]}` with up to ten, each checked by the ingest queue's own
 * rules (checkIngestEvent) and completed with the same defaults, so the
 * fan-out takes what is queued as it stands. The tenant is the API key's:
 * `tenant_id` may be left out, and any other tenant is refused.
 */

/** SQS's most entries per SendMessageBatch: one request's events go out in one call. */
export const MAX_EVENTS_PER_REQUEST = 10;

/** What the queue needs of the API: every event queued, or an error. */
export interface EventQueue {
  send(events: readonly DeliveryEvent[]): Promise<void>;
}

/**
 * One event as the API takes it, for the OpenAPI document: the ingest
 * message, its tenant the key's, its type and data as JSON Schema can say
 * them (checkIngestEvent judges).
 */
export const publishedEventSchema = v.strictObject({
  ...ingestMessageSchema.entries,
  event_type: v.picklist(EVENT_TYPES),
  tenant_id: v.optional(tenantIdSchema),
  data: v.record(v.string(), v.unknown()),
});

export const publishBodySchema = v.union([
  publishedEventSchema,
  v.strictObject({
    events: v.pipe(
      v.array(publishedEventSchema),
      v.minLength(1),
      v.maxLength(MAX_EVENTS_PER_REQUEST),
    ),
  }),
]);

export type PublishCheck =
  | { ok: true; events: DeliveryEvent[] }
  | { ok: false; problems: FieldProblem[] };

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const at = (prefix: string, field: string) =>
  prefix === '' ? field || '(body)' : field === '' ? prefix : `${prefix}.${field}`;

/** One event, its problems' fields under `prefix` ('' for a body that is the event). */
const checkOne = (
  value: unknown,
  prefix: string,
  tenant: string,
  defaults: IngestDefaults,
): { event?: DeliveryEvent; problems: FieldProblem[] } => {
  const withTenant =
    isObject(value) && !('tenant_id' in value) ? { ...value, tenant_id: tenant } : value;
  const checked = checkIngestEvent(withTenant, defaults);
  const problems: EventProblem[] = checked.ok ? [] : [...checked.problems];
  if (isObject(value) && typeof value.tenant_id === 'string' && value.tenant_id !== tenant) {
    problems.push({
      field: 'tenant_id',
      message: `must be this API key's tenant (${tenant}), or left out`,
    });
  }
  const placed = problems.map(({ field, message }) => ({ field: at(prefix, field), message }));
  return checked.ok && placed.length === 0
    ? { event: checked.event, problems: [] }
    : { problems: placed };
};

/**
 * The request's events, or every problem of every event: one bad event
 * refuses the whole request, so nothing of it is queued.
 */
export const checkPublishBody = (
  body: Record<string, unknown>,
  tenant: string,
  defaults: IngestDefaults,
): PublishCheck => {
  if (!('events' in body)) {
    const { event, problems } = checkOne(body, '', tenant, defaults);
    return event ? { ok: true, events: [event] } : { ok: false, problems };
  }
  const problems: FieldProblem[] = Object.keys(body)
    .filter((key) => key !== 'events')
    .map((key) => ({ field: key, message: 'is not a known field beside events' }));
  const { events } = body;
  if (!Array.isArray(events) || events.length === 0 || events.length > MAX_EVENTS_PER_REQUEST) {
    problems.push({
      field: 'events',
      message: `must be an array of 1 to ${MAX_EVENTS_PER_REQUEST} events`,
    });
    return { ok: false, problems };
  }
  const checked = events.map((item, index) => checkOne(item, `events.${index}`, tenant, defaults));
  problems.push(...checked.flatMap((each) => each.problems));
  const accepted = checked.flatMap((each) => (each.event ? [each.event] : []));
  return problems.length === 0 ? { ok: true, events: accepted } : { ok: false, problems };
};
