import { parseArgs } from 'node:util';
import { EVENT_TYPES } from '../functions/domain/events/catalog.ts';
import { QUEUES } from '../lib/resources.ts';

/** `npm run emit`'s arguments and the producer messages they make; no I/O here. */

const MAX_COUNT = 1000;

export const EMIT_USAGE = `Usage:
  npm run emit -- <event_type> '<json data>' [--tenant <id>] [--event-id <id>] [--entity-id <id>]
                  [--tags a,b] [--count N] [--queue-url <url>]

Sends events to the ingest queue, as a producer would, and prints their event ids.
  <json data>   the event's data: a JSON object
  --tenant      the tenant the event belongs to (default $WEBHOOKS_DEV_TENANT or dev)
  --event-id    the idempotency key; with --count every copy carries it, so the
                service should deliver it once per webhook (default: a new UUID each)
  --entity-id   the id of the ticket, project, ... the event is about
  --tags        comma-separated tags
  --count       how many events to send (default 1, at most ${MAX_COUNT})
  --queue-url   the queue; default: ${QUEUES.events.name} on the local runtime's SQS, found at
                AWS_ENDPOINT_URL_SQS / AWS_ENDPOINT_URL, else 127.0.0.1:$SQS_PORT, else where the
                running runtime's .hookline/endpoints.json (in $HOOKLINE_DATA_DIR) says, else port 4566`;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The ingest queue's message, as the contract's "Events from producers" section has it. */
export interface ProducerEvent {
  event_id: string;
  event_type: string;
  tenant_id: string;
  occurred_at: string;
  entity_id?: string;
  tags?: string[];
  data: Record<string, unknown>;
}

export interface EmitRequest {
  eventType: string;
  data: Record<string, unknown>;
  tenant: string;
  eventId?: string | undefined;
  entityId?: string | undefined;
  tags?: string[] | undefined;
  count: number;
  queueUrl?: string | undefined;
  /** Things worth saying that do not stop the send. */
  warnings: string[];
}

export type EmitArgs = { help: true } | ({ help: false } & EmitRequest);

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const parseData = (text: string): Record<string, unknown> => {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new UsageError(`the data argument is not valid JSON (${reason}): ${text}`);
  }
  if (!isObject(data)) {
    const kind = Array.isArray(data) ? 'an array' : data === null ? 'null' : typeof data;
    throw new UsageError(`the data argument must be a JSON object, like '{"id": 1}'; got ${kind}`);
  }
  return data;
};

const parseCount = (text: string | undefined): number => {
  if (text === undefined) return 1;
  const count = Number(text);
  if (!Number.isInteger(count) || count < 1 || count > MAX_COUNT) {
    throw new UsageError(`--count must be a whole number from 1 to ${MAX_COUNT}; got ${text}`);
  }
  return count;
};

const parseTags = (text: string | undefined): string[] | undefined => {
  if (text === undefined) return undefined;
  const tags = text
    .split(',')
    .map((tag) => tag.trim())
    .filter((tag) => tag !== '');
  if (tags.length === 0) throw new UsageError('--tags needs at least one tag, like --tags a,b');
  return tags;
};

const nonEmpty = (name: string, value: string | undefined): string | undefined => {
  if (value?.trim() === '') throw new UsageError(`${name} must not be empty`);
  return value;
};

const parseQueueUrl = (text: string | undefined): string | undefined => {
  if (text === undefined) return undefined;
  const protocol = URL.canParse(text) ? new URL(text).protocol : undefined;
  if (protocol !== 'http:' && protocol !== 'https:') {
    throw new UsageError(`--queue-url must be an http(s) URL; got ${text}`);
  }
  return text;
};

export const parseEmitArgs = (argv: string[], defaults: { tenant: string }): EmitArgs => {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    // parseArgs reports unknown or incomplete options as TypeErrors.
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const { values, positionals } = parsed;
  if (values.help) return { help: true };
  const [eventType, dataText, ...extra] = positionals;
  if (!eventType || dataText === undefined) {
    throw new UsageError(
      'emit needs an event type and its data, like: ticket.created \'{"id": 1}\'',
    );
  }
  if (extra.length > 0) {
    throw new UsageError(`unexpected arguments: ${extra.join(' ')} (quote the JSON data)`);
  }
  const warnings = EVENT_TYPES.some((type) => type === eventType)
    ? []
    : [`${eventType} is not in the event catalog: no webhook can subscribe to it`];
  return {
    help: false,
    eventType,
    data: parseData(dataText),
    tenant: nonEmpty('--tenant', values.tenant) ?? defaults.tenant,
    eventId: nonEmpty('--event-id', values['event-id']),
    entityId: nonEmpty('--entity-id', values['entity-id']),
    tags: parseTags(values.tags),
    count: parseCount(values.count),
    queueUrl: parseQueueUrl(values['queue-url']),
    warnings,
  };
};

const parse = (argv: string[]) =>
  parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      tenant: { type: 'string' },
      'event-id': { type: 'string' },
      'entity-id': { type: 'string' },
      tags: { type: 'string' },
      count: { type: 'string' },
      'queue-url': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });

/** The messages to send: one per --count, each with its own id unless --event-id fixed one. */
export const producerEvents = (
  request: EmitRequest,
  now: Date,
  newId: () => string,
): ProducerEvent[] =>
  Array.from({ length: request.count }, () => ({
    event_id: request.eventId ?? newId(),
    event_type: request.eventType,
    tenant_id: request.tenant,
    occurred_at: now.toISOString(),
    ...(request.entityId === undefined ? {} : { entity_id: request.entityId }),
    ...(request.tags === undefined ? {} : { tags: request.tags }),
    data: request.data,
  }));
