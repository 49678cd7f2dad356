import {
  type ConversionConfig,
  type JsonSchema,
  toJsonSchema,
  toJsonSchemaDefs,
} from '@valibot/to-json-schema';
import type * as v from 'valibot';
import { guardedBy } from '../domain/webhooks/fields.ts';
import { isKeyRoute, type Route, type RouteDocs } from './router.ts';

/**
 * The OpenAPI 3.1 document of the API, made from the route table: each
 * route's path, method and permission, and the valibot schemas it parses
 * requests with and describes its answers with, turned into JSON Schema
 * (2020-12, OpenAPI 3.1's dialect) by @valibot/to-json-schema. Nothing in
 * it is written twice: a route added to the table is in the document.
 *
 * What JSON Schema cannot say (checks in code, such as "a template that
 * compiles", transformations, cross-field rules) is left out: the document
 * describes what may be sent, the API still judges it.
 */

/** Actions with no JSON Schema equivalent: refinements and transformations done in code. */
const CODE_ONLY_ACTIONS = [
  'check',
  'raw_check',
  'partial_check',
  'forward',
  'trim',
  'to_lower_case',
  'transform',
  'raw_transform',
  'max_bytes',
];

/** Schemas named once in components.schemas and referred to elsewhere. */
export type SchemaNames = Record<string, v.GenericSchema>;

const withoutDialect = (schema: JsonSchema): JsonSchema => {
  const { $schema: _dialect, $defs: _defs, ...rest } = schema as Record<string, unknown>;
  return rest as JsonSchema;
};

const conversion = (mode: 'input' | 'output', names: SchemaNames): ConversionConfig => {
  const config: ConversionConfig = {
    target: 'draft-2020-12',
    typeMode: mode,
    errorMode: 'throw',
    ignoreActions: CODE_ONLY_ACTIONS,
    ...(mode === 'output' ? { definitions: names } : {}),
    overrideRef: ({ referenceId }) => `#/components/schemas/${referenceId}`,
    overrideSchema: ({ valibotSchema }) => {
      if (valibotSchema.type !== 'custom') return undefined;
      // notArray's guard describes the object it guards; any other custom is any JSON value.
      const inner = guardedBy(valibotSchema);
      return inner ? withoutDialect(toJsonSchema(inner, config)) : {};
    },
  };
  return config;
};

/** components.schemas: each named schema, referring to the others by name. */
const definitionsConfig = (): Omit<ConversionConfig, 'definitions'> => {
  const { definitions: _none, ...config } = conversion('output', {});
  return config;
};

/** A schema as the document holds it: requests as they may be sent, answers as they come. */
export const jsonSchemaOf = (
  schema: v.GenericSchema,
  mode: 'input' | 'output',
  names: SchemaNames = {},
): JsonSchema => withoutDialect(toJsonSchema(schema, conversion(mode, names)));

const STATUS_TEXT: Record<number, string> = {
  400: 'Invalid request (VALIDATION_ERROR with details per field, or BAD_REQUEST)',
  401: 'Missing or unknown API key',
  403: 'The key lacks the permission, or may not make this change',
  404: 'No such resource for this key’s tenant',
  409: 'Conflict',
  413: 'Body larger than 256 KiB',
  429: 'Too many requests for this key; see Retry-After',
  500: 'Internal error (the message carries the request id only)',
};

const errorResponse = (status: number) => ({
  description: STATUS_TEXT[status] ?? 'Error',
  ...(status === 429
    ? { headers: { 'Retry-After': { schema: { type: 'integer' }, description: 'Seconds' } } }
    : {}),
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});

const parametersOf = (route: Route, docs: RouteDocs | undefined) => {
  const inPath = [...route.path.matchAll(/\{([^}]+)\}/g)].map((match) => match[1] ?? '');
  const pathSchema = docs?.params ? jsonSchemaOf(docs.params, 'input') : undefined;
  const pathProperties = (pathSchema?.properties ?? {}) as Record<string, JsonSchema>;
  const query = docs?.query ? jsonSchemaOf(docs.query, 'input') : undefined;
  const required = new Set((query?.required as string[] | undefined) ?? []);
  return [
    ...inPath.map((name) => ({
      name,
      in: 'path',
      required: true,
      schema: pathProperties[name] ?? { type: 'string' },
    })),
    ...Object.entries((query?.properties ?? {}) as Record<string, JsonSchema>).map(
      ([name, schema]) => ({ name, in: 'query', required: required.has(name), schema }),
    ),
  ];
};

/** The error answers a route may give: those of its kind, and its own. */
const errorStatuses = (route: Route, docs: RouteDocs | undefined): number[] => {
  const statuses = new Set<number>([500]);
  if (isKeyRoute(route)) for (const status of [401, 403, 429]) statuses.add(status);
  if (docs?.body) for (const status of [400, 413]) statuses.add(status);
  if (docs?.query || route.path.includes('{')) statuses.add(400);
  if (isKeyRoute(route) && route.path.includes('{')) statuses.add(404);
  for (const status of docs?.errors ?? []) statuses.add(status);
  return [...statuses].sort((a, b) => a - b);
};

const operationId = (route: Route): string =>
  [
    route.method.toLowerCase(),
    ...route.path
      .split(/[/.]/)
      .filter(Boolean)
      .map((part) => part.replace(/[{}]/g, ''))
      .map((part) =>
        part.replace(/(^|_)([a-z])/g, (_m, _s, letter: string) => letter.toUpperCase()),
      ),
  ].join('');

const operationOf = (route: Route, names: SchemaNames) => {
  const { docs } = route;
  const permission = isKeyRoute(route)
    ? `Permission: \`${route.permission}\`.`
    : 'No API key needed.';
  const success: RouteDocs['success'] = docs?.success ?? { status: 200, description: 'Success' };
  return {
    operationId: operationId(route),
    summary: docs?.summary ?? `${route.method} ${route.path}`,
    description: [docs?.description, permission].filter(Boolean).join('\n\n'),
    tags: [route.path.split('/')[1] ?? 'api'],
    ...(isKeyRoute(route) ? { 'x-permission': route.permission } : { security: [] }),
    parameters: parametersOf(route, docs),
    ...(docs?.body
      ? {
          requestBody: {
            required: !docs.bodyOptional,
            content: { 'application/json': { schema: jsonSchemaOf(docs.body, 'input') } },
          },
        }
      : {}),
    responses: {
      [String(success.status)]: {
        description: success.description,
        ...(success.schema
          ? {
              content: {
                'application/json': { schema: jsonSchemaOf(success.schema, 'output', names) },
              },
            }
          : {}),
      },
      ...Object.fromEntries(
        errorStatuses(route, docs).map((status) => [String(status), errorResponse(status)]),
      ),
    },
  };
};

export interface OpenApiOptions {
  title: string;
  version: string;
  description: string;
  /** Schemas the document names once; `Error` is required. */
  names: SchemaNames;
}

export const openApiDocument = (routes: readonly Route[], options: OpenApiOptions) => {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    paths[route.path] ??= {};
    const item = paths[route.path] ?? {};
    item[route.method.toLowerCase()] = operationOf(route, options.names);
  }
  return {
    openapi: '3.1.0',
    info: { title: options.title, version: options.version, description: options.description },
    // Relative: wherever this document is served from (/api/v1, behind any stage or domain).
    servers: [{ url: '.', description: 'The API this document was fetched from' }],
    security: [{ apiKey: [] }],
    tags: [...new Set(routes.map((route) => route.path.split('/')[1] ?? 'api'))].map((name) => ({
      name,
    })),
    paths,
    components: {
      securitySchemes: {
        apiKey: {
          type: 'apiKey',
          in: 'header',
          name: 'X-API-Key',
          description:
            'A key from `npm run keys -- create`; it names the tenant and its permissions.',
        },
      },
      schemas: toJsonSchemaDefs(options.names, definitionsConfig()),
    },
  };
};

export type OpenApiDocument = ReturnType<typeof openApiDocument>;
