import * as v from 'valibot';

/**
 * The webhooks API as a client sees it: JSON over HTTP with X-API-Key, each
 * answer checked against the shape the contract gives it.
 */

export interface Answer<T> {
  status: number;
  text: string;
  /** The parsed body, when the status was the expected one. */
  body: T;
}

const nullableString = v.nullable(v.string());

export const createdSchema = v.object({
  data: v.object({
    webhook_id: v.string(),
    tenant: v.string(),
    url: v.string(),
    event_types: v.array(v.string()),
    signing_secret: v.string(),
  }),
});

export const webhookSchema = v.object({
  data: v.object({ webhook_id: v.string(), url: v.string(), signing_secret: v.string() }),
});

export const errorSchema = v.object({ error: v.object({ code: v.string(), message: v.string() }) });

const summaryEntries = {
  delivery_id: v.string(),
  event_id: v.string(),
  event_type: v.string(),
  status: v.string(),
  attempt_count: v.number(),
  last_status_code: v.nullable(v.number()),
  final_reason: nullableString,
};

export const historySchema = v.object({
  data: v.array(v.object(summaryEntries)),
  pagination: v.object({ limit: v.number(), hasNext: v.boolean(), next_cursor: nullableString }),
});

export const deliverySchema = v.object({
  data: v.object({
    ...summaryEntries,
    attempts: v.array(
      v.object({
        attempt: v.number(),
        started_at: v.string(),
        duration_ms: v.number(),
        status_code: v.nullable(v.number()),
        error_class: nullableString,
        next_retry_at: nullableString,
        request: v.object({ headers: v.record(v.string(), v.string()) }),
      }),
    ),
  }),
});

export type Delivery = v.InferOutput<typeof deliverySchema>['data'];

export const webhooksApi = (apiUrl: string, apiKey: string) => {
  const call = async <S extends v.GenericSchema>(
    method: string,
    path: string,
    expected: { status: number; schema: S },
    options: { body?: unknown; apiKey?: string | null } = {},
  ): Promise<Answer<v.InferOutput<S>>> => {
    const key = options.apiKey === undefined ? apiKey : options.apiKey;
    const response = await fetch(`${apiUrl}${path}`, {
      method,
      headers: {
        ...(key === null ? {} : { 'X-API-Key': key }),
        ...(options.body === undefined ? {} : { 'Content-Type': 'application/json' }),
      },
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    });
    const text = await response.text();
    if (response.status !== expected.status) {
      throw new Error(
        `${method} ${path}: expected ${expected.status}, got ${response.status}: ${text}`,
      );
    }
    return {
      status: response.status,
      text,
      body: v.parse(expected.schema, text === '' ? undefined : JSON.parse(text)),
    };
  };
  return { call };
};

export type WebhooksApi = ReturnType<typeof webhooksApi>;

/** Asks `probe` until it answers something, or fails after `timeoutMs` saying what it waited for. */
export const pollUntil = async <T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
};
