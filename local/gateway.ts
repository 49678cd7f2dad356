import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type {
  APIGatewayAuthorizerResult,
  APIGatewayEventRequestContext,
  APIGatewayProxyEvent,
  APIGatewayProxyResult,
  APIGatewayRequestAuthorizerEvent,
  Context,
} from 'aws-lambda';
import {
  API,
  type GatewayResponseDefinition,
  gatewayResponse,
  gatewayResponseBody,
  gatewayResponseHeaders,
} from '../lib/resources.ts';
import { close, listen } from './http-server.ts';
import { InvocationTimeout, invoke } from './lambda-context.ts';
import type { ApiMethodModel, ApiResourceModel } from './stack-model.ts';
import { TokenBuckets } from './token-bucket.ts';

/**
 * API Gateway (REST, Lambda proxy) in front of the real handlers: the
 * template's resources and methods (a method behind the key authorizer, or
 * public), the authorizer with its cache, usage-plan and method throttling
 * and gateway responses as the stack has them, and byte-for-byte the event
 * shapes the deployed functions receive.
 */

type ApiHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;
type AuthorizerHandler = (
  event: APIGatewayRequestAuthorizerEvent,
  context: Context,
) => Promise<APIGatewayAuthorizerResult>;

export interface GatewayOptions {
  host: string;
  port: number;
  /** The template's resources and their methods (stack-model.ts readApi). */
  resources: readonly ApiResourceModel[];
  /** The functions behind the gateway, each with its own timeout from the template. */
  api: { handler: ApiHandler; timeoutMs: number };
  authorizer: { handler: AuthorizerHandler; timeoutMs: number };
  /** The integration's own limit (29 s by default); the function may run on past it. */
  integrationTimeoutMs: number;
  authorizerCacheTtlSeconds: number;
  throttle: { rateLimit: number; burstLimit: number };
  retryAfterSeconds: number;
  /** One line per request; omit for silence. */
  log?: (line: string) => void;
}

export interface RunningGateway {
  url: string;
  port: number;
  stop(): Promise<void>;
}

const ACCOUNT = '000000000000';
const REGION = 'us-east-1';
const API_ID = 'local';
/** API Gateway's own limit on payloads. */
const MAX_PAYLOAD_BYTES = 10 * 1024 * 1024;
/** Lambda's limit on a synchronous invocation's event (which holds the body) and on its answer. */
const MAX_LAMBDA_PAYLOAD_BYTES = 6 * 1024 * 1024;

class PayloadTooLarge extends Error {}
class IntegrationTimeout extends Error {}

const readBody = (request: IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_PAYLOAD_BYTES) {
        reject(new PayloadTooLarge());
        request.resume();
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });

/**
 * Maps keyed by what a client sent: without a prototype, so a header or query
 * parameter named `constructor` or `__proto__` is just a name.
 */
const clientKeyed = <T>(): Record<string, T> => Object.create(null) as Record<string, T>;

/** Header maps as API Gateway builds them: names as the client sent them; last value wins. */
const headerMaps = (request: IncomingMessage) => {
  const headers = clientKeyed<string>();
  const multiValueHeaders = clientKeyed<string[]>();
  for (let index = 0; index < request.rawHeaders.length; index += 2) {
    const name = request.rawHeaders[index] ?? '';
    const value = request.rawHeaders[index + 1] ?? '';
    headers[name] = value;
    multiValueHeaders[name] = [...(multiValueHeaders[name] ?? []), value];
  }
  return { headers, multiValueHeaders };
};

const queryMaps = (url: URL) => {
  if ([...url.searchParams.keys()].length === 0) {
    return { queryStringParameters: null, multiValueQueryStringParameters: null };
  }
  const queryStringParameters = clientKeyed<string>();
  const multiValueQueryStringParameters = clientKeyed<string[]>();
  for (const [name, value] of url.searchParams) {
    queryStringParameters[name] = value;
    multiValueQueryStringParameters[name] = [
      ...(multiValueQueryStringParameters[name] ?? []),
      value,
    ];
  }
  return { queryStringParameters, multiValueQueryStringParameters };
};

const decoded = (text: string): string => {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
};

const segmentsOf = (path: string) => path.split('/').slice(1);

/** A literal segment before a `{name}`, and `{name}` before a greedy `{name+}`, from the left. */
const specificity = (segment: string) =>
  segment.endsWith('+}') ? 2 : segment.startsWith('{') ? 1 : 0;

const bySpecificity = (a: ApiResourceModel, b: ApiResourceModel): number => {
  const left = segmentsOf(a.path);
  const right = segmentsOf(b.path);
  for (let index = 0; index < Math.min(left.length, right.length); index++) {
    const order = specificity(left[index] ?? '') - specificity(right[index] ?? '');
    if (order !== 0) return order;
  }
  return right.length - left.length;
};

/** The resource a path falls in and its path parameters, as API Gateway matches them. */
const matchResource = (resource: ApiResourceModel, parts: readonly string[]) => {
  const template = segmentsOf(resource.path);
  const parameters: Record<string, string> = {};
  for (const [index, segment] of template.entries()) {
    if (segment.endsWith('+}')) {
      const rest = parts.slice(index);
      if (rest.length === 0 || rest.some((part) => part === '')) return undefined;
      parameters[segment.slice(1, -2)] = decoded(rest.join('/'));
      return parameters;
    }
    const part = parts[index];
    if (part === undefined || part === '') return undefined;
    if (segment.startsWith('{')) parameters[segment.slice(1, -1)] = decoded(part);
    else if (segment !== part) return undefined;
  }
  return template.length === parts.length ? parameters : undefined;
};

/** Resources in the order API Gateway tries them: the most specific first. */
const inMatchOrder = (resources: readonly ApiResourceModel[]) => [...resources].sort(bySpecificity);

/**
 * The resource and method a request reaches, with its path parameters, or
 * undefined where API Gateway answers MISSING_AUTHENTICATION_TOKEN.
 * `resources` in match order.
 */
const resolveResource = (resources: readonly ApiResourceModel[], path: string, method: string) => {
  const trimmed = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  const parts = segmentsOf(trimmed);
  for (const resource of resources) {
    const parameters = matchResource(resource, parts);
    if (!parameters) continue;
    const found =
      resource.methods.find((candidate) => candidate.httpMethod === method) ??
      resource.methods.find((candidate) => candidate.httpMethod === 'ANY');
    // A resource without the method is what API Gateway answers for an unknown path too.
    if (!found) return undefined;
    return {
      resource: resource.path,
      method: found,
      pathParameters: Object.keys(parameters).length > 0 ? parameters : null,
    };
  }
  return undefined;
};

/** Where the gateway sends a request, for tests that hold the route table to the template. */
export const resourceFor = (resources: readonly ApiResourceModel[], path: string, method: string) =>
  resolveResource(inMatchOrder(resources), path, method);

/** IAM-style wildcard match of a policy resource against the method ARN. */
const resourceMatches = (pattern: string, arn: string): boolean => {
  const escaped = pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${escaped}$`).test(arn);
};

const allows = (result: APIGatewayAuthorizerResult, methodArn: string): boolean => {
  const statements = result.policyDocument.Statement.filter(
    (statement) => 'Action' in statement || 'NotAction' in statement,
  );
  const resourcesOf = (statement: (typeof statements)[number]): string[] => {
    if (!('Resource' in statement)) return [];
    const resource = statement.Resource;
    if (resource === undefined) return [];
    return Array.isArray(resource) ? resource : [resource];
  };
  const matching = statements.filter((statement) =>
    resourcesOf(statement).some((resource) => resourceMatches(resource, methodArn)),
  );
  return (
    matching.some((statement) => statement.Effect === 'Allow') &&
    !matching.some((statement) => statement.Effect === 'Deny')
  );
};

/** Context values reach the integration as strings, as API Gateway passes them. */
const stringContext = (context: APIGatewayAuthorizerResult['context']) => {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(context ?? {})) {
    if (value !== null && value !== undefined) result[name] = String(value);
  }
  return result;
};

export const startGateway = async (options: GatewayOptions): Promise<RunningGateway> => {
  const authorizerCache = new Map<string, { result: APIGatewayAuthorizerResult; until: number }>();
  const buckets = new TokenBuckets(options.throttle.rateLimit, options.throttle.burstLimit);
  const resources = inMatchOrder(options.resources);
  // Stage method throttling: one bucket per method, shared by every caller.
  const methodBuckets = new Map<ApiMethodModel, TokenBuckets>();
  const methodAllows = (method: ApiMethodModel): boolean => {
    if (!method.throttle) return true;
    let bucket = methodBuckets.get(method);
    if (!bucket) {
      bucket = new TokenBuckets(method.throttle.rateLimit, method.throttle.burstLimit);
      methodBuckets.set(method, bucket);
    }
    return bucket.take('method');
  };
  const log = options.log ?? (() => undefined);

  const sendGatewayResponse = (response: ServerResponse, type: string, requestId: string) => {
    const definition: GatewayResponseDefinition = gatewayResponse(type);
    response.writeHead(definition.statusCode, {
      'content-type': 'application/json',
      'x-amzn-requestid': requestId,
      'x-amzn-errortype': type,
      ...gatewayResponseHeaders(definition, options.retryAfterSeconds),
    });
    response.end(gatewayResponseBody(definition));
    return definition.statusCode;
  };

  const authorize = async (
    event: APIGatewayRequestAuthorizerEvent,
    apiKey: string,
  ): Promise<APIGatewayAuthorizerResult | 'unauthorized'> => {
    const cached = authorizerCache.get(apiKey);
    if (cached && cached.until > Date.now()) return cached.result;
    try {
      const result = await invoke(
        options.authorizer.handler,
        event,
        'authorizer',
        options.authorizer.timeoutMs,
      );
      if (options.authorizerCacheTtlSeconds > 0) {
        authorizerCache.set(apiKey, {
          result,
          until: Date.now() + options.authorizerCacheTtlSeconds * 1000,
        });
      }
      return result;
    } catch (error) {
      if (error instanceof Error && error.message === 'Unauthorized') return 'unauthorized';
      throw error;
    }
  };

  const handle = async (
    request: IncomingMessage,
    response: ServerResponse,
    requestId: string,
  ): Promise<{ status: number; principal?: string }> => {
    const url = new URL(request.url ?? '/', 'http://gateway.local');
    const method = request.method ?? 'GET';
    let body: string;
    try {
      body = await readBody(request);
    } catch (error) {
      if (error instanceof PayloadTooLarge) {
        return { status: sendGatewayResponse(response, 'REQUEST_TOO_LARGE', requestId) };
      }
      throw error;
    }
    const route = resolveResource(resources, url.pathname, method);
    if (!route) {
      return { status: sendGatewayResponse(response, 'MISSING_AUTHENTICATION_TOKEN', requestId) };
    }
    const { headers, multiValueHeaders } = headerMaps(request);
    const now = new Date();
    const requestContext: Omit<APIGatewayEventRequestContext, 'authorizer'> = {
      accountId: ACCOUNT,
      apiId: API_ID,
      protocol: `HTTP/${request.httpVersion}`,
      httpMethod: method,
      identity: {
        accessKey: null,
        accountId: null,
        apiKey: null,
        apiKeyId: null,
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: request.socket.remoteAddress ?? '127.0.0.1',
        user: null,
        userAgent: request.headers['user-agent'] ?? null,
        userArn: null,
      },
      path: `/${API.stageName}${url.pathname}`,
      stage: API.stageName,
      requestId,
      requestTimeEpoch: now.getTime(),
      resourceId: route.resource,
      resourcePath: route.resource,
      domainName: request.headers.host ?? '127.0.0.1',
      domainPrefix: API_ID,
      extendedRequestId: requestId,
      requestTime: now.toUTCString(),
    };
    const shared = {
      resource: route.resource,
      path: url.pathname,
      httpMethod: method,
      headers,
      multiValueHeaders,
      ...queryMaps(url),
      pathParameters: route.pathParameters,
      stageVariables: null,
    };

    if (route.method.access === 'public') {
      if (!methodAllows(route.method)) {
        return { status: sendGatewayResponse(response, 'THROTTLED', requestId) };
      }
      // No authorizer ran: the function sees no authorizer context, as on AWS.
      const event: APIGatewayProxyEvent = {
        ...shared,
        requestContext: { ...requestContext, authorizer: undefined },
        body: body === '' ? null : body,
        isBase64Encoded: false,
      };
      return invokeApi(response, event, body, requestId, undefined);
    }

    // The authorizer's identity source: no X-API-Key, no call, a 401.
    const apiKey = request.headers['x-api-key'];
    if (typeof apiKey !== 'string' || apiKey === '') {
      return { status: sendGatewayResponse(response, 'UNAUTHORIZED', requestId) };
    }
    const methodArn = `arn:aws:execute-api:${REGION}:${ACCOUNT}:${API_ID}/${API.stageName}/${method}${url.pathname}`;
    let authorization: APIGatewayAuthorizerResult | 'unauthorized';
    try {
      authorization = await authorize(
        {
          type: 'REQUEST',
          methodArn,
          ...shared,
          requestContext: { ...requestContext, authorizer: undefined },
        },
        apiKey,
      );
    } catch {
      return { status: sendGatewayResponse(response, 'AUTHORIZER_FAILURE', requestId) };
    }
    if (authorization === 'unauthorized') {
      return { status: sendGatewayResponse(response, 'UNAUTHORIZED', requestId) };
    }
    if (!allows(authorization, methodArn)) {
      return { status: sendGatewayResponse(response, 'ACCESS_DENIED', requestId) };
    }
    const principal = authorization.principalId;
    // Usage plan: the key the authorizer names is throttled on its own bucket.
    const usageKey = authorization.usageIdentifierKey;
    if (!usageKey) {
      return { status: sendGatewayResponse(response, 'INVALID_API_KEY', requestId), principal };
    }
    if (!buckets.take(usageKey) || !methodAllows(route.method)) {
      return { status: sendGatewayResponse(response, 'THROTTLED', requestId), principal };
    }

    const event: APIGatewayProxyEvent = {
      ...shared,
      requestContext: {
        ...requestContext,
        authorizer: {
          principalId: principal,
          integrationLatency: 0,
          ...stringContext(authorization.context),
        },
      },
      body: body === '' ? null : body,
      isBase64Encoded: false,
    };
    return invokeApi(response, event, body, requestId, principal);
  };

  /** The integration: the API function's answer, within Lambda's and API Gateway's limits. */
  const invokeApi = async (
    response: ServerResponse,
    event: APIGatewayProxyEvent,
    body: string,
    requestId: string,
    principal: string | undefined,
  ): Promise<{ status: number; principal?: string }> => {
    // A larger event never reaches the function; API Gateway refuses the request.
    if (
      Buffer.byteLength(body) > MAX_LAMBDA_PAYLOAD_BYTES / 2 &&
      Buffer.byteLength(JSON.stringify(event)) > MAX_LAMBDA_PAYLOAD_BYTES
    ) {
      return { status: sendGatewayResponse(response, 'REQUEST_TOO_LARGE', requestId), principal };
    }
    let result: APIGatewayProxyResult;
    let integrationTimer: NodeJS.Timeout | undefined;
    try {
      // The function's own timeout is a failed invocation (502); the integration's is a 504,
      // and the function goes on running, as on AWS.
      const integrationTimeout = new Promise<never>((_, reject) => {
        integrationTimer = setTimeout(
          () => reject(new IntegrationTimeout()),
          options.integrationTimeoutMs,
        );
      });
      result = await Promise.race([
        invoke(options.api.handler, event, 'api', options.api.timeoutMs),
        integrationTimeout,
      ]);
      if (Buffer.byteLength(JSON.stringify(result)) > MAX_LAMBDA_PAYLOAD_BYTES) {
        throw new Error('Response payload size exceeded the maximum allowed payload size');
      }
    } catch (error) {
      const type =
        error instanceof IntegrationTimeout ? 'INTEGRATION_TIMEOUT' : 'INTEGRATION_FAILURE';
      if (!(error instanceof IntegrationTimeout)) {
        const detail = error instanceof InvocationTimeout ? error.message : undefined;
        log(
          `api function failed: ${detail ?? (error instanceof Error ? error.stack : String(error))}`,
        );
      }
      return { status: sendGatewayResponse(response, type, requestId), principal };
    } finally {
      clearTimeout(integrationTimer);
    }
    const responseHeaders: Record<string, string | string[]> = { 'x-amzn-requestid': requestId };
    for (const [name, value] of Object.entries(result.headers ?? {})) {
      responseHeaders[name.toLowerCase()] = String(value);
    }
    for (const [name, values] of Object.entries(result.multiValueHeaders ?? {})) {
      responseHeaders[name.toLowerCase()] = values.map(String);
    }
    response.writeHead(result.statusCode, responseHeaders);
    response.end(result.isBase64Encoded ? Buffer.from(result.body, 'base64') : result.body);
    return { status: result.statusCode, principal };
  };

  const server: Server = createServer((request, response) => {
    const started = performance.now();
    const requestId = randomUUID();
    handle(request, response, requestId)
      .then(({ status, principal }) => {
        const took = (performance.now() - started).toFixed(1);
        const who = principal ? ` ${principal}` : '';
        log(`${request.method} ${request.url} → ${status} ${took} ms${who}`);
      })
      .catch((error: unknown) => {
        log(`gateway error: ${error instanceof Error ? error.stack : String(error)}`);
        if (!response.headersSent) sendGatewayResponse(response, 'DEFAULT_5XX', requestId);
        else response.destroy();
      });
  });
  server.keepAliveTimeout = 60_000;
  const port = await listen(server, options.port, options.host);
  return { url: `http://${options.host}:${port}`, port, stop: () => close(server) };
};
