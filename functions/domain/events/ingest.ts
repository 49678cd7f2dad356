import * as v from 'valibot';
import type { DeliveryEvent } from '../delivery/model.ts';
import { jsonShapeProblems } from '../json-shape.ts';
import { tenantIdSchema } from '../keys/api-keys.ts';
import { boundedArray, isoTimestamp, label, unique } from '../webhooks/fields.ts';
import { EVENT_TYPES, TEST_EVENT_TYPE } from './catalog.ts';

/**
 * One producer event, validated and completed with defaults: from the ingest
 * queue (parseIngestEvent, the fan-out) or from the API (checkIngestEvent,
 * POST /events), by the same rules. A bad message yields one readable line
 * naming every problem, so the dead-letter queue says why it is there; a bad
 * API event yields the same problems field by field. Nothing here throws.
 */

/** Leaves room under SQS's 256 KiB for the delivery job that carries the event. */
export const MAX_INGEST_BODY_BYTES = 128 * 1024;
/** A reason lists at most this many problems, so one bad message cannot flood the logs. */
const MAX_LISTED_PROBLEMS = 20;

const KNOWN_EVENT_TYPES: ReadonlySet<string> = new Set(EVENT_TYPES);

const eventTypeSchema = v.pipe(
  v.string(),
  v.check(
    (type) => type !== TEST_EVENT_TYPE,
    `${TEST_EVENT_TYPE} is reserved for test deliveries (POST /webhooks/{id}/test)`,
  ),
  v.check(
    (type) => type === TEST_EVENT_TYPE || KNOWN_EVENT_TYPES.has(type),
    'is not a known event type (GET /api/v1/webhooks/events lists them)',
  ),
);

const eventIdSchema = v.pipe(
  v.string(),
  v.regex(/^[A-Za-z0-9_.:-]{1,128}$/, 'must be 1-128 letters, digits or _ . : - (a UUID is best)'),
);

/** The same rule as the entity names of payload_fields, so the two always line up. */
const entityTypeSchema = v.pipe(
  v.string(),
  v.regex(/^[a-z][a-z0-9_]{0,63}$/, 'must be a lower-case word such as "ticket"'),
);

const jsonObject = v.custom<Record<string, unknown>>(
  (value) => typeof value === 'object' && value !== null && !Array.isArray(value),
  'must be a JSON object',
);

export const ingestMessageSchema = v.strictObject({
  event_id: v.optional(eventIdSchema),
  event_type: eventTypeSchema,
  tenant_id: tenantIdSchema,
  occurred_at: v.optional(
    v.pipe(
      isoTimestamp,
      v.transform(({ instant }) => instant.toISOString()),
    ),
  ),
  entity_type: v.optional(entityTypeSchema),
  entity_id: v.optional(label(128)),
  tags: v.optional(v.pipe(boundedArray(label(), 50, 'tags'), v.transform(unique))),
  data: jsonObject,
});

export type IngestMessage = v.InferOutput<typeof ingestMessageSchema>;

export type IngestResult = { ok: true; event: DeliveryEvent } | { ok: false; reason: string };

/** One thing wrong with an event: a dot path into it ('' for the event as a whole) and why. */
export interface EventProblem {
  field: string;
  message: string;
}

export type EventCheck =
  | { ok: true; event: DeliveryEvent }
  | { ok: false; problems: EventProblem[] };

export interface IngestDefaults {
  now: Date;
  newId: () => string;
}

export const parseIngestEvent = (body: string, defaults: IngestDefaults): IngestResult => {
  const bytes = Buffer.byteLength(body, 'utf8');
  if (bytes > MAX_INGEST_BODY_BYTES) {
    return refuse([`the message is ${bytes} bytes; at most ${MAX_INGEST_BODY_BYTES} are accepted`]);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return refuse(['the message is not valid JSON']);
  }
  const checked = checkIngestEvent(parsed, defaults);
  if (!checked.ok) {
    return refuse(
      checked.problems.map(
        ({ field, message }) => `${field === '' ? 'the message' : field} ${message}`,
      ),
    );
  }
  return checked;
};

/** An event already parsed from JSON, by the rules of parseIngestEvent; every problem listed. */
export const checkIngestEvent = (parsed: unknown, defaults: IngestDefaults): EventCheck => {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { ok: false, problems: [{ field: '', message: 'must be a JSON object' }] };
  }
  // Deeper data could not be stored with its delivery, and payload building,
  // XML encoding and JSON.stringify recurse: checked before anything else. The
  // event's text travels on in delivery jobs, so it must be text SQS carries.
  const problems: EventProblem[] = jsonShapeProblems(parsed, Infinity, { queued: true }).map(
    ({ path, message }) => ({ field: path, message }),
  );
  const result = v.safeParse(ingestMessageSchema, parsed, {
    abortEarly: false,
    abortPipeEarly: true,
  });
  if (!result.success) problems.push(...result.issues.map(describeIssue));
  if (!result.success || problems.length > 0) return { ok: false, problems: distinct(problems) };

  const message = result.output;
  const event: DeliveryEvent = {
    event_id: message.event_id ?? defaults.newId(),
    event_type: message.event_type,
    tenant_id: message.tenant_id,
    occurred_at: message.occurred_at ?? defaults.now.toISOString(),
    entity_type: message.entity_type ?? firstSegment(message.event_type),
    ...(message.entity_id === undefined ? {} : { entity_id: message.entity_id }),
    ...(message.tags === undefined ? {} : { tags: message.tags }),
    data: message.data,
  };
  // JSON.parse then stringify can grow a body (1e20 becomes 100000000000000000000):
  // the event as delivery jobs carry it must fit too.
  const serialized = Buffer.byteLength(JSON.stringify(event), 'utf8');
  if (serialized > MAX_INGEST_BODY_BYTES) {
    return {
      ok: false,
      problems: [
        {
          field: '',
          message: `is ${serialized} bytes once normalised; at most ${MAX_INGEST_BODY_BYTES} are accepted`,
        },
      ],
    };
  }
  return { ok: true, event };
};

const distinct = (problems: readonly EventProblem[]): EventProblem[] => {
  const seen = new Set<string>();
  return problems.filter(({ field, message }) => {
    const key = `${field}\u0000${message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
};

const firstSegment = (eventType: string): string => eventType.split('.')[0] ?? eventType;

const refuse = (problems: readonly string[]): IngestResult => {
  const distinct = unique(problems);
  const listed = distinct.slice(0, MAX_LISTED_PROBLEMS);
  const more = distinct.length - listed.length;
  const suffix = more > 0 ? `; and ${more} more` : '';
  return { ok: false, reason: `Invalid event: ${listed.join('; ')}${suffix}` };
};

/** valibot's own messages start with "Invalid"; they are rephrased to say what is expected. */
const describeIssue = (issue: v.BaseIssue<unknown>): EventProblem => {
  const field = v.getDotPath(issue) ?? '';
  if (!issue.message.startsWith('Invalid')) return { field, message: issue.message };
  if (issue.type === 'strict_object' && issue.expected === 'never') {
    return { field, message: 'is not a known field' };
  }
  if (issue.received === 'undefined') return { field, message: 'is required' };
  return { field, message: `must be ${withArticle(issue.expected ?? issue.type)}` };
};

const withArticle = (expected: string): string =>
  /^[aeiou]/i.test(expected) ? `an ${expected}` : `a ${expected}`;
