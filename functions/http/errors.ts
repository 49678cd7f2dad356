import type { APIGatewayProxyResult } from 'aws-lambda';
import {
  BadRequestError,
  ConflictError,
  DomainError,
  ForbiddenError,
  MethodNotAllowedError,
  NotFoundError,
  PayloadTooLargeError,
  UnauthorizedError,
  ValidationError,
} from '../domain/errors.ts';
import { errorBody, json } from './responses.ts';

/**
 * The one place where errors become HTTP answers. Domain errors keep their
 * message; anything else is a 500 that says nothing of its cause (the cause
 * goes to the log, with the request id the client also gets).
 */
const STATUS = new Map<abstract new (...args: never[]) => DomainError, number>([
  [ValidationError, 400],
  [BadRequestError, 400],
  [UnauthorizedError, 401],
  [ForbiddenError, 403],
  [NotFoundError, 404],
  [MethodNotAllowedError, 405],
  [ConflictError, 409],
  [PayloadTooLargeError, 413],
]);

const statusOf = (error: DomainError): number => {
  for (const [type, status] of STATUS) if (error instanceof type) return status;
  return 400;
};

export const isDomainError = (error: unknown): error is DomainError => error instanceof DomainError;

export const errorResponse = (error: unknown, requestId?: string): APIGatewayProxyResult => {
  if (error instanceof DomainError) {
    const details =
      error instanceof ValidationError || error instanceof ForbiddenError
        ? error.details
        : undefined;
    const headers: Record<string, string> =
      error instanceof MethodNotAllowedError ? { allow: error.allowed.join(', ') } : {};
    return json(statusOf(error), errorBody(error.code, error.message, details), headers);
  }
  const reference = requestId ? ` (request id ${requestId})` : '';
  return json(500, errorBody('INTERNAL_ERROR', `An internal error occurred${reference}`));
};
