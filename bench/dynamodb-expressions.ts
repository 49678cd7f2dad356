/**
 * The parts of DynamoDB the benchmark fake needs to behave: item sizes as
 * DynamoDB counts them for billing, and the condition and update
 * expressions the repositories write, applied to plain items. What is not
 * understood throws.
 */

type Item = Record<string, unknown>;

/** DynamoDB's item size: attribute names plus values (docs: "Item sizes and formats"). */
export const itemSize = (item: Item): number => {
  let bytes = 0;
  for (const name in item) {
    const value = item[name];
    if (value !== undefined) bytes += utf8(name) + valueSize(value);
  }
  return bytes;
};

const utf8 = (text: string) => Buffer.byteLength(text, 'utf8');

/** Lists and maps: 3 bytes, plus 1 per element, plus the elements. */
export const valueSize = (value: unknown): number => {
  if (typeof value === 'string') return utf8(value);
  if (typeof value === 'number') return Math.ceil(significantDigits(value) / 2) + 1;
  if (typeof value === 'boolean' || value === null) return 1;
  if (value instanceof Uint8Array) return value.byteLength;
  if (Array.isArray(value)) {
    let bytes = 3;
    for (const element of value) bytes += 1 + valueSize(element);
    return bytes;
  }
  if (typeof value === 'object' && value !== undefined) {
    let bytes = 3;
    for (const name in value) {
      const element = (value as Item)[name];
      if (element !== undefined) bytes += 1 + utf8(name) + valueSize(element);
    }
    return bytes;
  }
  return 0;
};

/** Leading and trailing zeros do not count (DynamoDB trims them). */
const significantDigits = (value: number): number => {
  const digits = String(Math.abs(value)).replace('.', '');
  let first = 0;
  let last = digits.length - 1;
  while (first < last && digits[first] === '0') first++;
  while (last > first && digits[last] === '0') last--;
  return last - first + 1;
};

/** A copy as DynamoDB keeps it: undefined attributes dropped (removeUndefinedValues). */
export const stored = <T>(value: T): T => {
  if (Array.isArray(value)) return value.map(stored) as T;
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return value;
  const copy: Item = {};
  for (const [name, element] of Object.entries(value)) {
    if (element !== undefined) copy[name] = stored(element);
  }
  return copy as T;
};

export interface Expression {
  names?: Record<string, string> | undefined;
  values?: Record<string, unknown> | undefined;
}

const pathOf = (text: string, { names }: Expression): string[] =>
  text
    .trim()
    .split('.')
    .map((part) => {
      if (!part.startsWith('#')) return part;
      const name = names?.[part];
      if (name === undefined) throw new Error(`fake DynamoDB: no name for ${part}`);
      return name;
    });

const getAt = (item: Item, path: readonly string[]): unknown => {
  let current: unknown = item;
  for (const part of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Item)[part];
  }
  return current;
};

const setAt = (item: Item, path: readonly string[], value: unknown): void => {
  let current = item;
  for (const part of path.slice(0, -1)) {
    const next = current[part];
    if (next === null || typeof next !== 'object')
      throw new Error(`fake DynamoDB: no map at ${part}`);
    current = next as Item;
  }
  const last = path.at(-1);
  if (last !== undefined) current[last] = value;
};

const removeAt = (item: Item, path: readonly string[]): void => {
  const parent = getAt(item, path.slice(0, -1));
  const last = path.at(-1);
  if (last !== undefined && parent !== null && typeof parent === 'object') {
    delete (parent as Item)[last];
  }
};

const operand = (text: string, item: Item, expression: Expression): unknown => {
  const trimmed = text.trim();
  if (!trimmed.startsWith(':')) return getAt(item, pathOf(trimmed, expression));
  if (!expression.values || !(trimmed in expression.values)) {
    throw new Error(`fake DynamoDB: no value for ${trimmed}`);
  }
  return expression.values[trimmed];
};

/** Splits on a separator outside parentheses. */
const splitOutsideParentheses = (text: string, separator: RegExp): string[] => {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let index = 0; index < text.length; index++) {
    const char = text[index];
    if (char === '(') depth++;
    else if (char === ')') depth--;
    else if (depth === 0) {
      const match = separator.exec(text.slice(index));
      if (match?.index === 0) {
        parts.push(text.slice(start, index));
        index += match[0].length - 1;
        start = index + 1;
      }
    }
  }
  parts.push(text.slice(start));
  return parts.map((part) => part.trim());
};

/** Expressions repeat from call to call: each is taken apart once. */
const splits = new Map<string, string[]>();
const splitTopLevel = (text: string, separator: RegExp): string[] => {
  const key = `${separator.source}\u0000${text}`;
  const known = splits.get(key);
  if (known) return known;
  const parts = splitOutsideParentheses(text, separator);
  splits.set(key, parts);
  return parts;
};

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

const compare = (left: unknown, operator: string, right: unknown): boolean => {
  if (operator === '=') return left !== undefined && same(left, right);
  if (operator === '<>') return left === undefined || !same(left, right);
  const comparable =
    (typeof left === 'number' && typeof right === 'number') ||
    (typeof left === 'string' && typeof right === 'string');
  if (!comparable) return false;
  const [a, b] = [left as number | string, right as number | string];
  if (operator === '<') return a < b;
  if (operator === '<=') return a <= b;
  if (operator === '>') return a > b;
  return a >= b;
};

/** ConditionExpression: OR of ANDs of comparisons, IN lists and attribute_(not_)exists. */
export const conditionHolds = (
  condition: string | undefined,
  item: Item | undefined,
  expression: Expression,
): boolean => {
  if (!condition) return true;
  const target = item ?? {};
  return splitTopLevel(condition, /^\s+OR\s+/i).some((alternative) =>
    splitTopLevel(alternative, /^\s+AND\s+/i).every((term) => {
      const exists = /^attribute_(not_)?exists\((.+)\)$/.exec(term);
      if (exists) {
        const present = getAt(target, pathOf(exists[2] ?? '', expression)) !== undefined;
        return exists[1] ? !present : present;
      }
      const list = /^(\S+)\s+IN\s+\((.+)\)$/i.exec(term);
      if (list) {
        const left = operand(list[1] ?? '', target, expression);
        return (list[2] ?? '')
          .split(',')
          .some((value) => same(left, operand(value, target, expression)));
      }
      const comparison = /^(\S+)\s*(=|<>|<=|>=|<|>)\s*(\S+)$/.exec(term);
      if (comparison) {
        return compare(
          operand(comparison[1] ?? '', target, expression),
          comparison[2] ?? '',
          operand(comparison[3] ?? '', target, expression),
        );
      }
      throw new Error(`fake DynamoDB: condition not understood: ${term}`);
    }),
  );
};

const evaluate = (text: string, item: Item, expression: Expression): unknown => {
  const call = /^(list_append|if_not_exists)\((.+)\)$/.exec(text.trim());
  if (call) {
    const [first = '', second = ''] = splitTopLevel(call[2] ?? '', /^,/);
    if (call[1] === 'if_not_exists') {
      return operand(first, item, expression) ?? operand(second, item, expression);
    }
    const a = operand(first, item, expression);
    const b = operand(second, item, expression);
    return [...(Array.isArray(a) ? a : []), ...(Array.isArray(b) ? b : [])];
  }
  const sum = /^(.+?)\s*([+-])\s*(.+)$/.exec(text.trim());
  if (sum) {
    const a = Number(operand(sum[1] ?? '', item, expression));
    const b = Number(operand(sum[3] ?? '', item, expression));
    return sum[2] === '+' ? a + b : a - b;
  }
  return operand(text, item, expression);
};

const updateClauses = new Map<string, [string, string[]][]>();
/** "SET a = :a, b = :b REMOVE c" as [["SET", ["a = :a", "b = :b"]], ["REMOVE", ["c"]]]. */
const clausesOf = (update: string): [string, string[]][] => {
  const known = updateClauses.get(update);
  if (known) return known;
  const parts = update.split(/\b(SET|REMOVE|ADD|DELETE)\b/).slice(1);
  const clauses: [string, string[]][] = [];
  for (let index = 0; index < parts.length; index += 2) {
    const actions = splitTopLevel(parts[index + 1] ?? '', /^,/).filter(Boolean);
    clauses.push([parts[index] ?? '', actions]);
  }
  updateClauses.set(update, clauses);
  return clauses;
};

/** UpdateExpression: SET (plain, list_append, if_not_exists, +/-), ADD of numbers, REMOVE. */
export const applyUpdate = (item: Item, update: string, expression: Expression): void => {
  for (const [keyword, actions] of clausesOf(update)) {
    for (const action of actions) {
      if (keyword === 'SET') {
        const [path = '', ...rest] = action.split('=');
        setAt(item, pathOf(path, expression), stored(evaluate(rest.join('='), item, expression)));
      } else if (keyword === 'REMOVE') {
        removeAt(item, pathOf(action, expression));
      } else if (keyword === 'ADD') {
        const [path = '', value = ''] = action.split(/\s+/);
        const at = pathOf(path, expression);
        setAt(item, at, Number(getAt(item, at) ?? 0) + Number(operand(value, item, expression)));
      } else throw new Error(`fake DynamoDB: ${keyword} is not supported`);
    }
  }
};
