import { GSI1, KEYS } from '../functions/commons/table.ts';

/**
 * The resources the stack defines, as plain data. The CDK stack builds them
 * from here and the local runtime creates the same tables and queues from
 * here, so the two cannot drift apart. No CDK imports: the local runtime
 * loads this without aws-cdk-lib.
 */

/**
 * The template metadata key under which a resource carries what only the local
 * runtime needs: the name it takes there (on AWS, CloudFormation names it) and,
 * for a function, the handler file it runs (on AWS, the bundle).
 */
export const LOCAL_METADATA_KEY = 'Hookline::Local';

export interface LocalMetadata {
  name: string;
  /** A function's handler file, relative to the project root. */
  entry?: string;
}

export const CONFIG_TABLE = {
  /** The table's name in the local runtime; on AWS CloudFormation names it. */
  localName: 'hookline-config',
  partitionKey: KEYS.partition,
  sortKey: KEYS.sort,
  indexes: [{ name: GSI1, partitionKey: KEYS.gsi1Partition, sortKey: KEYS.gsi1Sort }],
} as const;

/**
 * Delivery history and what delivery needs to stay exactly-once per attempt:
 * one partition per webhook holding its deliveries (attempts inline), an item
 * per ingested event for de-duplication, and a rate-limit item per webhook.
 * Items expire through the TTL attribute.
 */
export const DELIVERIES_TABLE = {
  localName: 'hookline-deliveries',
  partitionKey: KEYS.partition,
  sortKey: KEYS.sort,
  timeToLiveAttribute: 'expires_at',
} as const;

/**
 * Delivery analytics: per webhook and per tenant, an item per hour that
 * each delivery batch adds to, and an item per day once the day is over
 * (docs/data-model.md). Kept far longer than the history (13 months by
 * default, context `analyticsRetentionMonths`), then expired by TTL.
 */
export const ANALYTICS_TABLE = {
  localName: 'hookline-analytics',
  partitionKey: KEYS.partition,
  sortKey: KEYS.sort,
  timeToLiveAttribute: 'expires_at',
  retentionMonths: { default: 13, min: 1, max: 120 },
} as const;

/** Delivery batches: SQS batch size and how long the event source waits to fill one. */
export const BATCHING = {
  events: { batchSize: 10, maxBatchingWindowSeconds: 0 },
  deliveries: { batchSize: 10, maxBatchingWindowSeconds: 0 },
} as const;

export interface QueueDefinition {
  name: string;
  deadLetterQueue: string;
  /** Above the consuming function's timeout (AWS advises 6x) so a slow batch is not seen twice. */
  visibilityTimeoutSeconds: number;
  /** Receives before a message moves to the dead-letter queue. */
  maxReceiveCount: number;
}

export const QUEUES = {
  /** Producers' events, consumed by the fan-out function. */
  events: {
    name: 'webhook-events',
    deadLetterQueue: 'webhook-events-dlq',
    visibilityTimeoutSeconds: 180,
    maxReceiveCount: 5,
  },
  /** Delivery jobs, consumed by the delivery function. */
  deliveries: {
    name: 'webhook-deliveries',
    deadLetterQueue: 'webhook-deliveries-dlq',
    visibilityTimeoutSeconds: 540,
    maxReceiveCount: 5,
  },
} as const satisfies Record<string, QueueDefinition>;

/**
 * The overflow lane: delivery jobs of webhooks not known to answer fast (new,
 * slow, or with an open circuit), consumed by the delivery function through a
 * mapping of its own, so they never hold the concurrency fast receivers use.
 * Its dead letters go to the deliveries' dead-letter queue.
 */
export const OVERFLOW_QUEUE = {
  name: 'webhook-deliveries-overflow',
  visibilityTimeoutSeconds: QUEUES.deliveries.visibilityTimeoutSeconds,
  maxReceiveCount: QUEUES.deliveries.maxReceiveCount,
} as const;

/**
 * What keeps one receiver's or one tenant's trouble from delaying everyone
 * else's deliveries (docs/architecture.md, "Isolation"). Each is CDK context
 * of the same name, range-checked by the stack, and reaches the workers as an
 * environment variable (functions/commons/isolation-settings.ts).
 */
export const ISOLATION = {
  /** Counted failures in a row (timeouts, connection failures, 5xx) that open a webhook's circuit; 0 turns the breaker off. */
  circuitFailureThreshold: 5,
  /** Timeouts among them that open it sooner: a timeout holds a sender for the webhook's whole timeout. */
  circuitTimeoutThreshold: 2,
  /** Seconds an open circuit waits before its first probe; doubled after each failed probe. */
  circuitOpenSeconds: 30,
  /** The longest wait between two probes, seconds. */
  circuitMaxOpenSeconds: 600,
  /** A send still unanswered after this many ms moves its webhook to the overflow lane; half of it, answered, moves it back. */
  slowReceiverMs: 1000,
  /** Most delivery functions the overflow lane runs at once, besides deliveryConcurrency; 0: no overflow lane. */
  overflowConcurrency: 20,
  /** Events per second one tenant's events enter delivery at, beyond its burst; 0 turns tenant shares off. */
  tenantEventsPerSecond: 100,
  /** Events of a tenant that enter delivery at once before its share paces the rest. */
  tenantBurst: 100,
} as const;

/** Dead-letter queues keep messages for the longest time SQS allows. */
export const DEAD_LETTER_RETENTION_SECONDS = 14 * 24 * 3600;

/** Function timeouts, which the local runtime enforces too. The API's stays under API Gateway's 29 s. */
export const FUNCTION_TIMEOUT_SECONDS = {
  api: 29,
  authorizer: 10,
  fanOut: 30,
  /**
   * A batch's deliveries go out concurrently; the longest attempt is an OAuth2
   * one refreshed after a 401: two token requests (10 s each at most) and two
   * sends (30 s each at most), plus a rate-limit slot wait and bookkeeping.
   */
  delivery: 90,
} as const;

/** Path segments under the stage of every route in functions/routes/table.ts: /api/v1. */
const API_ROOT = ['api', 'v1'] as const;

export interface ApiResourceDefinition {
  /** Segments below API.rootPath. */
  path: readonly string[];
  /** `ANY` sends every method to the API function, which answers 405 itself. */
  methods: readonly ('ANY' | 'GET')[];
  /** Also `{proxy+}` below it, with the same methods and access. */
  subtree: boolean;
  /**
   * `key`: the REQUEST authorizer over X-API-Key and the per-key usage plan.
   * `public`: neither (no key needed), throttled per method instead.
   */
  access: 'key' | 'public';
}

/**
 * The API's resources, one per group of routes in functions/routes/table.ts;
 * the stack builds them and the local gateway serves what the template then
 * holds. A route's path must lie in one of them, with the same access
 * (test/api/openapi.test.ts checks every route against the template).
 */
export const API_RESOURCES: readonly ApiResourceDefinition[] = [
  { path: ['webhooks'], methods: ['ANY'], subtree: true, access: 'key' },
  { path: ['events'], methods: ['ANY'], subtree: false, access: 'key' },
  // The API's description: public, read-only, the same for every caller.
  { path: ['openapi.json'], methods: ['GET'], subtree: false, access: 'public' },
];

export const API = {
  /** Path segments under the stage of the webhooks resource: /api/v1/webhooks (the ApiUrl output). */
  basePath: [...API_ROOT, 'webhooks'],
  /** Path segments under the stage below which every route lives: /api/v1. */
  rootPath: API_ROOT,
  resources: API_RESOURCES,
  /**
   * Throttling of each public method (stage method settings), which no usage
   * plan covers: nobody's key is spent on them, so nobody's bucket limits them.
   */
  publicThrottle: { rateLimit: 10, burstLimit: 20 },
  stageName: 'prod',
  /** How long API Gateway caches an authorizer answer per key; also how long a revoked key may still work. */
  authorizerCacheTtlSeconds: 300,
  /** Per-key throttling (usage plan): steady requests per second and burst. */
  throttle: { rateLimit: 50, burstLimit: 100 },
  /** What a throttled client is told to wait, in seconds. */
  retryAfterSeconds: 1,
} as const;

export interface GatewayResponseDefinition {
  /** The API Gateway response type (aws-cdk-lib ResponseType name). */
  type: string;
  statusCode: number;
  code: string;
  message: string;
}

/**
 * API Gateway's own answers (before or instead of the API function), rewritten
 * into the contract's error envelope. The local runtime answers the same.
 */
export const GATEWAY_RESPONSES: readonly GatewayResponseDefinition[] = [
  {
    type: 'UNAUTHORIZED',
    statusCode: 401,
    code: 'UNAUTHORIZED',
    message: 'Missing or invalid API key',
  },
  {
    type: 'INVALID_API_KEY',
    statusCode: 401,
    code: 'UNAUTHORIZED',
    message: 'Missing or invalid API key',
  },
  { type: 'ACCESS_DENIED', statusCode: 403, code: 'FORBIDDEN', message: 'Access denied' },
  {
    type: 'MISSING_AUTHENTICATION_TOKEN',
    statusCode: 404,
    code: 'NOT_FOUND',
    message: 'No such route',
  },
  { type: 'RESOURCE_NOT_FOUND', statusCode: 404, code: 'NOT_FOUND', message: 'No such route' },
  {
    type: 'THROTTLED',
    statusCode: 429,
    code: 'RATE_LIMITED',
    message: 'Too many requests for this API key',
  },
  {
    type: 'QUOTA_EXCEEDED',
    statusCode: 429,
    code: 'RATE_LIMITED',
    message: 'Request quota exceeded for this API key',
  },
  {
    type: 'REQUEST_TOO_LARGE',
    statusCode: 413,
    code: 'PAYLOAD_TOO_LARGE',
    message: 'The request is too large',
  },
  {
    type: 'BAD_REQUEST_BODY',
    statusCode: 400,
    code: 'BAD_REQUEST',
    message: 'The request body is invalid',
  },
  {
    type: 'BAD_REQUEST_PARAMETERS',
    statusCode: 400,
    code: 'BAD_REQUEST',
    message: 'The request parameters are invalid',
  },
  {
    type: 'AUTHORIZER_FAILURE',
    statusCode: 500,
    code: 'INTERNAL_ERROR',
    message: 'An internal error occurred',
  },
  {
    type: 'AUTHORIZER_CONFIGURATION_ERROR',
    statusCode: 500,
    code: 'INTERNAL_ERROR',
    message: 'An internal error occurred',
  },
  {
    type: 'INTEGRATION_FAILURE',
    statusCode: 502,
    code: 'INTERNAL_ERROR',
    message: 'An internal error occurred',
  },
  {
    type: 'INTEGRATION_TIMEOUT',
    statusCode: 504,
    code: 'INTERNAL_ERROR',
    message: 'The request timed out',
  },
  // Whatever else API Gateway refuses (a WAF block, an unsupported media type) keeps its status.
  {
    type: 'DEFAULT_4XX',
    statusCode: 400,
    code: 'BAD_REQUEST',
    message: 'The request was refused',
  },
  {
    type: 'DEFAULT_5XX',
    statusCode: 500,
    code: 'INTERNAL_ERROR',
    message: 'An internal error occurred',
  },
];

export const gatewayResponse = (type: string): GatewayResponseDefinition => {
  const found = GATEWAY_RESPONSES.find((response) => response.type === type);
  if (!found) throw new Error(`No gateway response of type ${type}`);
  return found;
};

/** Headers a gateway response adds; a throttled client learns when to come back. */
export const gatewayResponseHeaders = (
  definition: GatewayResponseDefinition,
  retryAfterSeconds: number,
): Record<string, string> =>
  definition.statusCode === 429 ? { 'Retry-After': String(retryAfterSeconds) } : {};

export const gatewayResponseBody = (definition: GatewayResponseDefinition): string =>
  JSON.stringify({ error: { code: definition.code, message: definition.message } });

/**
 * The functions' own metrics, written as CloudWatch embedded metric format
 * by Powertools Metrics (no API call per delivery), and read by the stack's
 * alarms and dashboard. Dimensions stay bounded: never a tenant or webhook id
 * (docs/operations.md says how to find one tenant's problems).
 */
export const METRICS = {
  namespace: 'Hookline',
  /** Powertools adds it to every metric as the `service` dimension. */
  service: 'hookline',
  /** Deliveries that reached a final status; dimension `Outcome`: delivered, failed, abandoned. */
  deliveries: 'Deliveries',
  /** Attempts sent; dimension `Result`: success or failure. */
  attempts: 'Attempts',
  /** Failed attempts; dimension `ErrorClass` (functions/domain/delivery/model.ts). */
  attemptErrors: 'AttemptErrors',
  /** Send to answer, per attempt (ms). */
  deliveryLatency: 'DeliveryLatency',
  /** Event accepted on the ingest queue to delivered (ms). */
  endToEndLag: 'EndToEndLag',
  /** Webhooks one event matched (one value per event). */
  fanOutMatches: 'FanOutMatches',
  /** Producer events refused as malformed. */
  eventsRejected: 'EventsRejected',
  /** Deliveries that waited for a rate-limit slot. */
  rateLimitWaits: 'RateLimitWaits',
  /** Webhooks switched off (410 Gone, or failing without a break). */
  webhooksAutoDisabled: 'WebhooksAutoDisabled',
} as const;

/** The alarms' thresholds; docs/operations.md ("Alarms") gives each one's reason. */
export const ALARM_THRESHOLDS = {
  /** Any message in a dead-letter queue. */
  deadLetters: 1,
  /** Oldest message, seconds: producers' events fan out in seconds. */
  ingestAgeSeconds: 300,
  /** Oldest delivery job, seconds: twice the longest delay hop (900 s), so a delayed job never trips it. */
  deliveriesAgeSeconds: 1800,
  /** Oldest dead letter, seconds: a week before SQS drops it at 14 days. */
  deadLetterAgeSeconds: 7 * 24 * 3600,
  /** Uncaught errors or timeouts per function in 5 minutes. */
  functionErrors: 5,
  /** Throttled invocations per function in 5 minutes. */
  functionThrottles: 10,
  /** Failed delivery attempts, percent of all attempts, three 5-minute periods running. */
  deliveryFailurePercent: 25,
  /** API 5xx answers in 5 minutes. */
  api5xx: 5,
  /** Authorizer errors, percent of its invocations in 5 minutes. */
  authorizerErrorPercent: 1,
} as const;
