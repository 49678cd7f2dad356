import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { ForbiddenError, MethodNotAllowedError, NotFoundError } from '../domain/errors.ts';
import type { Permission } from '../domain/keys/api-keys.ts';
import {
  type ApiRequest,
  bodyText,
  definedValues,
  lowerCaseHeaders,
  parseJsonObject,
  principalOf,
} from './request.ts';

/**
 * Routes below /api/v1/webhooks. API Gateway sends everything under that path
 * to this function (`{proxy+}`), so unknown paths (404) and wrong methods
 * (405, with Allow) are answered here in the contract's envelope.
 */
export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';
  /** Relative to /webhooks: '' , '/events', '/{id}', '/{id}/subscriptions'. */
  path: string;
  permission: Permission;
  handle(request: ApiRequest): Promise<APIGatewayProxyResult>;
}

interface CompiledPath {
  segments: string[];
  literalCount: number;
  routes: Route[];
}

const splitPath = (path: string): string[] => path.split('/').filter((part) => part.length > 0);

const compile = (routes: readonly Route[]): CompiledPath[] => {
  const byPath = new Map<string, CompiledPath>();
  for (const route of routes) {
    const existing = byPath.get(route.path);
    if (existing) {
      existing.routes.push(route);
      continue;
    }
    const segments = splitPath(route.path);
    byPath.set(route.path, {
      segments,
      literalCount: segments.filter((segment) => !segment.startsWith('{')).length,
      routes: [route],
    });
  }
  // Literal segments win over parameters: /webhooks/events is not /webhooks/{id}.
  return [...byPath.values()].sort((a, b) => b.literalCount - a.literalCount);
};

const match = (path: CompiledPath, parts: string[]): Record<string, string> | undefined => {
  if (path.segments.length !== parts.length) return undefined;
  const params: Record<string, string> = {};
  for (const [index, segment] of path.segments.entries()) {
    const part = parts[index] ?? '';
    if (segment.startsWith('{')) params[segment.slice(1, -1)] = part;
    else if (segment !== part) return undefined;
  }
  return params;
};

export const createRouter = (routes: readonly Route[]) => {
  const paths = compile(routes);
  return async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
    const parts = splitPath(event.pathParameters?.proxy ?? '');
    for (const path of paths) {
      const params = match(path, parts);
      if (!params) continue;
      const route = path.routes.find((candidate) => candidate.method === event.httpMethod);
      if (!route) throw new MethodNotAllowedError(path.routes.map((candidate) => candidate.method));
      const principal = principalOf(event);
      if (!principal.permissions.includes(route.permission)) {
        throw new ForbiddenError(`This API key lacks the ${route.permission} permission`);
      }
      return route.handle({
        method: event.httpMethod,
        params,
        query: definedValues(event.queryStringParameters),
        headers: lowerCaseHeaders(event.headers),
        principal,
        requestId: event.requestContext.requestId,
        body: () => parseJsonObject(event),
        optionalBody: () => (bodyText(event).trim() === '' ? {} : parseJsonObject(event)),
      });
    }
    throw new NotFoundError(`No route for ${event.httpMethod} ${event.path}`);
  };
};
