import { describe, expect, it } from 'vitest';
import { ValidationError } from '../errors.ts';
import { parseOrThrow } from '../validation.ts';
import { webhookConfigSchema, webhookPatchSchema, webhookRecordSchema } from './schema.ts';

/** Every rule of the webhook object, with the detail a client gets when it breaks. */

const valid = () => ({
  name: 'Orders',
  url: 'https://example.com/hook',
  event_types: ['ticket.created'],
});

const problemsOf = (
  body: unknown,
  schema: typeof webhookConfigSchema | typeof webhookPatchSchema = webhookConfigSchema,
) => {
  try {
    parseOrThrow(schema, body);
  } catch (error) {
    if (error instanceof ValidationError) return error.details;
    throw error;
  }
  return [];
};

const problemOf = (overrides: Record<string, unknown>) => problemsOf({ ...valid(), ...overrides });

describe('required fields', () => {
  it('names each missing one', () => {
    expect(problemsOf({})).toEqual([
      { field: 'name', message: 'is required' },
      { field: 'url', message: 'is required' },
      { field: 'event_types', message: 'is required' },
    ]);
  });

  it('accepts the minimal body', () => {
    expect(problemsOf(valid())).toEqual([]);
  });
});

describe.each([
  ['name', '', 'must not be empty'],
  ['name', '   ', 'must not be empty'],
  ['name', 'x'.repeat(256), 'must be at most 255 characters'],
  ['name', 42, 'must be a string'],
  ['description', 'x'.repeat(4001), 'must be at most 4000 characters'],
  ['url', 'example.com/hook', 'must be an absolute http(s) URL'],
  ['url', 'ftp://example.com/hook', 'must use http or https'],
  [
    'url',
    'https://user:pass@example.com/hook',
    'must not carry credentials; use security.type basic_auth instead',
  ],
  ['url', `https://example.com/${'a'.repeat(2040)}`, 'must be at most 2048 characters'],
  ['method', 'GETS', 'must be one of GET, POST, PUT, PATCH, DELETE'],
  ['event_types', [], 'must list at least one event type'],
  ['event_types', 'ticket.created', 'must be an Array'],
  ['payload_format', 'yaml', 'must be one of json, xml, form_data, custom'],
  ['content_type', 'json', 'must be a media type such as "application/json"'],
  [
    'content_type',
    'application/json\r\nX-Evil: 1',
    'must be a media type such as "application/json"',
  ],
  [
    'content_type',
    'application/json; charset=utf-8\n',
    'must be a media type such as "application/json"',
  ],
  [
    'secret_token',
    'a\r\nX-Evil: 1',
    'may contain only printable ASCII characters, spaces and tabs',
  ],
  ['is_active', 'yes', 'must be a boolean'],
  ['is_test_mode', 1, 'must be a boolean'],
  ['verify_ssl', null, 'must be a boolean'],
  ['secret_token', '', 'must not be empty'],
  ['tags', 'a', 'must be an Array'],
])('%s = %j', (field, value, message) => {
  it(`says "${message}"`, () => {
    expect(problemOf({ [field]: value })).toEqual([{ field, message }]);
  });
});

describe('event_types', () => {
  it('names each entry that is not in the catalog', () => {
    expect(
      problemOf({ event_types: ['ticket.created', 'ticket.exploded', 'webhook.test'] }),
    ).toEqual([
      {
        field: 'event_types.1',
        message: 'is not a known event type (GET /api/v1/webhooks/events lists them)',
      },
      {
        field: 'event_types.2',
        message: 'is not a known event type (GET /api/v1/webhooks/events lists them)',
      },
    ]);
  });

  it('drops repeats', () => {
    const config = parseOrThrow(webhookConfigSchema, {
      ...valid(),
      event_types: ['ticket.created', 'ticket.closed', 'ticket.created'],
    });
    expect(config.event_types).toEqual(['ticket.created', 'ticket.closed']);
  });

  it('accepts the deprecated project.completed alias', () => {
    expect(problemOf({ event_types: ['project.completed'] })).toEqual([]);
  });
});

describe('security', () => {
  it.each([
    [
      { type: 'magic' },
      'security.type',
      'must be one of none, basic_auth, bearer_token, api_key, hmac_signature, oauth2',
    ],
    [{ type: 'basic_auth', password: 'p' }, 'security.username', 'is required'],
    [
      { type: 'basic_auth', username: 'a:b', password: 'p' },
      'security.username',
      'must not contain ":"',
    ],
    [{ type: 'basic_auth', username: 'a' }, 'security.password', 'is required'],
    [{ type: 'bearer_token' }, 'security.token', 'is required'],
    [{ type: 'bearer_token', token: '' }, 'security.token', 'must not be empty'],
    [
      { type: 'bearer_token', token: 'abc\r\nX-Evil: 1' },
      'security.token',
      'may contain only printable ASCII characters, spaces and tabs',
    ],
    [
      { type: 'api_key', token: 'k\u0000' },
      'security.token',
      'may contain only printable ASCII characters, spaces and tabs',
    ],
    [
      { type: 'api_key', token: 't', header_name: 'Bad Header' },
      'security.header_name',
      "may contain only letters, digits and !#$%&'*+.^_`|~-",
    ],
    [
      { type: 'api_key', token: 't', header_name: 'X-Alga-Signature' },
      'security.header_name',
      'is a header the service sets on every delivery, so it cannot be configured',
    ],
    [
      { type: 'hmac_signature', algorithm: 'md5' },
      'security.algorithm',
      'must be one of sha1, sha256, sha512',
    ],
    [
      { type: 'hmac_signature', signature_header: 'webhook-signature' },
      'security.signature_header',
      'is a header the service sets on every delivery, so it cannot be configured',
    ],
    [
      { type: 'hmac_signature', secret: 'x'.repeat(1025) },
      'security.secret',
      'must be at most 1024 characters',
    ],
    [{ type: 'oauth2', client_id: 'c', client_secret: 's' }, 'security.token_url', 'is required'],
    [
      { type: 'oauth2', client_id: 'c', client_secret: 's', token_url: 'not a url' },
      'security.token_url',
      'must be an absolute http(s) URL',
    ],
    [{ type: 'none', token: 'stray' }, 'security.token', 'is not a known field'],
    [
      { type: 'bearer_token', token: 't', password: 'stray' },
      'security.password',
      'is not a known field',
    ],
  ])('%j: %s %s', (security, field, message) => {
    expect(problemOf({ security })).toEqual([{ field, message }]);
  });

  it('fills the defaults of each type', () => {
    const parse = (security: object) =>
      parseOrThrow(webhookConfigSchema, { ...valid(), security }).security;
    expect(parse({ type: 'bearer_token', token: 't' })).toEqual({
      type: 'bearer_token',
      token: 't',
      header_name: 'Authorization',
    });
    expect(parse({ type: 'api_key', token: 't' })).toEqual({
      type: 'api_key',
      token: 't',
      header_name: 'Authorization',
    });
    expect(parse({ type: 'hmac_signature' })).toEqual({
      type: 'hmac_signature',
      algorithm: 'sha256',
      signature_header: 'X-Signature',
    });
    expect(parseOrThrow(webhookConfigSchema, valid()).security).toEqual({ type: 'none' });
  });
});

describe('custom_headers', () => {
  it.each([
    [
      { 'X-Alga-Event-Id': 'x' },
      'custom_headers.X-Alga-Event-Id',
      'is a header the service sets on every delivery, so it cannot be configured',
    ],
    [
      { 'content-type': 'text/plain' },
      'custom_headers.content-type',
      'is a header the service sets on every delivery, so it cannot be configured',
    ],
    [
      { 'User-Agent': 'me' },
      'custom_headers.User-Agent',
      'is a header the service sets on every delivery, so it cannot be configured',
    ],
    [
      { 'Webhook-Id': '1' },
      'custom_headers.Webhook-Id',
      'is a header the service sets on every delivery, so it cannot be configured',
    ],
    [
      { 'Bad Name': 'x' },
      'custom_headers.Bad Name',
      "may contain only letters, digits and !#$%&'*+.^_`|~-",
    ],
    [
      { 'X-Injected': 'a\r\nX-Evil: 1' },
      'custom_headers.X-Injected',
      'may contain only printable ASCII characters, spaces and tabs',
    ],
    [{ 'X-Number': 5 }, 'custom_headers.X-Number', 'must be a string'],
  ])('%j: %s %s', (headers, field, message) => {
    expect(problemOf({ custom_headers: headers })).toEqual([{ field, message }]);
  });

  it('allows at most 50 headers', () => {
    const headers = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`X-H${i}`, 'v']));
    expect(problemOf({ custom_headers: headers })).toEqual([
      { field: 'custom_headers', message: 'must have at most 50 headers' },
    ]);
  });
});

describe('event_filter', () => {
  it.each([
    [{ entity_ids: ['nope'] }, 'event_filter.entity_ids.0', 'must be a UUID'],
    [{ entity_types: [''] }, 'event_filter.entity_types.0', 'must not be empty'],
    [
      { conditions: [{ field: 'a..b', operator: 'equals', value: 1 }] },
      'event_filter.conditions.0.field',
      'must be a dot path such as "ticket.status" (letters, digits, _ - $; no __proto__, prototype or constructor)',
    ],
    [
      { conditions: [{ field: '__proto__.polluted', operator: 'equals', value: 1 }] },
      'event_filter.conditions.0.field',
      'must be a dot path such as "ticket.status" (letters, digits, _ - $; no __proto__, prototype or constructor)',
    ],
    [
      { conditions: [{ field: 'a', operator: 'matches', value: 1 }] },
      'event_filter.conditions.0.operator',
      'must be one of equals, not_equals, contains, not_contains, greater_than, less_than, in, not_in',
    ],
    [
      { conditions: [{ field: 'a', operator: 'equals' }] },
      'event_filter.conditions.0.value',
      'is required',
    ],
    [
      { conditions: [{ field: 'a', operator: 'in', value: 'x' }] },
      'event_filter.conditions.0.value',
      'must be an array for operator in',
    ],
    [
      { conditions: [{ field: 'a', operator: 'not_in', value: 3 }] },
      'event_filter.conditions.0.value',
      'must be an array for operator not_in',
    ],
    [
      { conditions: [{ field: 'a', operator: 'greater_than', value: [1] }] },
      'event_filter.conditions.0.value',
      'must be a number or a string for operator greater_than',
    ],
    [
      { conditions: [{ field: 'a', operator: 'less_than', value: true }] },
      'event_filter.conditions.0.value',
      'must be a number or a string for operator less_than',
    ],
    [{ tags: 'vip' }, 'event_filter.tags', 'must be an Array'],
    [{ colours: ['red'] }, 'event_filter.colours', 'is not a known field'],
  ])('%j: %s %s', (filter, field, message) => {
    expect(problemOf({ event_filter: filter })).toEqual([{ field, message }]);
  });

  it('allows at most 20 conditions', () => {
    const conditions = Array.from({ length: 21 }, () => ({
      field: 'a',
      operator: 'equals',
      value: 1,
    }));
    expect(problemOf({ event_filter: { conditions } })).toEqual([
      { field: 'event_filter.conditions', message: 'must have at most 20 conditions' },
    ]);
  });

  it('accepts every operator with a fitting value', () => {
    const conditions = [
      { field: 'status', operator: 'equals', value: 'open' },
      { field: 'status', operator: 'not_equals', value: null },
      { field: 'title', operator: 'contains', value: 'urgent' },
      { field: 'title', operator: 'not_contains', value: 'test' },
      { field: 'amount', operator: 'greater_than', value: 10 },
      { field: 'due', operator: 'less_than', value: '2026-12-01' },
      { field: 'priority', operator: 'in', value: ['high'] },
      { field: 'board.id', operator: 'not_in', value: [1, 2] },
    ];
    expect(
      problemOf({ event_filter: { conditions, entity_types: ['ticket'], tags: ['vip'] } }),
    ).toEqual([]);
  });
});

describe('payload_fields and payload_transformation', () => {
  it.each([
    [
      { payload_fields: { Ticket: ['a'] } },
      'payload_fields.Ticket',
      'entity names are lower-case words such as "ticket"',
    ],
    [
      { payload_fields: { ticket: ['a', 'b..c'] } },
      'payload_fields.ticket.1',
      'must be a dot path such as "ticket.status" (letters, digits, _ - $; no __proto__, prototype or constructor)',
    ],
    [
      { payload_transformation: { template: '{{#if}}' } },
      'payload_transformation.template',
      expect.stringMatching(/^is not a valid Handlebars template: /),
    ],
    [
      { payload_transformation: { template: '{{#each items}}unclosed' } },
      'payload_transformation.template',
      expect.stringMatching(/^is not a valid Handlebars template: /),
    ],
    [
      { payload_transformation: { template: 'x'.repeat(65_537) } },
      'payload_transformation.template',
      'must be at most 65536 characters',
    ],
    [
      { payload_transformation: { include_fields: ['constructor.x'] } },
      'payload_transformation.include_fields.0',
      'must be a dot path such as "ticket.status" (letters, digits, _ - $; no __proto__, prototype or constructor)',
    ],
    [
      { payload_transformation: { flatten_nested: 'yes' } },
      'payload_transformation.flatten_nested',
      'must be a boolean',
    ],
    [
      { payload_transformation: { rename: {} } },
      'payload_transformation.rename',
      'is not a known field',
    ],
  ])('%j: %s', (overrides, field, message) => {
    expect(problemOf(overrides)).toEqual([{ field, message }]);
  });

  it('accepts null for every entity (all fields) and a template that parses', () => {
    expect(
      problemOf({
        payload_fields: { ticket: null, project: ['name'] },
        payload_transformation: {
          template: '{{#each data.items}}{{this.name}}{{/each}}',
          flatten_nested: true,
        },
      }),
    ).toEqual([]);
  });

  it.each([
    [
      '{"text": {{shout data.title}} }',
      'uses helper "shout" on line 1, which is not available; available: json, eq, default, upper, lower, stringify, concat, truncate, escape_markup, if, unless, each, with, lookup',
    ],
    [
      '{{#each data.items}}\n{{json (pick this "id")}}{{/each}}',
      'uses helper "pick" on line 2, which is not available; available: json, eq, default, upper, lower, stringify, concat, truncate, escape_markup, if, unless, each, with, lookup',
    ],
    ['{{> x}}', 'uses partial "x" on line 1; partials are not available'],
    [
      '{{#*inline "row"}}{{id}}{{/inline}}',
      'uses decorator "inline" on line 1; decorators are not available',
    ],
  ])('refuses the template %j, which would fail at every delivery', (template, message) => {
    expect(problemOf({ payload_transformation: { template } })).toEqual([
      { field: 'payload_transformation.template', message },
    ]);
  });

  it.each(['event_id', 'event_type', 'occurred_at', 'tenant_id', 'data'])(
    'refuses custom_fields.%s, which delivery would ignore',
    (key) => {
      expect(
        problemOf({ payload_transformation: { custom_fields: { source: 'psa', [key]: 'x' } } }),
      ).toEqual([
        {
          field: `payload_transformation.custom_fields.${key}`,
          message:
            'is a key the service sets in every payload (event_id, event_type, occurred_at, tenant_id, data), so it cannot be a custom field',
        },
      ]);
    },
  );

  it('accepts custom_fields that only resemble the base keys', () => {
    expect(
      problemOf({
        payload_transformation: { custom_fields: { Event_ID: 1, data_source: 'psa', meta: {} } },
      }),
    ).toEqual([]);
  });

  it('refuses the same template and custom fields on update', () => {
    expect(
      problemsOf(
        { payload_transformation: { template: '{{> x}}', custom_fields: { data: {} } } },
        webhookPatchSchema,
      ).map((problem) => problem.field),
    ).toEqual(['payload_transformation.template', 'payload_transformation.custom_fields.data']);
  });

  it('still reads a stored webhook saved before these rules', () => {
    // Prepare
    const payload_transformation = {
      template: '{{shout data.title}}',
      custom_fields: { event_id: 'x' },
      flatten_nested: false,
    };
    const stored = {
      ...parseOrThrow(webhookConfigSchema, valid()),
      payload_transformation,
      webhook_id: 'wh_1',
      tenant: 'tenant-acme',
      signing_secret: 'whsec_x',
      total_deliveries: 0,
      successful_deliveries: 0,
      failed_deliveries: 0,
      created_at: '2026-01-01T00:00:00.000Z',
      updated_at: '2026-01-01T00:00:00.000Z',
      version: 1,
    };

    // Act
    const record = parseOrThrow(webhookRecordSchema, stored);

    // Assess
    expect(record.payload_transformation).toEqual(payload_transformation);
  });

  it('defaults flatten_nested to false', () => {
    const config = parseOrThrow(webhookConfigSchema, { ...valid(), payload_transformation: {} });
    expect(config.payload_transformation).toEqual({ flatten_nested: false });
  });
});

describe('retry_config', () => {
  it.each([
    [
      { strategy: 'random' },
      'retry_config.strategy',
      'must be one of exponential_backoff, linear_backoff, fixed_interval, custom',
    ],
    [{ max_attempts: 0 }, 'retry_config.max_attempts', 'must be an integer from 1 to 10'],
    [{ max_attempts: 11 }, 'retry_config.max_attempts', 'must be an integer from 1 to 10'],
    [{ max_attempts: 2.5 }, 'retry_config.max_attempts', 'must be an integer from 1 to 10'],
    [{ initial_delay: 0 }, 'retry_config.initial_delay', 'must be an integer from 1 to 86400000'],
    [{ max_delay: 999 }, 'retry_config.max_delay', 'must be an integer from 1000 to 86400000'],
    [
      { backoff_multiplier: 0.5 },
      'retry_config.backoff_multiplier',
      'must be a number from 1 to 10',
    ],
    [{ timeout: 999 }, 'retry_config.timeout', 'must be an integer from 1000 to 30000'],
    [{ timeout: 30_001 }, 'retry_config.timeout', 'must be an integer from 1000 to 30000'],
    [
      { strategy: 'custom' },
      'retry_config.delays',
      'is required when strategy is custom: the wait in ms before each retry',
    ],
    [{ delays: [1000] }, 'retry_config.delays', 'is only used with strategy custom'],
    [{ strategy: 'custom', delays: [] }, 'retry_config.delays', 'must list at least one delay'],
    [
      { strategy: 'custom', delays: Array(10).fill(1000) },
      'retry_config.delays',
      'must list at most 9 delays (max_attempts is at most 10)',
    ],
    [
      { strategy: 'custom', delays: [-1] },
      'retry_config.delays.0',
      'must be an integer from 0 to 86400000',
    ],
    [
      { initial_delay: 5000, max_delay: 2000 },
      'retry_config.initial_delay',
      'must not be greater than max_delay',
    ],
  ])('%j: %s %s', (retry, field, message) => {
    expect(problemOf({ retry_config: retry })).toEqual([{ field, message }]);
  });

  it('takes the Standard Webhooks schedule as custom delays', () => {
    const delays = [
      0, 5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 50_400_000, 72_000_000,
    ];
    expect(problemOf({ retry_config: { strategy: 'custom', max_attempts: 10, delays } })).toEqual(
      [],
    );
  });
});

describe('rate_limit and metadata', () => {
  it.each([
    [
      { rate_limit: { enabled: true, requests_per_minute: 0 } },
      'rate_limit.requests_per_minute',
      'must be an integer from 1 to 1000',
    ],
    [
      { rate_limit: { enabled: true, requests_per_minute: 1001 } },
      'rate_limit.requests_per_minute',
      'must be an integer from 1 to 1000',
    ],
    [
      { rate_limit: { burst_limit: 0 } },
      'rate_limit.burst_limit',
      'must be an integer from 1 to 1000',
    ],
    [{ rate_limit: { enabled: 'on' } }, 'rate_limit.enabled', 'must be a boolean'],
    [
      { metadata: { notes: 'x'.repeat(4001) } },
      'metadata.notes',
      'must be at most 4000 characters',
    ],
    [{ metadata: { tags: [''] } }, 'metadata.tags.0', 'must not be empty'],
    [{ metadata: { owner: 'me' } }, 'metadata.owner', 'is not a known field'],
    [{ tags: Array.from({ length: 51 }, (_, i) => `t${i}`) }, 'tags', 'must have at most 50 tags'],
  ])('%j: %s %s', (overrides, field, message) => {
    expect(problemOf(overrides)).toEqual([{ field, message }]);
  });
});

describe('unknown fields', () => {
  it('are refused by name, so a typo does not pass silently', () => {
    expect(problemOf({ event_type: ['ticket.created'] })).toEqual([
      { field: 'event_type', message: 'is not a known field' },
    ]);
  });
});

describe('all problems at once', () => {
  it('reports every bad field in one answer', () => {
    expect(
      problemsOf({
        name: '',
        url: 'nope',
        event_types: ['x'],
        method: 'GO',
        retry_config: { max_attempts: 99 },
      }).map((problem) => problem.field),
    ).toEqual(['name', 'url', 'method', 'event_types.0', 'retry_config.max_attempts']);
  });
});

describe('update schema', () => {
  it('accepts any subset of fields and applies no defaults to absent ones', () => {
    expect(parseOrThrow(webhookPatchSchema, { name: 'Renamed' })).toEqual({ name: 'Renamed' });
    expect(parseOrThrow(webhookPatchSchema, {})).toEqual({});
  });

  it('accepts null only where a field can be cleared', () => {
    expect(
      problemsOf({ description: null, tags: null, event_filter: null }, webhookPatchSchema),
    ).toEqual([]);
    expect(problemsOf({ name: null, url: null, event_types: null }, webhookPatchSchema)).toEqual([
      { field: 'name', message: 'must be a string' },
      { field: 'url', message: 'must be a string' },
      { field: 'event_types', message: 'must be an Array' },
    ]);
  });

  it('validates given fields exactly as create does', () => {
    expect(problemsOf({ retry_config: { timeout: 5 } }, webhookPatchSchema)).toEqual([
      { field: 'retry_config.timeout', message: 'must be an integer from 1000 to 30000' },
    ]);
  });
});

describe('objects given as arrays', () => {
  it.each([
    'retry_config',
    'rate_limit',
    'metadata',
    'custom_headers',
    'event_filter',
    'payload_fields',
    'payload_transformation',
    'security',
  ])('refuses %s: [] instead of turning it into {} or the defaults', (field) => {
    expect(problemOf({ [field]: [] })).toEqual([
      { field, message: 'must be an object, not an array' },
    ]);
  });

  it('refuses arrays nested where objects go, and on update too', () => {
    // Prepare
    const body = {
      custom_headers: ['X-A'],
      event_filter: { conditions: [[]] },
      payload_transformation: { custom_fields: ['x'] },
      metadata: { properties: [1] },
    };

    // Act
    const fields = problemsOf(body, webhookPatchSchema).map((problem) => problem.field);

    // Assess
    expect(fields).toEqual([
      'custom_headers',
      'event_filter.conditions.0',
      'payload_transformation.custom_fields',
      'metadata.properties',
    ]);
  });
});

describe('URLs', () => {
  it.each([
    ['a line break', 'https://exa\r\nmple.com/hook'],
    ['a line feed in the path', 'https://example.com/ho\nok'],
    ['a tab', 'https://example.com/\thook'],
    ['NUL', 'https://example.com/hook\u0000'],
    ['a C1 control', 'https://example.com/\u0085hook'],
  ])('refuses %s, which the URL parser would drop without a word', (_what, url) => {
    expect(problemOf({ url })).toEqual([
      { field: 'url', message: 'must not contain control characters (such as CR, LF or tab)' },
    ]);
  });

  it('refuses spaces at either end', () => {
    expect(problemOf({ url: ' https://example.com/hook' })).toEqual([
      { field: 'url', message: 'must not start or end with a space' },
    ]);
  });

  it.each(['https://example.com:0/hook', 'http://example.com:00/hook'])(
    'refuses port 0: %s',
    (url) => {
      expect(problemOf({ url })).toEqual([{ field: 'url', message: 'must not use port 0' }]);
    },
  );

  it('applies the same rules to an oauth2 token_url', () => {
    const security = {
      type: 'oauth2',
      client_id: 'c',
      client_secret: 's',
      token_url: 'https://auth.example.com:0/\r\ntoken',
    };
    expect(problemOf({ security })).toEqual([
      {
        field: 'security.token_url',
        message: 'must not contain control characters (such as CR, LF or tab)',
      },
    ]);
  });

  it('accepts ports 1 to 65535', () => {
    expect(problemOf({ url: 'https://example.com:1/hook' })).toEqual([]);
    expect(problemOf({ url: 'https://example.com:65535/hook' })).toEqual([]);
  });
});

describe('readable text', () => {
  it.each([
    ['NUL', 'Orders\u0000'],
    ['a line feed', 'Orders\nRefunds'],
    ['a tab', 'Or\tders'],
    ['DEL', 'Orders\u007f'],
  ])('refuses %s in a name', (_what, name) => {
    expect(problemOf({ name })).toEqual([
      {
        field: 'name',
        message: 'must not contain control characters (NUL, tab, CR or LF, for example)',
      },
    ]);
  });

  it.each(['\u202e', '\u202a', '\u2066', '\u2069'])(
    'refuses the bidi control %j in a name',
    (bidi) => {
      expect(problemOf({ name: `Orders ${bidi}fdp.exe` })).toEqual([
        {
          field: 'name',
          message:
            'must not contain bidirectional override, embedding or isolate characters (U+202A-U+202E, U+2066-U+2069)',
        },
      ]);
    },
  );

  it('accepts any script, emoji and right-to-left text in a name', () => {
    expect(problemOf({ name: 'Заказы 注文 طلبات 🚀' })).toEqual([]);
  });

  it('allows line breaks and tabs in a description and notes, but not NUL or bidi controls', () => {
    // Prepare
    const fine = { description: 'Line one\r\n\tLine two', metadata: { notes: 'a\nb' } };
    const bad = { description: 'x\u0000', metadata: { notes: 'x\u202e' } };

    // Act
    const accepted = problemOf(fine);
    const refused = problemOf(bad).map((problem) => problem.field);

    // Assess
    expect(accepted).toEqual([]);
    expect(refused).toEqual(['description', 'metadata.notes']);
  });

  it('still reads a stored webhook whose name, description, notes or URLs predate these rules', () => {
    // Prepare
    const stored = {
      ...parseOrThrow(webhookConfigSchema, valid()),
      name: 'Orders\u0000\u202e',
      description: 'x\u0000',
      url: 'https://exa\r\nmple.com:0/hook',
      security: {
        type: 'oauth2',
        client_id: 'c',
        client_secret: 's',
        token_url: 'https://a.test:0/t',
      },
      metadata: { notes: '\u202e' },
      webhook_id: 'wh_1',
      tenant: 'tenant-acme',
      signing_secret: 'whsec_x',
      total_deliveries: 0,
      successful_deliveries: 0,
      failed_deliveries: 0,
      created_at: '2026-01-01T00:00:00.000Z',
      updated_at: '2026-01-01T00:00:00.000Z',
      version: 1,
    };

    // Act
    const record = parseOrThrow(webhookRecordSchema, stored);

    // Assess
    expect(record).toMatchObject({ name: stored.name, url: stored.url, security: stored.security });
  });
});
