import * as v from 'valibot';

/**
 * The shapes delivery passes between its steps: the event as the fan-out
 * accepted it, the queue message a worker is handed, the HTTP request built
 * for one attempt, and what sending it gave. Pure data; no SDK or Lambda types.
 */

/** A producer's event after validation and defaults (functions/domain/events/ingest.ts). */
export const deliveryEventSchema = v.object({
  event_id: v.string(),
  event_type: v.string(),
  tenant_id: v.string(),
  /** ISO-8601 UTC. */
  occurred_at: v.string(),
  entity_type: v.string(),
  entity_id: v.optional(v.string()),
  tags: v.optional(v.array(v.string())),
  data: v.record(v.string(), v.unknown()),
});

export type DeliveryEvent = v.InferOutput<typeof deliveryEventSchema>;

/** One message of a batch, as a queue consumer is handed it. */
export interface QueueMessage {
  /** The queue's id for the message: a redelivery of the same message keeps it. */
  id: string;
  body: string;
  /** When the queue accepted the message (ms epoch), if it says. */
  sentAt?: number | undefined;
  /** Its string message attributes, by name. */
  attributes?: Record<string, string> | undefined;
}

/** One attempt's request, ready to send. */
export interface OutgoingRequest {
  url: string;
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  headers: Record<string, string>;
  /** Absent for GET and DELETE. */
  body?: string | undefined;
}

/**
 * Why an attempt failed. The contract's classes, plus `config`: the webhook's
 * own settings made the request impossible (a template that fails, an OAuth2
 * token endpoint that refuses the credentials); and `invalid_response`: what
 * came back was not HTTP/1.1 (a TLS or SSH server on the port, a malformed
 * status line or headers), so there is no status for `http` to report.
 */
export const ERROR_CLASSES = [
  'dns',
  'connect',
  'tls',
  'timeout',
  'ssrf',
  'http',
  'invalid_response',
  'config',
] as const;
export type ErrorClass = (typeof ERROR_CLASSES)[number];

/** What one HTTP exchange gave, success or not. */
export interface SendResult {
  /** True for a 2xx answer. */
  ok: boolean;
  /** Absent when no answer arrived. */
  status_code?: number | undefined;
  /** Lower-case names. */
  response_headers: Record<string, string>;
  /** The first 8 KiB of the answer, decoded as UTF-8; the rest is discarded. */
  response_body: string;
  duration_ms: number;
  error_class?: ErrorClass | undefined;
  error_message?: string | undefined;
  /**
   * The body failed after the head arrived (cut off, too slow): the status
   * still decides the attempt, but an answer whose body is needed (a token
   * endpoint's) is incomplete.
   */
  body_failure?: { error_class: ErrorClass; error_message: string } | undefined;
}

/** Delivery statuses of the contract. */
export const DELIVERY_STATUSES = [
  'pending',
  'retrying',
  'delivered',
  'failed',
  'abandoned',
] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** A result for an exchange that never got an answer. */
export const failedSend = (errorClass: ErrorClass, message: string): SendResult => ({
  ok: false,
  response_headers: {},
  response_body: '',
  duration_ms: 0,
  error_class: errorClass,
  error_message: message,
});
