import * as v from 'valibot';
import { EVENT_TYPES } from '../events/catalog.ts';
import {
  absoluteHttpUrl,
  boundedArray,
  dotPath,
  handlebarsTemplate,
  headerName,
  headerSecretValue,
  headerValue,
  integerBetween,
  isBasePayloadKey,
  issuePath,
  jsonMap,
  jsonValue,
  label,
  mediaType,
  notArray,
  readableText,
  secretValue,
  unique,
} from './fields.ts';

/**
 * The webhook object of the contract as valibot schemas. Types everywhere else
 * come from these (`WebhookConfig`, `WebhookPatch`), never from casts.
 */

export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
export const PAYLOAD_FORMATS = ['json', 'xml', 'form_data', 'custom'] as const;
export const SECURITY_TYPES = [
  'none',
  'basic_auth',
  'bearer_token',
  'api_key',
  'hmac_signature',
  'oauth2',
] as const;
export const HMAC_ALGORITHMS = ['sha1', 'sha256', 'sha512'] as const;
export const RETRY_STRATEGIES = [
  'exponential_backoff',
  'linear_backoff',
  'fixed_interval',
  'custom',
] as const;
export const FILTER_OPERATORS = [
  'equals',
  'not_equals',
  'contains',
  'not_contains',
  'greater_than',
  'less_than',
  'in',
  'not_in',
] as const;

/** One day: the longest single wait between two attempts. */
export const MAX_RETRY_DELAY_MS = 86_400_000;

const oneOf = (values: readonly string[]) => `must be one of ${values.join(', ')}`;

/** The security types; `url` checks oauth2's token_url (see webhookRecordSchema for why). */
const securityOptions = <U extends v.GenericSchema<string, string>>(url: U) =>
  [
    v.strictObject({ type: v.literal('none') }),
    v.strictObject({
      type: v.literal('basic_auth'),
      username: v.pipe(
        label(255),
        v.check((name) => !name.includes(':'), 'must not contain ":"'),
      ),
      password: secretValue,
    }),
    v.strictObject({
      type: v.literal('bearer_token'),
      token: headerSecretValue,
      header_name: v.optional(headerName, 'Authorization'),
    }),
    v.strictObject({
      type: v.literal('api_key'),
      token: headerSecretValue,
      header_name: v.optional(headerName, 'Authorization'),
    }),
    v.strictObject({
      type: v.literal('hmac_signature'),
      secret: v.optional(secretValue),
      algorithm: v.optional(v.picklist(HMAC_ALGORITHMS, oneOf(HMAC_ALGORITHMS)), 'sha256'),
      signature_header: v.optional(headerName, 'X-Signature'),
    }),
    v.strictObject({
      type: v.literal('oauth2'),
      client_id: label(1024),
      client_secret: secretValue,
      token_url: url,
      scope: v.optional(label(1024)),
    }),
  ] as const;

const securitySchema = notArray(
  v.variant('type', securityOptions(absoluteHttpUrl), oneOf(SECURITY_TYPES)),
);

const conditionSchema = notArray(
  v.pipe(
    v.strictObject({
      field: dotPath,
      operator: v.picklist(FILTER_OPERATORS, oneOf(FILTER_OPERATORS)),
      value: jsonValue,
    }),
    v.rawCheck(({ dataset, addIssue }) => {
      if (!dataset.typed) return;
      const { operator, value } = dataset.value;
      const inList = operator === 'in' || operator === 'not_in';
      if (inList && !Array.isArray(value)) {
        addIssue({
          message: `must be an array for operator ${operator}`,
          path: [issuePath(dataset.value, 'value')],
        });
      }
      const ordered = operator === 'greater_than' || operator === 'less_than';
      if (ordered && typeof value !== 'number' && typeof value !== 'string') {
        addIssue({
          message: `must be a number or a string for operator ${operator}`,
          path: [issuePath(dataset.value, 'value')],
        });
      }
    }),
  ),
);

const eventFilterSchema = notArray(
  v.strictObject({
    entity_types: v.optional(boundedArray(label(), 50, 'entity types')),
    entity_ids: v.optional(boundedArray(v.pipe(v.string(), v.uuid('must be a UUID')), 100, 'ids')),
    conditions: v.optional(boundedArray(conditionSchema, 20, 'conditions')),
    tags: v.optional(boundedArray(label(), 50, 'tags')),
  }),
);

const entityName = v.pipe(
  v.string(),
  v.regex(/^[a-z][a-z0-9_]{0,63}$/, 'entity names are lower-case words such as "ticket"'),
);

const payloadFieldsSchema = notArray(
  v.record(entityName, v.nullable(boundedArray(dotPath, 200, 'fields'))),
);

const customFieldName = v.pipe(
  label(128),
  v.check(
    (name) => !isBasePayloadKey(name),
    'is a key the service sets in every payload (event_id, event_type, occurred_at, tenant_id, data), so it cannot be a custom field',
  ),
);

const payloadTransformationEntries = {
  template: v.optional(v.nullable(handlebarsTemplate)),
  include_fields: v.optional(boundedArray(dotPath, 200, 'fields')),
  exclude_fields: v.optional(boundedArray(dotPath, 200, 'fields')),
  custom_fields: v.optional(jsonMap(50, customFieldName)),
  flatten_nested: v.optional(v.boolean(), false),
};

const payloadTransformationSchema = notArray(v.strictObject(payloadTransformationEntries));

/**
 * payload_transformation as read back from the table. The save-time rules on
 * template and custom_fields are not run again: a webhook saved before one of
 * them existed stays readable (delivery reports such a template as a config
 * failure and never lets custom fields replace base keys), and reading a
 * webhook does not compile its template.
 */
const storedPayloadTransformationSchema = v.strictObject({
  ...payloadTransformationEntries,
  template: v.optional(v.nullable(v.string())),
  custom_fields: v.optional(jsonMap(50)),
});

export const DEFAULT_RETRY_CONFIG = {
  strategy: 'exponential_backoff',
  max_attempts: 3,
  initial_delay: 1000,
  max_delay: 300_000,
  backoff_multiplier: 2,
  timeout: 10_000,
} as const;

const retryConfigSchema = notArray(
  v.pipe(
    v.strictObject({
      strategy: v.optional(
        v.picklist(RETRY_STRATEGIES, oneOf(RETRY_STRATEGIES)),
        DEFAULT_RETRY_CONFIG.strategy,
      ),
      max_attempts: v.optional(integerBetween(1, 10), DEFAULT_RETRY_CONFIG.max_attempts),
      initial_delay: v.optional(
        integerBetween(1, MAX_RETRY_DELAY_MS),
        DEFAULT_RETRY_CONFIG.initial_delay,
      ),
      max_delay: v.optional(
        integerBetween(1000, MAX_RETRY_DELAY_MS),
        DEFAULT_RETRY_CONFIG.max_delay,
      ),
      backoff_multiplier: v.optional(
        v.pipe(
          v.number(),
          v.minValue(1, 'must be a number from 1 to 10'),
          v.maxValue(10, 'must be a number from 1 to 10'),
        ),
        DEFAULT_RETRY_CONFIG.backoff_multiplier,
      ),
      timeout: v.optional(integerBetween(1000, 30_000), DEFAULT_RETRY_CONFIG.timeout),
      /** The wait before each retry, in ms; only with strategy `custom`. */
      delays: v.optional(
        v.pipe(
          v.array(integerBetween(0, MAX_RETRY_DELAY_MS)),
          v.minLength(1, 'must list at least one delay'),
          v.maxLength(9, 'must list at most 9 delays (max_attempts is at most 10)'),
        ),
      ),
    }),
    v.forward(
      v.check(
        (config) => config.strategy !== 'custom' || config.delays !== undefined,
        'is required when strategy is custom: the wait in ms before each retry',
      ),
      ['delays'],
    ),
    v.forward(
      v.check(
        (config) => config.strategy === 'custom' || config.delays === undefined,
        'is only used with strategy custom',
      ),
      ['delays'],
    ),
    v.forward(
      v.check(
        (config) => config.initial_delay <= config.max_delay,
        'must not be greater than max_delay',
      ),
      ['initial_delay'],
    ),
  ),
);

export const DEFAULT_RATE_LIMIT = {
  enabled: false,
  requests_per_minute: 60,
  burst_limit: 10,
} as const;

const rateLimitSchema = notArray(
  v.strictObject({
    enabled: v.optional(v.boolean(), DEFAULT_RATE_LIMIT.enabled),
    requests_per_minute: v.optional(
      integerBetween(1, 1000),
      DEFAULT_RATE_LIMIT.requests_per_minute,
    ),
    burst_limit: v.optional(integerBetween(1, 1000), DEFAULT_RATE_LIMIT.burst_limit),
  }),
);

const metadataEntries = {
  tags: v.optional(boundedArray(label(), 50, 'tags')),
  properties: v.optional(jsonMap(50)),
  notes: v.optional(readableText(4000, { lines: true })),
};

const metadataSchema = notArray(v.strictObject(metadataEntries));

const customHeadersSchema = notArray(
  v.pipe(
    v.record(headerName, headerValue),
    v.check((headers) => Object.keys(headers).length <= 50, 'must have at most 50 headers'),
  ),
);

const eventTypesSchema = v.pipe(
  v.array(
    v.picklist(EVENT_TYPES, 'is not a known event type (GET /api/v1/webhooks/events lists them)'),
  ),
  v.minLength(1, 'must list at least one event type'),
  v.transform(unique),
);

const tagsSchema = v.pipe(boundedArray(label(), 50, 'tags'), v.transform(unique));

/** Each create field's own schema, before defaults or optionality. */
export const webhookFields = {
  name: v.pipe(
    v.string(),
    v.trim(),
    v.minLength(1, 'must not be empty'),
    readableText(255, { lines: false }),
  ),
  description: readableText(4000, { lines: true }),
  url: absoluteHttpUrl,
  method: v.picklist(HTTP_METHODS, oneOf(HTTP_METHODS)),
  event_types: eventTypesSchema,
  security: securitySchema,
  payload_format: v.picklist(PAYLOAD_FORMATS, oneOf(PAYLOAD_FORMATS)),
  content_type: mediaType,
  custom_headers: customHeadersSchema,
  event_filter: eventFilterSchema,
  payload_fields: payloadFieldsSchema,
  payload_transformation: payloadTransformationSchema,
  retry_config: retryConfigSchema,
  is_active: v.boolean(),
  is_test_mode: v.boolean(),
  verify_ssl: v.boolean(),
  secret_token: headerSecretValue,
  rate_limit: rateLimitSchema,
  metadata: metadataSchema,
  tags: tagsSchema,
};

const fields = webhookFields;

/** What POST /webhooks accepts, with the contract's defaults filled in. */
export const webhookConfigSchema = v.strictObject({
  name: fields.name,
  description: v.optional(v.nullable(fields.description)),
  url: fields.url,
  method: v.optional(fields.method, 'POST'),
  event_types: fields.event_types,
  security: v.optional(fields.security, () => ({ type: 'none' as const })),
  payload_format: v.optional(fields.payload_format, 'json'),
  content_type: v.optional(v.nullable(fields.content_type)),
  custom_headers: v.optional(v.nullable(fields.custom_headers)),
  event_filter: v.optional(v.nullable(fields.event_filter)),
  payload_fields: v.optional(v.nullable(fields.payload_fields)),
  payload_transformation: v.optional(v.nullable(fields.payload_transformation)),
  retry_config: v.optional(fields.retry_config, () => ({ ...DEFAULT_RETRY_CONFIG })),
  is_active: v.optional(fields.is_active, true),
  is_test_mode: v.optional(fields.is_test_mode, false),
  verify_ssl: v.optional(fields.verify_ssl, true),
  secret_token: v.optional(v.nullable(fields.secret_token)),
  rate_limit: v.optional(fields.rate_limit, () => ({ ...DEFAULT_RATE_LIMIT })),
  metadata: v.optional(v.nullable(fields.metadata)),
  tags: v.optional(v.nullable(fields.tags)),
});

/**
 * What PUT /webhooks/{id} accepts: any create field. A field given replaces
 * the stored one as a whole (nested defaults applied as on create); `null`
 * clears an optional field; an absent field is left as it is.
 */
export const webhookPatchSchema = v.strictObject({
  name: v.optional(fields.name),
  description: v.optional(v.nullable(fields.description)),
  url: v.optional(fields.url),
  method: v.optional(fields.method),
  event_types: v.optional(fields.event_types),
  security: v.optional(fields.security),
  payload_format: v.optional(fields.payload_format),
  content_type: v.optional(v.nullable(fields.content_type)),
  custom_headers: v.optional(v.nullable(fields.custom_headers)),
  event_filter: v.optional(v.nullable(fields.event_filter)),
  payload_fields: v.optional(v.nullable(fields.payload_fields)),
  payload_transformation: v.optional(v.nullable(fields.payload_transformation)),
  retry_config: v.optional(fields.retry_config),
  is_active: v.optional(fields.is_active),
  is_test_mode: v.optional(fields.is_test_mode),
  verify_ssl: v.optional(fields.verify_ssl),
  secret_token: v.optional(v.nullable(fields.secret_token)),
  rate_limit: v.optional(fields.rate_limit),
  metadata: v.optional(v.nullable(fields.metadata)),
  tags: v.optional(v.nullable(fields.tags)),
});

export type WebhookConfig = v.InferOutput<typeof webhookConfigSchema>;
export type WebhookPatch = v.InferOutput<typeof webhookPatchSchema>;
export type Security = v.InferOutput<typeof securitySchema>;
export type RetryConfig = v.InferOutput<typeof retryConfigSchema>;
export type EventFilter = v.InferOutput<typeof eventFilterSchema>;

/**
 * Fields that appear in responses but are not settable. A client that sends a
 * fetched webhook back (GET, edit, PUT) may include them; they are ignored.
 */
export const READ_ONLY_FIELDS = [
  'webhook_id',
  'tenant',
  'signing_secret',
  'total_deliveries',
  'successful_deliveries',
  'failed_deliveries',
  'last_delivery_at',
  'last_success_at',
  'last_failure_at',
  'auto_disabled_at',
  'created_at',
  'updated_at',
] as const;

/** Drops read-only response fields from a request body before validation. */
export const withoutReadOnlyFields = (body: Record<string, unknown>): Record<string, unknown> => {
  const copy = { ...body };
  for (const field of READ_ONLY_FIELDS) delete copy[field];
  return copy;
};

/**
 * The webhook's circuit breaker and delivery lane, kept by the delivery
 * workers (functions/domain/delivery/circuit.ts); flat attributes, so that a
 * batch's failures are one ADD. Never part of a response or a PUT.
 */
const circuitEntries = {
  /** Counted failures in a row while the circuit is closed. */
  circuit_failures: v.nullish(v.number()),
  /** How many of them timed out. */
  circuit_timeouts: v.nullish(v.number()),
  /** Set while the circuit is open: when it opened. */
  circuit_opened_at: v.nullish(v.string()),
  /** While open: no probe before this time. */
  circuit_retry_at: v.nullish(v.string()),
  /** Failed probes since it opened; each doubles the wait before the next. */
  circuit_reopens: v.nullish(v.number()),
  /** When the latest probe was claimed. */
  circuit_probe_at: v.nullish(v.string()),
  /** The failure that opened the circuit, as people read it. */
  circuit_last_failure: v.nullish(v.string()),
  /** `standard` once the receiver has answered fast; otherwise its jobs take the overflow lane. */
  lane: v.nullish(v.picklist(['standard', 'overflow'])),
  lane_since: v.nullish(v.string()),
};

/** The stored webhook: its configuration plus what the service keeps about it. */
export const webhookRecordSchema = v.object({
  ...webhookConfigSchema.entries,
  // Text and URL rules added since a webhook may have been saved are not run
  // on read either: such a webhook stays readable, and a PUT can mend it.
  name: v.string(),
  description: v.optional(v.nullable(v.string())),
  url: v.string(),
  security: v.variant('type', securityOptions(v.string())),
  metadata: v.optional(
    v.nullable(v.strictObject({ ...metadataEntries, notes: v.optional(v.string()) })),
  ),
  payload_transformation: v.optional(v.nullable(storedPayloadTransformationSchema)),
  webhook_id: v.string(),
  tenant: v.string(),
  signing_secret: v.string(),
  /** Secrets replaced by a rotation that keep signing until they expire. */
  previous_signing_secrets: v.optional(
    v.array(v.object({ secret: v.string(), expires_at: v.string() })),
  ),
  total_deliveries: v.number(),
  successful_deliveries: v.number(),
  failed_deliveries: v.number(),
  last_delivery_at: v.nullish(v.string()),
  last_success_at: v.nullish(v.string()),
  last_failure_at: v.nullish(v.string()),
  auto_disabled_at: v.nullish(v.string()),
  /** The first failed attempt of an unbroken run of failures; any success removes it. */
  failing_since: v.nullish(v.string()),
  ...circuitEntries,
  created_at: v.string(),
  updated_at: v.string(),
  version: v.number(),
});

export type WebhookRecord = v.InferOutput<typeof webhookRecordSchema>;
