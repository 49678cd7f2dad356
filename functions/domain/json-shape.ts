import { isPrototypeKey } from './webhooks/fields.ts';

/**
 * Rules for any JSON document from outside, whatever its fields: API bodies
 * and producer events alike. They are checked once, without recursion, before
 * anything that recurses (validation, marshalling for DynamoDB, payload
 * building, XML encoding) sees the document.
 */

/**
 * The most levels of objects and arrays a document may nest, the document
 * itself being the first. DynamoDB stores at most 31 containers inside each
 * other, the top-level attribute's own map counting as the first (AWS refuses
 * 32 with "Nesting Levels have exceeded supported limits"). The deepest place
 * a document is stored sits at the same level as in the document: a producer
 * event is a delivery's `event` attribute, and a test payload its
 * `event.data`, as it is `test_payload` in the body. A webhook's fields are one
 * level shallower still, as top-level attributes of their item.
 */
export const MAX_JSON_DEPTH = 31;

export interface ShapeProblem {
  /** Dot path of the key or value, array indices included; '' is the document itself. */
  path: string;
  message: string;
}

/**
 * The numbers a document may hold: those stored exactly as they are. JSON
 * sets no bounds, but JSON.parse reads 1e400 as Infinity (which
 * JSON.stringify would send on as null), the SDK refuses to store a number
 * past 2^53 - 1 (it has already been rounded: 9007199254740993 reads as
 * ...992), and DynamoDB refuses magnitudes below 1e-130 ("Number underflow").
 */
export const MAX_JSON_NUMBER = Number.MAX_SAFE_INTEGER;
export const MIN_JSON_NUMBER_MAGNITUDE = 1e-130;

const TOO_DEEP = `is nested more than ${MAX_JSON_DEPTH} levels deep (objects and arrays, the outermost counting as the first)`;
const RESERVED_KEY = 'is a reserved name and cannot be used as a key';
const LONE_SURROGATE =
  'is not valid Unicode: it has a lone surrogate (\\ud800-\\udfff without its pair), which UTF-8 cannot carry';

const NOT_FINITE = 'is a number too large to represent: it would be read as Infinity';
const NOT_EXACT = `is a number beyond ±${MAX_JSON_NUMBER} (2^53 - 1), which cannot be kept exactly; send it as a string`;
const UNDERFLOW = `is a number closer to 0 than ${MIN_JSON_NUMBER_MAGNITUDE}, the smallest that can be stored; send 0 or a string`;

/**
 * U+FFFE and U+FFFF, the characters SQS refuses in a message body that JSON
 * text still holds as they are (JSON.stringify escapes the control
 * characters SQS refuses, not these).
 */
const QUEUE_REFUSED = /[\ufffe\uffff]/;
const NOT_QUEUEABLE =
  'holds U+FFFE or U+FFFF, which SQS refuses in a message (an event travels on to the delivery queue)';

export interface ShapeOptions {
  /** The document's text goes into SQS messages as JSON: refuse what SQS cannot carry. */
  queued?: boolean;
}

interface Pending {
  value: unknown;
  path: string;
  depth: number;
  /** The key that leads to the value from an object (not an array). */
  key?: string | undefined;
}

/**
 * What is wrong with a document's shape, in document order, at most
 * `maxProblems` of it: containers nested deeper than MAX_JSON_DEPTH (not
 * looked into further), keys that reach into prototypes, strings or keys
 * with lone surrogates, numbers that cannot be stored as they are, and
 * (`queued`) text SQS refuses. A loop over an explicit stack, so that a body
 * of nested brackets cannot overflow the call stack here.
 */
export const jsonShapeProblems = (
  root: unknown,
  maxProblems = Infinity,
  options: ShapeOptions = {},
): ShapeProblem[] => {
  const problems: ShapeProblem[] = [];
  const pending: Pending[] = [{ value: root, path: '', depth: 1 }];
  for (let item = pending.pop(); item !== undefined; item = pending.pop()) {
    if (problems.length >= maxProblems) break;
    const { value, path, depth, key } = item;
    const problem = keyProblem(key, options) ?? valueProblem(value, depth, options);
    if (problem !== undefined) {
      problems.push({ path, message: problem });
      continue;
    }
    if (typeof value !== 'object' || value === null) continue;
    const entries = Object.entries(value);
    const inArray = Array.isArray(value);
    // Pushed last to first, so they are looked at in document order. (A loop:
    // spreading a long array into push() would overflow the stack itself.)
    for (let index = entries.length - 1; index >= 0; index--) {
      const [childKey, child] = entries[index] ?? [];
      if (childKey === undefined) continue;
      pending.push({
        value: child,
        path: path === '' ? childKey : `${path}.${childKey}`,
        depth: depth + 1,
        key: inArray ? undefined : childKey,
      });
    }
  }
  return problems;
};

const textProblem = (text: string, options: ShapeOptions): string | undefined => {
  if (!text.isWellFormed()) return LONE_SURROGATE;
  return options.queued && QUEUE_REFUSED.test(text) ? NOT_QUEUEABLE : undefined;
};

const keyProblem = (key: string | undefined, options: ShapeOptions): string | undefined => {
  if (key === undefined) return undefined;
  return textProblem(key, options) ?? (isPrototypeKey(key) ? RESERVED_KEY : undefined);
};

const valueProblem = (value: unknown, depth: number, options: ShapeOptions): string | undefined => {
  if (typeof value === 'string') return textProblem(value, options);
  if (typeof value === 'number') return numberProblem(value);
  if (typeof value !== 'object' || value === null) return undefined;
  return depth > MAX_JSON_DEPTH ? TOO_DEEP : undefined;
};

const numberProblem = (value: number): string | undefined => {
  if (!Number.isFinite(value)) return NOT_FINITE;
  const magnitude = Math.abs(value);
  if (magnitude > MAX_JSON_NUMBER) return NOT_EXACT;
  return magnitude !== 0 && magnitude < MIN_JSON_NUMBER_MAGNITUDE ? UNDERFLOW : undefined;
};
