import fc from 'fast-check';

/**
 * Hostile JSON for the fuzz suites, written as text: objects are lists of
 * entries, so a key may be `__proto__` or appear twice, and a string may hold
 * a lone surrogate (JSON.stringify escapes it, JSON.parse gives it back).
 */

export class JsonObject {
  readonly entries: readonly (readonly [string, Json])[];
  constructor(entries: readonly (readonly [string, Json])[]) {
    this.entries = entries;
  }
}

/** JSON text spliced in as it is: numbers JS cannot hold, nesting too deep to recurse over. */
export class RawJson {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
}

export type Json = null | boolean | number | string | Json[] | JsonObject | RawJson;

export const toJsonText = (value: Json): string => {
  if (value instanceof RawJson) return value.text;
  if (value instanceof JsonObject) {
    return `{${value.entries.map(([key, item]) => `${JSON.stringify(key)}:${toJsonText(item)}`).join(',')}}`;
  }
  if (Array.isArray(value)) return `[${value.map(toJsonText).join(',')}]`;
  return JSON.stringify(value);
};

/** A plain JSON value (from a fixture) as a tree the mutations below can edit. */
export const fromPlain = (value: unknown): Json => {
  if (Array.isArray(value)) return value.map(fromPlain);
  if (typeof value === 'object' && value !== null) {
    return new JsonObject(Object.entries(value).map(([key, item]) => [key, fromPlain(item)]));
  }
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
    return value;
  }
  return null;
};

/** Every path to a value in a tree (keys and indices), the root included, and whether it is an object. */
export const pathsOf = (
  value: Json,
  prefix: readonly (string | number)[] = [],
): { path: (string | number)[]; isObject: boolean }[] => {
  const paths = [{ path: [...prefix], isObject: value instanceof JsonObject }];
  if (value instanceof JsonObject) {
    for (const [key, item] of value.entries) paths.push(...pathsOf(item, [...prefix, key]));
  } else if (Array.isArray(value)) {
    value.forEach((item, index) => {
      paths.push(...pathsOf(item, [...prefix, index]));
    });
  }
  return paths;
};

export type Mutation =
  | { kind: 'set'; path: readonly (string | number)[]; value: Json }
  | { kind: 'remove'; path: readonly (string | number)[] }
  | { kind: 'add'; path: readonly (string | number)[]; key: string; value: Json };

/**
 * Applies a mutation. Setting a missing key adds it; any other path that leads
 * nowhere leaves the tree as it is.
 */
export const mutate = (tree: Json, mutation: Mutation): Json => {
  const [head, ...rest] = mutation.path;
  if (head === undefined) {
    if (mutation.kind === 'set') return mutation.value;
    if (mutation.kind === 'remove') return tree;
    if (tree instanceof JsonObject) {
      return new JsonObject([...tree.entries, [mutation.key, mutation.value]]);
    }
    if (Array.isArray(tree)) return [...tree, mutation.value];
    return tree;
  }
  const inner = { ...mutation, path: rest };
  if (tree instanceof JsonObject) {
    const removing = mutation.kind === 'remove' && rest.length === 0;
    // Setting a key the object lacks adds it.
    if (mutation.kind === 'set' && rest.length === 0 && typeof head === 'string') {
      if (!tree.entries.some(([key]) => key === head)) {
        return new JsonObject([...tree.entries, [head, mutation.value]]);
      }
    }
    return new JsonObject(
      tree.entries
        .filter(([key]) => !(removing && key === head))
        .map(([key, item]) => [key, key === head ? mutate(item, inner) : item] as const),
    );
  }
  if (Array.isArray(tree)) {
    if (mutation.kind === 'remove' && rest.length === 0) {
      return tree.filter((_, index) => index !== head);
    }
    return tree.map((item, index) => (index === head ? mutate(item, inner) : item));
  }
  return tree;
};

/** `levels` containers inside each other around a 1, alternating objects and arrays. */
export const nestedText = (levels: number, kind: 'object' | 'array' | 'mixed'): string => {
  let open = '';
  let close = '';
  for (let level = 0; level < levels; level++) {
    const object = kind === 'object' || (kind === 'mixed' && level % 2 === 0);
    open += object ? '{"a":' : '[';
    close = (object ? '}' : ']') + close;
  }
  return `${open}1${close}`;
};

const LONE_SURROGATES = ['\ud800', '\udbff', '\udc00', '\udfff'];

/** Strings that have broken parsers, validators, templates and stores before. */
const NASTY_STRINGS = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\r\n',
  'a\r\nX-Injected: 1',
  '\t',
  '\u202e',
  '\u2066x\u2069',
  '\ufeff',
  '\uffff',
  '𝕏',
  '\ud800',
  'x\udfff',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'null',
  'undefined',
  'NaN',
  'true',
  '0',
  '-1',
  '1e400',
  '{{',
  '{{constructor}}',
  '{{lookup this "constructor"}}',
  '{{#each this}}{{/each}}',
  '{{> partial}}',
  '<x/>',
  '<?xml version="1.0"?>',
  '"',
  '\\',
  '%00',
  '../..',
  'javascript:alert(1)',
  'http://127.0.0.1:9/hook',
  'http://[::1]:0/',
  'http://user:pass@example.com/',
  'https://example.com/hook\r\n',
  ' http://example.com',
  'ftp://example.com',
  'ticket.created',
  'webhook.test',
  'project.completed',
  'whsec_',
  'Authorization',
  'X-Alga-Signature',
  'application/json',
  '2024-02-30',
  '9999-12-31T23:59:59Z',
  '0000-01-01',
  '00000000-0000-0000-0000-000000000000',
  'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11',
  'a'.repeat(256),
  'a'.repeat(4097),
];

const stringWithLoneSurrogate = fc
  .tuple(fc.string({ maxLength: 8 }), fc.constantFrom(...LONE_SURROGATES), fc.string())
  .map(([before, surrogate, after]) => `${before}${surrogate}${after}`);

export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...NASTY_STRINGS) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 24 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary-ascii', maxLength: 24 }) },
  { weight: 1, arbitrary: stringWithLoneSurrogate },
);

/**
 * Numbers, including texts JSON allows but a double or DynamoDB cannot hold:
 * 1e400 parses as Infinity, 1e-400 as 0, 2^53 + 1 rounds.
 */
export const hostileNumber: fc.Arbitrary<Json> = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom<Json>(
    0,
    -1,
    0.5,
    1e-7,
    2 ** 31,
    Number.MAX_SAFE_INTEGER,
    new RawJson('-0'),
    new RawJson('1e400'),
    new RawJson('-1e400'),
    new RawJson('1e-400'),
    new RawJson('1e-200'),
    new RawJson('9007199254740993'),
    new RawJson('123456789012345678901234567890'),
    new RawJson('1E2'),
  ),
);

const hostileKey: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 12 }) },
  {
    weight: 2,
    arbitrary: fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'valueOf'),
  },
  { weight: 1, arbitrary: hostileString },
);

/** Any JSON tree, a few levels deep, of hostile leaves and keys. */
export const hostileJson: fc.Arbitrary<Json> = fc.letrec<{ value: Json }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', maxDepth: 5 },
    fc.constant(null),
    fc.boolean(),
    hostileNumber,
    hostileString,
    fc.array(tie('value'), { maxLength: 4 }),
    fc
      .array(fc.tuple(hostileKey, tie('value')), { maxLength: 4 })
      .map((entries) => new JsonObject(entries)),
    fc
      .tuple(fc.constantFrom(29, 30, 31, 32, 40, 3000), fc.constantFrom('object', 'array', 'mixed'))
      .map(([levels, kind]) => new RawJson(nestedText(levels, kind))),
  ),
})).value;

/** A hostile value put where a field is expected: wrong types, arrays for objects, empties. */
export const hostileValue: fc.Arbitrary<Json> = fc.oneof(
  { weight: 3, arbitrary: hostileJson },
  { weight: 1, arbitrary: hostileNumber },
  { weight: 1, arbitrary: hostileString },
  {
    weight: 2,
    arbitrary: fc.constantFrom<Json>(
      null,
      [],
      [[]],
      [null],
      new JsonObject([]),
      new JsonObject([['__proto__', new JsonObject([['polluted', true]])]]),
      new JsonObject([['constructor', new JsonObject([['prototype', 1]])]]),
      true,
      0,
      '',
    ),
  },
);

/** A body that is not a JSON object, or not JSON at all. */
export const notAnObjectBody: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '',
    ' \n',
    'null',
    'true',
    '1',
    '"x"',
    '[]',
    '[{}]',
    '{',
    '{"a":',
    '{"a":1}}',
    '{"a":1,}',
    "{'a':1}",
    '\ufeff{}',
    'undefined',
    'NaN',
    '{"a":NaN}',
    '{"a":Infinity}',
    '{"a":undefined}',
    '{"a":"\\ud800"}',
    '{"a":1}\u0000',
  ),
  fc.string({ maxLength: 40 }),
);
