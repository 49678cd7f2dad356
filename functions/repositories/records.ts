import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
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

/**
 * Runs a conditional write and answers whether its condition held; any other
 * failure is thrown. Conditions are how the repositories enforce the rules.
 */
export const conditionHeld = async (write: Promise<unknown>): Promise<boolean> => {
  try {
    await write;
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
};
