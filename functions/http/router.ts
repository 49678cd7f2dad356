import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import type * as v from 'valibot';
import { API } from '../../lib/resources.ts';
import { ForbiddenError, MethodNotAllowedError, NotFoundError } from '../domain/errors.ts';
import type { Permission } from '../domain/keys/api-keys.ts';
import {
  type ApiRequest,
  bodyText,
  definedValues,
  lowerCaseHeaders,
  type PublicRequest,
  parseJsonObject,
  principalOf,
} from './request.ts';

/**
 * Routes below /api/v1. API Gateway sends each of the stack's resources
 * (lib/resources.ts API.resources) to this function, so unknown paths (404)
 * and wrong methods (405, with Allow) below them are answered here in the
 * contract's envelope.
 */

export type RouteMethod = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';

/** What the OpenAPI document says of a route; the schemas are the ones the route parses with. */
export interface RouteDocs {
  summary: string;
  description?: string;
  /** The path parameters, an object schema; each `{name}` in the path is a string otherwise. */
  params?: v.GenericSchema;
  query?: v.GenericSchema;
  body?: v.GenericSchema;
  /** Whether a body may be left out (every field optional). */
  bodyOptional?: boolean;
  /** The answer on success; no schema for an empty answer (204). */
  success: { status: number; description: string; schema?: v.GenericSchema };
  /** Error statuses of this route beyond those every route of its kind has. */
  errors?: readonly number[];
}

interface RouteShape {
  method: RouteMethod;
  /**
   * Below /api/v1 ('/webhooks/{id}', '/events'). A route module writes it
   * below its resource ('/{id}'); the table (routes/table.ts) puts it there.
   */
  path: string;
  /** Required of every route in the table by test/api/openapi.test.ts. */
  docs?: RouteDocs;
}

/** A route behind the key authorizer: the key's tenant and permissions reach the handler. */
export interface KeyRoute extends RouteShape {
  permission: Permission;
  handle(request: ApiRequest): Promise<APIGatewayProxyResult>;
}

/** A route anyone may call, without a key (its resource is public in the stack too). */
export interface PublicRoute extends RouteShape {
  permission: 'public';
  handle(request: PublicRequest): Promise<APIGatewayProxyResult>;
}

export type Route = KeyRoute | PublicRoute;

export const isKeyRoute = (route: Route): route is KeyRoute => route.permission !== 'public';

/** The routes of one resource, their paths put below it. */
export const under = (resource: string, routes: readonly Route[]): Route[] =>
  routes.map((route) => ({ ...route, path: `${resource}${route.path}` }));

/** The prefix every route path is below: /api/v1. */
export const API_ROOT = `/${API.rootPath.join('/')}`;

interface CompiledPath {
  segments: string[];
  routes: Route[];
}

const splitPath = (path: string): string[] => path.split('/').filter((part) => part.length > 0);

const isParameter = (segment: string) => segment.startsWith('{');

/**
 * Literal segments win over parameters, from the left: /webhooks/events is
 * not /webhooks/{id}, and /webhooks/templates/{id} is tried before
 * /webhooks/{id}/subscriptions.
 */
const moreSpecific = (a: CompiledPath, b: CompiledPath): number => {
  for (let index = 0; index < Math.min(a.segments.length, b.segments.length); index++) {
    const left = isParameter(a.segments[index] ?? '');
    const right = isParameter(b.segments[index] ?? '');
    if (left !== right) return left ? 1 : -1;
  }
  return 0;
};

const compile = (routes: readonly Route[]): CompiledPath[] => {
  const byPath = new Map<string, CompiledPath>();
  for (const route of routes) {
    const existing = byPath.get(route.path);
    if (existing) existing.routes.push(route);
    else byPath.set(route.path, { segments: splitPath(route.path), routes: [route] });
  }
  return [...byPath.values()].sort(moreSpecific);
};

const match = (path: CompiledPath, parts: string[]): Record<string, string> | undefined => {
  if (path.segments.length !== parts.length) return undefined;
  const params: Record<string, string> = {};
  for (const [index, segment] of path.segments.entries()) {
    const part = parts[index] ?? '';
    if (isParameter(segment)) params[segment.slice(1, -1)] = part;
    else if (segment !== part) return undefined;
  }
  return params;
};

/**
 * The request's path below /api/v1, rebuilt from the resource API Gateway
 * matched and its path parameters (`/api/v1/webhooks/{proxy+}` with `proxy`),
 * so a custom domain's base path mapping, which `event.path` carries, makes
 * no difference.
 */
export const routePath = (event: APIGatewayProxyEvent): string => {
  const resource = event.resource
    ? event.resource.replace(
        /\{([^}+]+)\+?\}/g,
        (_whole, name: string) => event.pathParameters?.[name] ?? '',
      )
    : event.path;
  return resource.startsWith(`${API_ROOT}/`) ? resource.slice(API_ROOT.length) : resource;
};

export const createRouter = (routes: readonly Route[]) => {
  const paths = compile(routes);
  return async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
    const parts = splitPath(routePath(event));
    for (const path of paths) {
      const params = match(path, parts);
      if (!params) continue;
      const route = path.routes.find((candidate) => candidate.method === event.httpMethod);
      if (!route) throw new MethodNotAllowedError(path.routes.map((candidate) => candidate.method));
      const request: PublicRequest = {
        method: event.httpMethod,
        params,
        query: definedValues(event.queryStringParameters),
        headers: lowerCaseHeaders(event.headers),
        requestId: event.requestContext.requestId,
        body: () => parseJsonObject(event),
        optionalBody: () => (bodyText(event).trim() === '' ? {} : parseJsonObject(event)),
      };
      if (!isKeyRoute(route)) return route.handle(request);
      // No authorizer context (a key route reached without the authorizer) is a 401.
      const principal = principalOf(event);
      if (!principal.permissions.includes(route.permission)) {
        throw new ForbiddenError(`This API key lacks the ${route.permission} permission`);
      }
      return route.handle({ ...request, principal });
    }
    throw new NotFoundError(`No route for ${event.httpMethod} ${event.path}`);
  };
};
