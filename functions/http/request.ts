import type { APIGatewayProxyEvent } from 'aws-lambda';
import * as v from 'valibot';
import { BadRequestError, UnauthorizedError, ValidationError } from '../domain/errors.ts';
import { jsonShapeProblems } from '../domain/json-shape.ts';
import { PERMISSIONS, type Principal } from '../domain/keys/api-keys.ts';
import { MAX_LISTED_PROBLEMS } from '../domain/validation.ts';

/** What a public route's handler gets: the event's parts it may need, already normalised. */
export interface PublicRequest {
  method: string;
  params: Record<string, string>;
  query: Record<string, string>;
  headers: Record<string, string>;
  requestId: string;
  /**
   * The body as a JSON object: BAD_REQUEST if it is missing or not JSON,
   * VALIDATION_ERROR if it is JSON but not an object.
   */
  body(): Record<string, unknown>;
  /** As body(), but an absent or blank body is `{}`: for routes whose fields are all optional. */
  optionalBody(): Record<string, unknown>;
}

/** What a key route's handler gets: the request and who it acts for. */
export interface ApiRequest extends PublicRequest {
  principal: Principal;
}

/**
 * The authorizer's context. API Gateway hands context values over as strings,
 * so permissions travel as a comma-separated list.
 */
const authorizerContextSchema = v.object({
  tenant: v.pipe(v.string(), v.minLength(1)),
  key_id: v.pipe(v.string(), v.minLength(1)),
  permissions: v.pipe(
    v.string(),
    v.transform((list) => list.split(',').filter((name) => name.length > 0)),
    v.array(v.picklist(PERMISSIONS)),
  ),
});

/** The principal the authorizer put on the request; a request without one never reaches a route. */
export const principalOf = (event: APIGatewayProxyEvent): Principal => {
  const parsed = v.safeParse(authorizerContextSchema, event.requestContext.authorizer ?? {});
  if (!parsed.success) throw new UnauthorizedError('Missing or invalid API key');
  const { tenant, key_id, permissions } = parsed.output;
  return { tenant, keyId: key_id, permissions };
};

export const definedValues = (
  values: Record<string, string | undefined> | null | undefined,
): Record<string, string> => {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(values ?? {})) {
    if (value !== undefined) result[name] = value;
  }
  return result;
};

/** Headers by lower-case name: HTTP header names are case-insensitive. */
export const lowerCaseHeaders = (
  headers: Record<string, string | undefined> | null | undefined,
): Record<string, string> =>
  Object.fromEntries(
    Object.entries(definedValues(headers)).map(([name, value]) => [name.toLowerCase(), value]),
  );

export const bodyText = (event: APIGatewayProxyEvent): string =>
  event.body === null
    ? ''
    : event.isBase64Encoded
      ? Buffer.from(event.body, 'base64').toString('utf8')
      : event.body;

const isJsonObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

export const parseJsonObject = (event: APIGatewayProxyEvent): Record<string, unknown> => {
  const text = bodyText(event);
  if (text.trim() === '') throw new BadRequestError('A JSON request body is required');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    const reason = error instanceof SyntaxError ? `: ${error.message}` : '';
    throw new BadRequestError(`The request body is not valid JSON${reason}`);
  }
  if (!isJsonObject(parsed)) {
    throw new ValidationError([{ field: '(body)', message: 'must be a JSON object' }]);
  }
  // Before validation, which recurses, as storing and delivering do later. A hostile body
  // could break a rule thousands of times; the answer names the first ones.
  const problems = jsonShapeProblems(parsed, MAX_LISTED_PROBLEMS);
  if (problems.length > 0) {
    throw new ValidationError(problems.map(({ path, message }) => ({ field: path, message })));
  }
  return parsed;
};
