import { describe, expect, it } from 'vitest';
import { ConflictError, NotFoundError, ValidationError } from '../domain/errors.ts';
import { errorResponse } from './errors.ts';

describe('errorResponse', () => {
  it('maps domain errors to their status and envelope', () => {
    expect(errorResponse(new NotFoundError('gone'))).toMatchObject({
      statusCode: 404,
      body: JSON.stringify({ error: { code: 'NOT_FOUND', message: 'gone' } }),
    });
    expect(errorResponse(new ConflictError('busy')).statusCode).toBe(409);
    expect(
      JSON.parse(errorResponse(new ValidationError([{ field: 'a', message: 'b' }])).body),
    ).toEqual({
      error: {
        code: 'VALIDATION_ERROR',
        message: 'The request is invalid',
        details: [{ field: 'a', message: 'b' }],
      },
    });
  });

  it('says nothing of an unexpected error but the request id', () => {
    const response = errorResponse(
      new Error('connect ECONNREFUSED 10.0.0.7:8000 table hookline-config'),
      'req-42',
    );

    expect(response.statusCode).toBe(500);
    expect(JSON.parse(response.body)).toEqual({
      error: { code: 'INTERNAL_ERROR', message: 'An internal error occurred (request id req-42)' },
    });
    expect(response.body).not.toContain('ECONNREFUSED');
  });
});
