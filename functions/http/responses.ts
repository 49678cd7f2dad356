import type { APIGatewayProxyResult } from 'aws-lambda';

/** The contract's envelopes. Responses are JSON with snake_case fields throughout. */

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8' };

export const json = (
  statusCode: number,
  body: unknown,
  headers: Record<string, string> = {},
): APIGatewayProxyResult => ({
  statusCode,
  headers: { ...JSON_HEADERS, ...headers },
  body: JSON.stringify(body),
});

export const ok = (data: unknown) => json(200, { data });
export const created = (data: unknown) => json(201, { data });
export const noContent = (): APIGatewayProxyResult => ({ statusCode: 204, headers: {}, body: '' });

export const errorBody = (code: string, message: string, details?: unknown) => ({
  error: details === undefined ? { code, message } : { code, message, details },
});
