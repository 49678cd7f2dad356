import * as v from 'valibot';

/**
 * A stored item that does not match its schema. It names the item and the
 * paths that failed, never the values: items hold secrets, and this error
 * ends up in logs.
 */
export class UnreadableRecordError extends Error {
  override readonly name = 'UnreadableRecordError';
  readonly paths: string[];
  constructor(what: string, paths: string[]) {
    super(`Stored ${what} does not match its schema at ${paths.join(', ')}`);
    this.paths = paths;
  }
}

/** Types a stored item by its schema; see UnreadableRecordError. */
export const readRecord = <S extends v.GenericSchema>(
  schema: S,
  item: Record<string, unknown>,
  what: string,
): v.InferOutput<S> => {
  const result = v.safeParse(schema, item, { abortEarly: false });
  if (result.success) return result.output;
  const paths = [...new Set(result.issues.map((issue) => v.getDotPath(issue) ?? '(item)'))];
  throw new UnreadableRecordError(what, paths);
};
