import * as v from 'valibot';
import { type FieldProblem, ValidationError } from './errors.ts';

type AnySchema = v.GenericSchema;

/** Turns one valibot issue into a field problem a client can act on. */
const describeIssue = (issue: v.BaseIssue<unknown>): FieldProblem => {
  const field = v.getDotPath(issue) ?? '(body)';
  // valibot's own messages start with "Invalid"; ours say what is expected.
  if (!issue.message.startsWith('Invalid')) return { field, message: issue.message };
  if (issue.type === 'strict_object' && issue.expected === 'never') {
    return { field, message: 'is not a known field' };
  }
  if (issue.received === 'undefined') return { field, message: 'is required' };
  return { field, message: `must be ${article(issue.expected ?? issue.type)}` };
};

const article = (expected: string): string => {
  if (expected.startsWith('"') || expected.includes('|')) return `one of ${expected}`;
  return /^[aeiou]/i.test(expected) ? `an ${expected}` : `a ${expected}`;
};

/**
 * An answer lists at most this many problems: a body of 80,000 bad array
 * entries would otherwise get 80,000 back, megabytes past what Lambda may
 * answer (6 MiB), from a request of 160 KB.
 */
export const MAX_LISTED_PROBLEMS = 20;

/** Every problem with the input at once (the first MAX_LISTED_PROBLEMS), not just the first. */
export const parseOrThrow = <S extends AnySchema>(
  schema: S,
  input: unknown,
  message?: string,
): v.InferOutput<S> => {
  const result = v.safeParse(schema, input, { abortEarly: false, abortPipeEarly: true });
  if (result.success) return result.output;
  const seen = new Set<string>();
  const details: FieldProblem[] = [];
  for (const issue of result.issues) {
    const problem = describeIssue(issue);
    const key = `${problem.field}\u0000${problem.message}`;
    if (!seen.has(key)) {
      seen.add(key);
      details.push(problem);
    }
  }
  const listed = details.slice(0, MAX_LISTED_PROBLEMS);
  const error = new ValidationError(listed, message);
  if (listed.length < details.length) {
    error.message = `${error.message} (the first ${listed.length} of ${details.length} problems are listed)`;
  }
  throw error;
};
