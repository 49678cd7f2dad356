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

/** Every problem with the input at once, not just the first. */
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
  throw new ValidationError(details, message);
};
