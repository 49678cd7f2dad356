import type { Logger } from '@aws-lambda-powertools/logger';
import type { MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { PayloadTooLargeError } from '../domain/errors.ts';
import { errorResponse, isDomainError } from './errors.ts';
import { bodyText } from './request.ts';

type ApiMiddleware = MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult>;

/** Refuses bodies over the limit before anything parses them. */
export const bodyLimit = (maxBytes: number): ApiMiddleware => ({
  name: 'bodyLimit',
  before: ({ event }) => {
    if (event.body !== null && Buffer.byteLength(bodyText(event), 'utf8') > maxBytes) {
      throw new PayloadTooLargeError(
        `The request body is larger than the limit of ${maxBytes / 1024} KiB`,
      );
    }
  },
});

/**
 * Turns any error into the contract's error envelope. Register it last so it
 * handles errors first. Unexpected errors are logged in full; clients get a
 * 500 that names the request id and nothing else.
 */
export const errorEnvelope = (logger: Logger): ApiMiddleware => ({
  name: 'errorEnvelope',
  onError: (request) => {
    const requestId = request.event.requestContext?.requestId;
    const { error } = request;
    if (!isDomainError(error)) {
      // Name, message and stack only: other fields of an error may carry request data.
      const logged =
        error instanceof Error
          ? { name: error.name, message: error.message, stack: error.stack }
          : { message: String(error) };
      logger.error('Unhandled error', { error: logged, requestId });
    }
    request.response = errorResponse(request.error, requestId);
  },
});
