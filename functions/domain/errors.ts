/**
 * Domain errors. Each has a name and a stable code; the HTTP layer turns them
 * into the contract's error envelope in exactly one place (http/errors.ts).
 */
export interface FieldProblem {
  field: string;
  message: string;
}

export abstract class DomainError extends Error {
  abstract readonly code: string;
}

export class ValidationError extends DomainError {
  override readonly name = 'ValidationError';
  readonly code = 'VALIDATION_ERROR';
  readonly details: FieldProblem[];
  constructor(details: FieldProblem[], message = 'The request is invalid') {
    super(message);
    this.details = details;
  }
}

export class BadRequestError extends DomainError {
  override readonly name = 'BadRequestError';
  readonly code = 'BAD_REQUEST';
}

export class NotFoundError extends DomainError {
  override readonly name = 'NotFoundError';
  readonly code = 'NOT_FOUND';
}

export class ConflictError extends DomainError {
  override readonly name = 'ConflictError';
  readonly code = 'CONFLICT';
}

export class ForbiddenError extends DomainError {
  override readonly name = 'ForbiddenError';
  readonly code = 'FORBIDDEN';
  /** The fields whose change the key may not make, when it is about fields rather than a route. */
  readonly details: FieldProblem[] | undefined;
  constructor(message: string, details?: FieldProblem[]) {
    super(message);
    this.details = details;
  }
}

export class UnauthorizedError extends DomainError {
  override readonly name = 'UnauthorizedError';
  readonly code = 'UNAUTHORIZED';
}

export class PayloadTooLargeError extends DomainError {
  override readonly name = 'PayloadTooLargeError';
  readonly code = 'PAYLOAD_TOO_LARGE';
}

export class MethodNotAllowedError extends DomainError {
  override readonly name = 'MethodNotAllowedError';
  readonly code = 'METHOD_NOT_ALLOWED';
  readonly allowed: readonly string[];
  constructor(allowed: readonly string[]) {
    super(`Method not allowed; this path accepts ${allowed.join(', ')}`);
    this.allowed = allowed;
  }
}

/** An error as logs may show it: its name and message, never its stack or fields. */
export const errorSummary = (error: unknown): { name?: string; message: string } =>
  error instanceof Error
    ? { name: error.name, message: error.message }
    : { message: String(error) };
