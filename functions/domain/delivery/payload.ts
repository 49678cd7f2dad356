import { XMLBuilder, XMLValidator } from 'fast-xml-parser';
import qs from 'qs';
import { isBasePayloadKey, isPrototypeKey } from '../webhooks/fields.ts';
import type { WebhookRecord } from '../webhooks/schema.ts';
import { renderTemplate, TemplateError } from '../webhooks/template.ts';
import { effectiveContentType } from '../webhooks/webhook.ts';
import type { DeliveryEvent } from './model.ts';

/**
 * Turns an event into the body a webhook receives (contract: "What a receiver
 * gets"): the base object, the webhook's payload_fields, its
 * payload_transformation, an optional Handlebars template, then the format.
 * Pure: the event is deep-copied first and never changed.
 */

export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

export type PayloadWebhook = Pick<
  WebhookRecord,
  'payload_format' | 'content_type' | 'payload_fields' | 'payload_transformation' | 'method'
>;

/** The webhook's own settings cannot produce a body: a delivery `config` failure. */
export class PayloadError extends Error {
  override readonly name = 'PayloadError';
}

export interface RenderedPayload {
  /** Absent for GET and DELETE. */
  body: string | undefined;
  contentType: string;
}

const isObject = (value: JsonValue | undefined): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** A deep copy holding JSON values only, without keys that reach into prototypes. */
const toJson = (value: unknown): JsonValue | undefined => {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (Array.isArray(value)) return value.map((item) => toJson(item) ?? null);
  if (typeof value === 'object') return toJsonObject(value);
  return undefined;
};

const toJsonObject = (value: object): JsonObject => {
  const copy: JsonObject = {};
  for (const [key, item] of Object.entries(value)) {
    if (isPrototypeKey(key)) continue;
    const json = toJson(item);
    if (json !== undefined) copy[key] = json;
  }
  return copy;
};

const pathSegments = (path: string): string[] | undefined => {
  const segments = path.split('.');
  return segments.some(isPrototypeKey) ? undefined : segments;
};

/** Arrays are leaves: a path does not step into one. */
const valueAt = (source: JsonObject, segments: readonly string[]): JsonValue | undefined => {
  let current: JsonValue | undefined = source;
  for (const segment of segments) {
    if (!isObject(current) || !Object.hasOwn(current, segment)) return undefined;
    current = current[segment];
  }
  return current;
};

const setAt = (target: JsonObject, segments: readonly string[], value: JsonValue): void => {
  let current = target;
  for (const segment of segments.slice(0, -1)) {
    const next = Object.hasOwn(current, segment) ? current[segment] : undefined;
    if (isObject(next)) {
      current = next;
    } else {
      const created: JsonObject = {};
      current[segment] = created;
      current = created;
    }
  }
  const last = segments.at(-1);
  if (last !== undefined) current[last] = value;
};

/** Only the given dot paths, nesting kept; a path and its parent together keep the parent whole. */
const keepPaths = (source: JsonObject, paths: readonly string[]): JsonObject => {
  const kept: JsonObject = {};
  for (const path of paths) {
    const segments = pathSegments(path);
    const value = segments && valueAt(source, segments);
    if (segments && value !== undefined) setAt(kept, segments, value);
  }
  return kept;
};

/** Changes `target` in place: only ever a copy made here. */
const removePath = (target: JsonObject, path: string): void => {
  const segments = pathSegments(path);
  const last = segments?.at(-1);
  if (!segments || last === undefined) return;
  const parent = valueAt(target, segments.slice(0, -1));
  if (isObject(parent) && Object.hasOwn(parent, last)) delete parent[last];
};

/** `{a: {b: 1}, tags: ['x']}` becomes `{"a.b": 1, "tags.0": "x"}`; empty objects and arrays stay as values. */
const flatten = (object: JsonObject): JsonObject => {
  const flat: JsonObject = {};
  const visit = (key: string, value: JsonValue): void => {
    const children = Array.isArray(value)
      ? value.map((item, index): [string, JsonValue] => [String(index), item])
      : isObject(value)
        ? Object.entries(value)
        : [];
    if (children.length === 0) flat[key] = value;
    for (const [childKey, child] of children) visit(`${key}.${childKey}`, child);
  };
  for (const [key, value] of Object.entries(object)) visit(key, value);
  return flat;
};

/** payload_fields: the entity's allowlist, plus its id (`id`, `<entity>_id`) whenever present. */
const selectEntityFields = (
  data: JsonObject,
  payloadFields: PayloadWebhook['payload_fields'],
  entityType: string,
): JsonObject => {
  if (!payloadFields || !Object.hasOwn(payloadFields, entityType)) return data;
  const allowed = payloadFields[entityType];
  return allowed ? keepPaths(data, ['id', `${entityType}_id`, ...allowed]) : data;
};

const transform = (
  payload: JsonObject,
  transformation: PayloadWebhook['payload_transformation'],
): JsonObject => {
  if (!transformation) return payload;
  const { include_fields, exclude_fields, custom_fields, flatten_nested } = transformation;
  // An empty include list is read as "not set": keeping nothing is never what was meant.
  const included = include_fields?.length ? keepPaths(payload, include_fields) : payload;
  for (const path of exclude_fields ?? []) removePath(included, path);
  // Added after include/exclude so configured extras always arrive. Saving refuses
  // base keys; webhooks stored before that rule must still not replace them.
  for (const [key, value] of Object.entries(toJsonObject(custom_fields ?? {}))) {
    if (!isBasePayloadKey(key)) included[key] = value;
  }
  return flatten_nested ? flatten(included) : included;
};

/** Steps 1-3 of the contract without the template: the object every format encodes. */
export const payloadObject = (webhook: PayloadWebhook, event: DeliveryEvent): JsonObject => {
  const base: JsonObject = {
    event_id: event.event_id,
    event_type: event.event_type,
    occurred_at: event.occurred_at,
    tenant_id: event.tenant_id,
    data: selectEntityFields(toJsonObject(event.data), webhook.payload_fields, event.entity_type),
  };
  return transform(base, webhook.payload_transformation);
};

// ---- Formats ---------------------------------------------------------------

/** Letters, digits, `_ - .`, not starting with a digit, `-` or `.`; no `:` (namespaces). */
const XML_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
/** Characters XML 1.0 cannot carry at all, not even as references. */
const NOT_XML_CHARS = /[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

const xmlText = (text: string): string => text.replace(NOT_XML_CHARS, '\uFFFD');

/** `2fa` becomes `_2fa`, `due date` becomes `due_date`. */
const xmlName = (key: string): string => {
  const replaced = key.replace(/[^A-Za-z0-9_.-]/g, '_');
  return XML_NAME.test(replaced) ? replaced : `_${replaced}`;
};

type XmlAttributes = { '@_key': string } | undefined;

const xmlElement = (value: JsonValue, attributes: XmlAttributes): unknown => {
  // An array inside an array has no name of its own: its items become <item>.
  if (Array.isArray(value))
    return { ...attributes, item: value.map((v) => xmlElement(v, undefined)) };
  if (isObject(value)) return { ...attributes, ...xmlChildren(value) };
  const text = typeof value === 'string' ? xmlText(value) : value;
  if (!attributes) return text;
  return text === null ? attributes : { ...attributes, '#text': text };
};

/**
 * Keys that are not XML names are renamed and keep the original in a `key`
 * attribute. Renamed keys that collide become repeated elements.
 */
const xmlChildren = (object: JsonObject): Record<string, unknown[]> => {
  const children: Record<string, unknown[]> = {};
  for (const [key, value] of Object.entries(object)) {
    const name = xmlName(key);
    const attributes = name === key ? undefined : { '@_key': xmlText(key) };
    const elements = Array.isArray(value)
      ? value.map((item) => xmlElement(item, attributes))
      : [xmlElement(value, attributes)];
    children[name] = [...(children[name] ?? []), ...elements];
  }
  return children;
};

const xmlBuilder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: '@_' });

const toXml = (payload: JsonObject): string =>
  `<?xml version="1.0" encoding="UTF-8"?>${xmlBuilder.build({ webhook: xmlChildren(payload) })}`;

const encode = (format: PayloadWebhook['payload_format'], payload: JsonObject): string => {
  switch (format) {
    case 'xml':
      return toXml(payload);
    case 'form_data':
      return qs.stringify(payload, { arrayFormat: 'indices' });
    default:
      return JSON.stringify(payload);
  }
};

/** A failing template is the webhook's settings failing, like any other config failure. */
const renderWebhookTemplate = (template: string, payload: JsonObject): string => {
  try {
    return renderTemplate(template, payload);
  } catch (error) {
    if (error instanceof TemplateError) throw new PayloadError(error.message, { cause: error });
    throw error;
  }
};

/** A template's output is sent as it is; json and xml must at least be well-formed. */
const checkTemplated = (format: PayloadWebhook['payload_format'], output: string): string => {
  if (format === 'json') {
    try {
      JSON.parse(output);
    } catch {
      throw new PayloadError('The payload template must render JSON for payload_format json');
    }
  }
  if (format === 'xml' && XMLValidator.validate(output) !== true) {
    throw new PayloadError(
      'The payload template must render well-formed XML for payload_format xml',
    );
  }
  return output;
};

/** Every step. Throws PayloadError when the webhook's settings cannot produce a body. */
export const renderPayload = (webhook: PayloadWebhook, event: DeliveryEvent): RenderedPayload => {
  const contentType = effectiveContentType(webhook);
  if (webhook.method === 'GET' || webhook.method === 'DELETE')
    return { body: undefined, contentType };
  const payload = payloadObject(webhook, event);
  const template = webhook.payload_transformation?.template;
  const body = template
    ? checkTemplated(webhook.payload_format, renderWebhookTemplate(template, payload))
    : encode(webhook.payload_format, payload);
  return { body, contentType };
};
