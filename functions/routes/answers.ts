import * as v from 'valibot';
import { DELIVERY_STATUSES, deliveryEventSchema, ERROR_CLASSES } from '../domain/delivery/model.ts';
import { attemptRecordSchema } from '../domain/delivery/record.ts';
import { PRESET_IDS } from '../domain/presets/presets.ts';
import { webhookViewSchema } from '../domain/webhooks/view.ts';

/**
 * The answers' shapes, as valibot schemas: the OpenAPI document describes
 * them, and test/api/openapi.test.ts holds the integration tests' recorded
 * answers to them. Views built elsewhere (delivery history, tests, verify)
 * are checked against these by type in test/api/answers.test-d.ts.
 */

const timestamp = v.pipe(v.string(), v.isoTimestamp());
const uuid = v.pipe(v.string(), v.uuid());

/** `{"data": ...}`, the contract's envelope of one object. */
export const dataOf = <S extends v.GenericSchema>(schema: S) => v.strictObject({ data: schema });

export const errorAnswerSchema = v.strictObject({
  error: v.strictObject({
    code: v.picklist([
      'VALIDATION_ERROR',
      'BAD_REQUEST',
      'UNAUTHORIZED',
      'FORBIDDEN',
      'NOT_FOUND',
      'METHOD_NOT_ALLOWED',
      'CONFLICT',
      'PAYLOAD_TOO_LARGE',
      'RATE_LIMITED',
      'INTERNAL_ERROR',
    ]),
    message: v.string(),
    /** Each bad field and why (400), or the fields a key may not change (403). */
    details: v.optional(v.array(v.strictObject({ field: v.string(), message: v.string() }))),
  }),
});

export const webhookAnswerSchema = dataOf(webhookViewSchema);

export const webhookListAnswerSchema = v.strictObject({
  data: v.array(webhookViewSchema),
  pagination: v.strictObject({
    page: v.number(),
    limit: v.number(),
    total: v.number(),
    totalPages: v.number(),
    hasNext: v.boolean(),
    hasPrev: v.boolean(),
  }),
  meta: v.strictObject({
    sort: v.string(),
    order: v.picklist(['asc', 'desc']),
    /** The filters given, as read (booleans, numbers, dates as ISO instants). */
    filters: v.record(v.string(), v.union([v.string(), v.boolean(), v.number()])),
  }),
});

export const eventTypesAnswerSchema = dataOf(v.array(v.string()));

export const subscriptionsAnswerSchema = dataOf(
  v.strictObject({ webhook_id: uuid, event_types: v.array(v.string()) }),
);

export const presetSchema = v.strictObject({
  id: v.picklist(PRESET_IDS),
  name: v.string(),
  description: v.string(),
  documentation_url: v.pipe(v.string(), v.url()),
  payload_format: v.literal('json'),
  content_type: v.string(),
  payload_transformation: v.strictObject({ template: v.string() }),
});

export const presetDetailSchema = v.strictObject({
  ...presetSchema.entries,
  /** The preset rendered for a sample event: what the tool receives. */
  example: v.strictObject({ event: deliveryEventSchema, body: v.string() }),
});

const nullableTimestamp = v.nullable(timestamp);

export const deliverySummarySchema = v.object({
  delivery_id: uuid,
  webhook_id: uuid,
  event_id: v.string(),
  event_type: v.string(),
  status: v.picklist(DELIVERY_STATUSES),
  is_test: v.boolean(),
  attempt_count: v.number(),
  last_status_code: v.nullable(v.number()),
  last_error_class: v.nullable(v.picklist(ERROR_CLASSES)),
  last_error_message: v.nullable(v.string()),
  last_attempt_at: nullableTimestamp,
  next_retry_at: nullableTimestamp,
  final_reason: v.nullable(v.string()),
  created_at: timestamp,
  updated_at: timestamp,
  completed_at: nullableTimestamp,
});

export const deliveryDetailSchema = v.object({
  ...deliverySummarySchema.entries,
  event: deliveryEventSchema,
  attempts: v.array(
    v.object({
      ...attemptRecordSchema.entries,
      status_code: v.nullable(v.number()),
      error_class: v.nullable(v.picklist(ERROR_CLASSES)),
      error_message: v.nullable(v.string()),
      next_retry_at: v.nullable(v.string()),
    }),
  ),
});

export const deliveryListAnswerSchema = v.strictObject({
  data: v.array(deliverySummarySchema),
  pagination: v.strictObject({
    limit: v.number(),
    hasNext: v.boolean(),
    next_cursor: v.nullable(v.string()),
  }),
  meta: v.strictObject({
    filters: v.strictObject({
      status: v.nullable(v.string()),
      event_type: v.nullable(v.string()),
      from_date: v.nullable(v.string()),
      to_date: v.nullable(v.string()),
    }),
  }),
});

export const testResultSchema = v.object({
  test_id: v.string(),
  delivery_id: uuid,
  success: v.boolean(),
  status_code: v.nullable(v.number()),
  response_time_ms: v.number(),
  response_body: v.nullable(v.string()),
  error_message: v.nullable(v.string()),
  tested_at: timestamp,
});

export const rotationSchema = v.strictObject({
  webhook_id: uuid,
  signing_secret: v.string(),
  previous_secret_expires_at: nullableTimestamp,
  rotated_at: timestamp,
});

export const verifyResultSchema = v.object({
  valid: v.boolean(),
  /** Each signature found in the sample and whether it holds. */
  checks: v.array(v.looseObject({})),
});

export const publishAnswerSchema = v.strictObject({
  data: v.strictObject({
    /** In the order the events were given; generated ones included. */
    event_ids: v.array(v.string()),
  }),
});
