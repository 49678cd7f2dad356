import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { ValidationError } from './errors.ts';
import { MAX_LISTED_PROBLEMS, parseOrThrow } from './validation.ts';

const catchError = (run: () => unknown): unknown => {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
};

describe('parseOrThrow', () => {
  const schema = v.strictObject({ list: v.array(v.string()), name: v.string() });

  it('lists every problem when there are few', () => {
    const error = catchError(() => parseOrThrow(schema, { list: [1, 'x', 2] }));

    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({
      message: 'The request is invalid',
      details: [
        { field: 'list.0', message: 'must be a string' },
        { field: 'list.2', message: 'must be a string' },
        { field: 'name', message: 'is required' },
      ],
    });
  });

  it('lists the first problems of a flood, and says how many there were', () => {
    // Prepare: 80,000 wrong entries once answered 80,000 details, past Lambda's 6 MiB answer.
    const input = { list: Array.from({ length: 80_000 }, () => 0), name: 'x' };

    // Act
    const error = catchError(() => parseOrThrow(schema, input, 'The query string is invalid'));

    // Assess
    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({
      message: `The query string is invalid (the first ${MAX_LISTED_PROBLEMS} of 80000 problems are listed)`,
      details: Array.from({ length: MAX_LISTED_PROBLEMS }, (_, index) => ({
        field: `list.${index}`,
        message: 'must be a string',
      })),
    });
  });
});
