import * as v from 'valibot';
import { templateProblem } from './template.ts';

/**
 * Building blocks shared by the webhook schemas: header names and values, dot
 * paths into event data, URLs, secrets. Each carries the message a client sees
 * when it fails.
 */

/** RFC 9110 token: what an HTTP header name may contain. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Visible ASCII, spaces and tabs: no CR or LF, so no header injection. */
const HEADER_VALUE = /^[\t\x20-\x7e]*$/;
/** Segments of letters, digits, `_`, `-` or `$`, joined by dots. */
const DOT_PATH = /^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$/;
/** Names that reach into prototypes: refused as path segments and as body keys. */
const PROTOTYPE_KEYS: ReadonlySet<string> = new Set(['__proto__', 'prototype', 'constructor']);
export const isPrototypeKey = (name: string): boolean => PROTOTYPE_KEYS.has(name);
/** The event's own keys in every payload, which custom_fields cannot replace. */
export const BASE_PAYLOAD_KEYS: readonly string[] = [
  'event_id',
  'event_type',
  'occurred_at',
  'tenant_id',
  'data',
];
export const isBasePayloadKey = (name: string): boolean => BASE_PAYLOAD_KEYS.includes(name);
const MEDIA_TYPE =
  /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*([ \t]*;[\t\x20-\x7e]*)?$/;

/** Headers the service sets itself on every delivery; nobody may override them. */
const RESERVED_HEADERS = new Set([
  'content-type',
  'content-length',
  'host',
  'user-agent',
  'connection',
  'transfer-encoding',
  'keep-alive',
  'upgrade',
  'te',
  'trailer',
  'proxy-authorization',
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
]);

export const isReservedHeader = (name: string): boolean => {
  const lower = name.toLowerCase();
  return RESERVED_HEADERS.has(lower) || lower.startsWith('x-alga-');
};

/** Any header name HTTP allows, ours included: for headers as a receiver got them. */
export const anyHeaderName = v.pipe(
  v.string(),
  v.minLength(1, 'must not be empty'),
  v.maxLength(128, 'must be at most 128 characters'),
  v.regex(HEADER_NAME, "may contain only letters, digits and !#$%&'*+.^_`|~-"),
);

export const headerName = v.pipe(
  anyHeaderName,
  v.check(
    (name) => !isReservedHeader(name),
    'is a header the service sets on every delivery, so it cannot be configured',
  ),
);

export const headerValue = v.pipe(
  v.string(),
  v.maxLength(8192, 'must be at most 8192 characters'),
  v.regex(HEADER_VALUE, 'may contain only printable ASCII characters, spaces and tabs'),
);

export const isDotPath = (path: string): boolean =>
  DOT_PATH.test(path) && path.split('.').every((segment) => !isPrototypeKey(segment));

export const dotPath = v.pipe(
  v.string(),
  v.maxLength(256, 'must be at most 256 characters'),
  v.check(
    isDotPath,
    'must be a dot path such as "ticket.status" (letters, digits, _ - $; no __proto__, prototype or constructor)',
  ),
);

export const absoluteHttpUrl = v.pipe(
  v.string(),
  v.maxLength(2048, 'must be at most 2048 characters'),
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    const problem = urlProblem(dataset.value);
    if (problem) addIssue({ message: problem });
  }),
);

/** C0 and C1 controls and DEL. */
const CONTROL_CHARACTER = /\p{Cc}/u;

const urlProblem = (value: string): string | undefined => {
  // The URL parser drops tabs and line breaks anywhere, and spaces at the ends,
  // without a word: the URL stored and shown would not be the one requested.
  if (CONTROL_CHARACTER.test(value)) {
    return 'must not contain control characters (such as CR, LF or tab)';
  }
  if (value.startsWith(' ') || value.endsWith(' ')) return 'must not start or end with a space';
  if (!URL.canParse(value)) return 'must be an absolute http(s) URL';
  const url = new URL(value);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must use http or https';
  if (!url.hostname) return 'must name a host';
  // Port 0 means "any free port" to a listener; nothing can be reached on it.
  if (url.port === '0') return 'must not use port 0';
  if (url.username || url.password) {
    return 'must not carry credentials; use security.type basic_auth instead';
  }
  return undefined;
};

export const secretValue = v.pipe(
  v.string(),
  v.minLength(1, 'must not be empty'),
  v.maxLength(1024, 'must be at most 1024 characters'),
);

/** A secret that is sent as (part of) a header value: no CR, LF or other controls. */
export const headerSecretValue = v.pipe(
  secretValue,
  v.regex(HEADER_VALUE, 'may contain only printable ASCII characters, spaces and tabs'),
);

export const mediaType = v.pipe(
  v.string(),
  v.maxLength(255, 'must be at most 255 characters'),
  v.regex(MEDIA_TYPE, 'must be a media type such as "application/json"'),
);

/**
 * Bidirectional embeddings, overrides and isolates (U+202A-U+202E,
 * U+2066-U+2069): they make text display in another order than it is stored,
 * so a name could pass for another in a console or a log.
 */
const BIDI_CONTROL = /[\u202a-\u202e\u2066-\u2069]/u;
/** Controls other than tab, LF and CR, which multi-line text may contain. */
const CONTROL_BUT_LINE_BREAK = /[^\P{Cc}\t\n\r]/u;

/**
 * Text people read (names, descriptions, notes): no bidi controls, no control
 * characters; `lines` allows tabs and line breaks. (Lone surrogates are
 * refused in every string of a body, by json-shape.ts.)
 */
export const readableText = (max: number, options: { lines: boolean }) =>
  v.pipe(
    v.string(),
    v.maxLength(max, `must be at most ${max} characters`),
    v.check(
      (text) => !(options.lines ? CONTROL_BUT_LINE_BREAK : CONTROL_CHARACTER).test(text),
      options.lines
        ? 'must not contain control characters other than tab, CR and LF (NUL, for one)'
        : 'must not contain control characters (NUL, tab, CR or LF, for example)',
    ),
    v.check(
      (text) => !BIDI_CONTROL.test(text),
      'must not contain bidirectional override, embedding or isolate characters (U+202A-U+202E, U+2066-U+2069)',
    ),
  );

/** UUIDs are read in either case (RFC 9562) and used in lower case, as the service writes them. */
export const uuidString = v.pipe(v.string(), v.uuid('must be a UUID'), v.toLowerCase());

/** Each notArray guard and the schema it guards. */
const guarded = new WeakMap<v.GenericSchema, v.GenericSchema>();

/**
 * valibot's object and record schemas accept arrays (an array is an object),
 * and would turn `retry_config: []` into the defaults and `custom_headers:
 * ["x"]` into a header named "0". This refuses them first.
 */
export const notArray = <S extends v.GenericSchema>(schema: S) => {
  const guard = v.custom<v.InferInput<S>>(
    (input) => !Array.isArray(input),
    'must be an object, not an array',
  );
  guarded.set(guard, schema);
  return v.pipe(guard, schema);
};

/**
 * The schema a notArray guard stands before, for describing it (the OpenAPI
 * document describes the object, not the guard); undefined for any other.
 */
export const guardedBy = (guard: v.GenericSchema): v.GenericSchema | undefined =>
  guarded.get(guard);

export const label = (max = 100) =>
  v.pipe(
    v.string(),
    v.minLength(1, 'must not be empty'),
    v.maxLength(max, `must be at most ${max} characters`),
  );

export const boundedArray = <S extends v.GenericSchema>(item: S, max: number, what = 'items') =>
  v.pipe(v.array(item), v.maxLength(max, `must have at most ${max} ${what}`));

/** Builds the path item valibot expects when a check points at a key of an object. */
export const issuePath = (input: Record<string, unknown>, key: string): v.ObjectPathItem => ({
  type: 'object',
  origin: 'value',
  input,
  key,
  value: input[key],
});

/** Drops repeated entries, keeping the first occurrence's order. */
export const unique = <T>(items: readonly T[]): T[] => [...new Set(items)];

export const integerBetween = (min: number, max: number) =>
  v.pipe(
    v.number(),
    v.integer(`must be an integer from ${min} to ${max}`),
    v.minValue(min, `must be an integer from ${min} to ${max}`),
    v.maxValue(max, `must be an integer from ${min} to ${max}`),
  );

/** Any JSON value: what `JSON.parse` can produce. */
export const jsonValue = v.custom<unknown>(
  (value) => value !== undefined && typeof value !== 'function' && typeof value !== 'symbol',
  'must be a JSON value',
);

export const jsonMap = (maxKeys: number, key: v.GenericSchema<string> = label(128)) =>
  notArray(
    v.pipe(
      v.record(key, jsonValue),
      v.check((map) => Object.keys(map).length <= maxKeys, `must have at most ${maxKeys} entries`),
    ),
  );

/**
 * A Handlebars template that compiles in the delivery sandbox: a syntax error,
 * an unknown helper or a partial is reported when the webhook is saved, not
 * at its first event.
 */
export const handlebarsTemplate = v.pipe(
  v.string(),
  v.minLength(1, 'must not be empty'),
  v.maxLength(65_536, 'must be at most 65536 characters'),
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    const problem = templateProblem(dataset.value);
    if (problem) addIssue({ message: problem });
  }),
);

const ISO_INSTANT =
  /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|([+-])(\d{2}):?(\d{2}))?)?$/;

/**
 * An ISO-8601 date or date-time as an instant. No zone means UTC, wherever
 * this runs; impossible dates (February 30th) are refused, not rolled over;
 * so are instants outside years 0001-9999, whose ISO strings would not sort
 * among the others.
 */
export const parseInstant = (value: string): Date | string => {
  const match = ISO_INSTANT.exec(value);
  if (!match) return 'must be an ISO-8601 date or date-time';
  const [, year, month, day, hour = '0', minute = '0', second = '0', fraction = '0'] = match;
  const [sign, offsetHours = '0', offsetMinutes = '0'] = match.slice(9);
  const [y, mo, d, h, mi, se] = [year, month, day, hour, minute, second].map(Number);
  if (y === undefined || mo === undefined || d === undefined) return 'must be an ISO-8601 date';
  if (h === undefined || mi === undefined || se === undefined) return 'must be an ISO-8601 time';
  const date = new Date(0);
  date.setUTCFullYear(y, mo - 1, d);
  date.setUTCHours(h, mi, se, Number(fraction.padEnd(3, '0').slice(0, 3)));
  const real =
    y >= 1 &&
    date.getUTCFullYear() === y &&
    date.getUTCMonth() === mo - 1 &&
    date.getUTCDate() === d &&
    date.getUTCHours() === h &&
    date.getUTCMinutes() === mi &&
    date.getUTCSeconds() === se &&
    Number(offsetHours) <= 23 &&
    Number(offsetMinutes) <= 59;
  if (!real) return 'must be a real calendar date and time';
  const offset = (sign === '-' ? -1 : 1) * (Number(offsetHours) * 60 + Number(offsetMinutes));
  const instant = new Date(date.getTime() - offset * 60_000);
  const instantYear = instant.getUTCFullYear();
  if (instantYear < 1 || instantYear > 9999) return 'must fall between the years 0001 and 9999';
  return instant;
};

export const isoTimestamp = v.pipe(
  v.string(),
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    const parsed = parseInstant(dataset.value);
    if (typeof parsed === 'string') {
      addIssue({ message: parsed });
      return NEVER;
    }
    return { given: dataset.value, instant: parsed };
  }),
);
