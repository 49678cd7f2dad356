import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HooklineStack } from '../../lib/hookline-stack.ts';
import { acknowledgeNagFindings } from '../../lib/nag-acknowledgements.ts';
import {
  BATCHING,
  CONFIG_TABLE,
  DELIVERIES_TABLE,
  ISOLATION,
  OVERFLOW_QUEUE,
  QUEUES,
} from '../../lib/resources.ts';

/**
 * The synthesized template, bundles included (esbuild, no Docker), checked
 * for the properties the design depends on.
 */
let outdir: string;
let template: Template;

/** The feature flags of cdk.json, as `cdk synth` applies them. */
const cdkJson = JSON.parse(await readFile(new URL('../../cdk.json', import.meta.url), 'utf8'));
const appContext = (extra: Record<string, unknown> = {}) => ({ ...cdkJson.context, ...extra });

const synth = (options: {
  bundle: boolean;
  nag: boolean;
  acknowledge?: boolean;
  outdir: string;
}) => {
  const app = new App({
    outdir: options.outdir,
    context: appContext(options.bundle ? {} : { 'aws:cdk:bundling-stacks': [] }),
  });
  const stack = new HooklineStack(app, 'Hookline');
  if (options.acknowledge ?? true) acknowledgeNagFindings(stack);
  if (options.nag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  app.synth();
  return stack;
};

beforeAll(async () => {
  outdir = await mkdtemp(join(tmpdir(), 'hookline-cdk-'));
  template = Template.fromStack(synth({ bundle: true, nag: false, outdir }));
});
afterAll(() => rm(outdir, { recursive: true, force: true }));

const resourceOf = (type: string, props: object) => {
  const found = template.findResources(type, { Properties: props });
  const [id] = Object.keys(found);
  if (!id || Object.keys(found).length !== 1) throw new Error(`Expected one ${type} matching`);
  return id;
};

/** A logical id without CDK's hash suffix: the construct path it was made from. */
const nameOf = (reference: unknown): string => {
  if (typeof reference === 'string') return reference;
  const ref = reference as { Ref?: string; 'Fn::GetAtt'?: [string, string] };
  const id = ref.Ref ?? ref['Fn::GetAtt']?.[0];
  if (!id) throw new Error(`Not a reference: ${JSON.stringify(reference)}`);
  return id.replace(/[0-9A-F]{8}$/, '');
};

/** The one resource of this type whose logical id (hash aside) is `name`. */
const resourceNamed = (type: string, name: string) => {
  const found = Object.entries(template.findResources(type)).filter(
    ([id]) => nameOf({ Ref: id }) === name,
  );
  if (found.length !== 1 || !found[0]) throw new Error(`Expected one ${type} ${name}`);
  return found[0][1];
};
const functionNamed = (name: string) => resourceNamed('AWS::Lambda::Function', name);

/** Everything the function's role allows, as "action on resource" lines. */
const grantsOf = (fn: string): string[] =>
  Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((policy) => policy.Properties.Roles.some((ref: unknown) => nameOf(ref) === `${fn}Role`))
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement)
    .flatMap((statement) => {
      expect(statement.Effect).toBe('Allow');
      return [statement.Action]
        .flat()
        .flatMap((action: string) =>
          [statement.Resource]
            .flat()
            .map((resource: unknown) => `${action} on ${nameOf(resource)}`),
        );
    })
    .sort();

describe('config table', () => {
  it('has the keys and index the repositories and the local runtime use', () => {
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      KeySchema: [
        { AttributeName: CONFIG_TABLE.partitionKey, KeyType: 'HASH' },
        { AttributeName: CONFIG_TABLE.sortKey, KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: CONFIG_TABLE.indexes.map((index) => ({
        IndexName: index.name,
        KeySchema: [
          { AttributeName: index.partitionKey, KeyType: 'HASH' },
          { AttributeName: index.sortKey, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'ALL' },
      })),
      BillingMode: 'PAY_PER_REQUEST',
    });
  });

  it('is encrypted, backed up continuously, protected and kept when the stack goes', () => {
    template.hasResource('AWS::DynamoDB::GlobalTable', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({
        SSESpecification: { SSEEnabled: true },
        Replicas: [
          Match.objectLike({
            PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
            DeletionProtectionEnabled: true,
          }),
        ],
      }),
    });
  });
});

describe('deliveries table', () => {
  it('has the keys the repositories use and expires items through TTL', () => {
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      KeySchema: [
        { AttributeName: DELIVERIES_TABLE.partitionKey, KeyType: 'HASH' },
        { AttributeName: DELIVERIES_TABLE.sortKey, KeyType: 'RANGE' },
      ],
      TimeToLiveSpecification: {
        AttributeName: DELIVERIES_TABLE.timeToLiveAttribute,
        Enabled: true,
      },
      BillingMode: 'PAY_PER_REQUEST',
    });
  });

  it('is encrypted, backed up, protected and kept like the config table', () => {
    expect(resourceNamed('AWS::DynamoDB::GlobalTable', 'DeliveriesTable')).toMatchObject({
      DeletionPolicy: 'Retain',
      Properties: {
        SSESpecification: { SSEEnabled: true },
        Replicas: [
          {
            PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
            DeletionProtectionEnabled: true,
          },
        ],
      },
    });
  });
});

describe('queues', () => {
  it.each([
    ['EventsQueue', QUEUES.events, 'EventsDeadLetterQueue'],
    ['DeliveriesQueue', QUEUES.deliveries, 'DeliveriesDeadLetterQueue'],
    // The overflow lane dead-letters where the standard lane does.
    ['DeliveriesOverflowQueue', OVERFLOW_QUEUE, 'DeliveriesDeadLetterQueue'],
  ])(
    'sends %s messages to a dead-letter queue after maxReceiveCount receives',
    (name, definition, deadLetterQueue) => {
      const queue = resourceNamed('AWS::SQS::Queue', name);
      expect(queue.Properties.VisibilityTimeout).toBe(definition.visibilityTimeoutSeconds);
      expect(queue.Properties.RedrivePolicy).toEqual({
        deadLetterTargetArn: { 'Fn::GetAtt': [expect.stringMatching(/DeadLetterQueue/), 'Arn'] },
        maxReceiveCount: definition.maxReceiveCount,
      });
      expect(nameOf(queue.Properties.RedrivePolicy.deadLetterTargetArn)).toBe(deadLetterQueue);
      expect(queue.Properties.SqsManagedSseEnabled).toBe(true);
    },
  );

  it('keeps dead letters for 14 days and refuses plain-HTTP access to every queue', () => {
    expect(
      Object.keys(
        template.findResources('AWS::SQS::Queue', {
          Properties: { MessageRetentionPeriod: 1_209_600 },
        }),
      ),
    ).toHaveLength(2);
    const policies = template.findResources('AWS::SQS::QueuePolicy');
    expect(Object.keys(policies)).toHaveLength(
      Object.keys(template.findResources('AWS::SQS::Queue')).length,
    );
    for (const policy of Object.values(policies)) {
      expect(policy.Properties.PolicyDocument.Statement).toContainEqual(
        expect.objectContaining({
          Effect: 'Deny',
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        }),
      );
    }
  });
});

describe('functions', () => {
  it('run on Node 24 on ARM64 with tracing, JSON logs and the table name', () => {
    const functions = template.findResources('AWS::Lambda::Function');
    expect(Object.keys(functions)).toHaveLength(4);
    for (const fn of Object.values(functions)) {
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        TracingConfig: { Mode: 'Active' },
        LoggingConfig: { LogFormat: 'JSON' },
        Environment: { Variables: { TABLE_NAME: { Ref: expect.stringMatching(/^ConfigTable/) } } },
      });
    }
  });

  it('are bundled by esbuild as ES modules', async () => {
    const manifest = JSON.parse(await readFile(join(outdir, 'Hookline.assets.json'), 'utf8'));
    const bundles = Object.values(
      manifest.files as Record<string, { source: { path: string } }>,
    ).filter((file) => file.source.path.startsWith('asset.'));
    expect(bundles).toHaveLength(4);
    for (const bundle of bundles) {
      const code = await readFile(join(outdir, bundle.source.path, 'index.mjs'), 'utf8');
      expect(code).toContain('createRequire');
      expect(code).not.toContain('@aws-sdk/client-dynamodb/dist-cjs');
    }
  });

  it('grant logs on their own group and tracing, and read data only through the grants checked against use', () => {
    // What each role may do with data is held to what the handlers call by
    // test/grants (the local runtime enforces the same policies); here only
    // the platform's part, which no handler calls.
    for (const fn of [
      'AuthorizerFunction',
      'ApiFunction',
      'WorkersFanOutFunction',
      'WorkersDeliveryFunction',
    ]) {
      expect(grantsOf(fn).filter((grant) => /^(logs|xray):/.test(grant))).toEqual([
        `logs:CreateLogStream on ${fn}Logs`,
        `logs:PutLogEvents on ${fn}Logs`,
        'xray:PutTelemetryRecords on *',
        'xray:PutTraceSegments on *',
      ]);
      expect(grantsOf(fn).every((grant) => /^(logs|xray|dynamodb|sqs):/.test(grant))).toBe(true);
    }
  });

  it('grant no wildcard action anywhere', () => {
    const actions = Object.values(template.findResources('AWS::IAM::Policy')).flatMap((policy) =>
      policy.Properties.PolicyDocument.Statement.flatMap((statement: { Action: unknown }) =>
        [statement.Action].flat(),
      ),
    );
    expect(actions.length).toBeGreaterThan(0);
    for (const action of actions) expect(action).not.toContain('*');
  });

  it('have no wildcard DynamoDB grants and no Scan anywhere', () => {
    const text = JSON.stringify(template.findResources('AWS::IAM::Policy'));
    expect(text).not.toContain('dynamodb:*');
    expect(text).not.toContain('dynamodb:Scan');
    expect(text).not.toContain('AWSLambdaBasicExecutionRole');
  });
});

describe('queue consumers', () => {
  /** The function's mapping of that queue (the delivery function consumes two: the lanes). */
  const mappingOf = (fn: string, queue: string) => {
    const found = Object.values(template.findResources('AWS::Lambda::EventSourceMapping')).filter(
      (mapping) =>
        nameOf(mapping.Properties.FunctionName) === fn &&
        nameOf(mapping.Properties.EventSourceArn) === queue,
    );
    expect(found).toHaveLength(1);
    return found[0]?.Properties ?? {};
  };

  it.each([
    ['WorkersFanOutFunction', 'EventsQueue', BATCHING.events],
    ['WorkersDeliveryFunction', 'DeliveriesQueue', BATCHING.deliveries],
    ['WorkersDeliveryFunction', 'DeliveriesOverflowQueue', BATCHING.deliveries],
  ])('%s reads %s in batches and reports failed messages one by one', (fn, queue, batching) => {
    const mapping = mappingOf(fn, queue);
    expect(mapping).toMatchObject({
      BatchSize: batching.batchSize,
      MaximumBatchingWindowInSeconds: batching.maxBatchingWindowSeconds,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
  });

  it('caps how many delivery functions run at once, each lane on its own', () => {
    expect(mappingOf('WorkersDeliveryFunction', 'DeliveriesQueue').ScalingConfig).toEqual({
      MaximumConcurrency: 50,
    });
    expect(mappingOf('WorkersDeliveryFunction', 'DeliveriesOverflowQueue').ScalingConfig).toEqual({
      MaximumConcurrency: ISOLATION.overflowConcurrency,
    });
  });

  it.each([
    ['WorkersFanOutFunction', 'EventsQueue'],
    ['WorkersDeliveryFunction', 'DeliveriesQueue'],
    ['WorkersDeliveryFunction', 'DeliveriesOverflowQueue'],
  ])(
    '%s: %s hides a message at least 6 times its timeout (AWS advice), so a slow batch is not seen twice',
    (fn, queueName) => {
      const mapping = mappingOf(fn, queueName);
      const queue = resourceNamed('AWS::SQS::Queue', nameOf(mapping.EventSourceArn));
      const timeout = functionNamed(fn).Properties.Timeout;
      expect(timeout).toBeGreaterThan(0);
      expect(queue?.Properties.VisibilityTimeout).toBeGreaterThan(timeout);
      expect(queue?.Properties.VisibilityTimeout).toBeGreaterThanOrEqual(
        6 * timeout + mapping.MaximumBatchingWindowInSeconds,
      );
    },
  );

  it('dead-letter by hand into the queue the redrive policy uses', () => {
    const redrive = (queue: string) =>
      resourceNamed('AWS::SQS::Queue', queue).Properties.RedrivePolicy.deadLetterTargetArn;
    const env = (fn: string) => functionNamed(fn).Properties.Environment.Variables;
    expect(nameOf(env('WorkersDeliveryFunction').DELIVERIES_DLQ_URL)).toBe(
      nameOf(redrive('DeliveriesQueue')),
    );
    expect(nameOf(env('WorkersFanOutFunction').EVENTS_DLQ_URL)).toBe(
      nameOf(redrive('EventsQueue')),
    );
  });

  it.each([
    ['ApiFunction', {}],
    [
      'WorkersFanOutFunction',
      { AUTO_DISABLE_AFTER_HOURS: '24', EVENTS_DLQ_URL: 'EventsDeadLetterQueue' },
    ],
    ['WorkersDeliveryFunction', { AUTO_DISABLE_AFTER_HOURS: '24' }],
  ])('give %s the delivery settings it reads at cold start', (fn, extra) => {
    const variables = functionNamed(fn).Properties.Environment.Variables;
    const named = Object.fromEntries(
      Object.entries(variables).map(([key, value]) => [
        key,
        typeof value === 'string' ? value : nameOf(value),
      ]),
    );
    expect(named).toMatchObject({
      TABLE_NAME: 'ConfigTable',
      DELIVERIES_TABLE_NAME: 'DeliveriesTable',
      DELIVERIES_QUEUE_URL: 'DeliveriesQueue',
      DELIVERIES_DLQ_URL: 'DeliveriesDeadLetterQueue',
      DELIVERY_RETENTION_DAYS: '30',
      ALLOW_PRIVATE_TARGETS: 'false',
      ...extra,
    });
  });
});

describe('REST API', () => {
  it('identifies callers to the usage plan through the authorizer only', () => {
    template.hasResourceProperties('AWS::ApiGateway::RestApi', {
      ApiKeySourceType: 'AUTHORIZER',
      EndpointConfiguration: { Types: ['REGIONAL'] },
    });
  });

  it('authorizes with a cached REQUEST authorizer on X-API-Key', () => {
    template.hasResourceProperties('AWS::ApiGateway::Authorizer', {
      Type: 'REQUEST',
      IdentitySource: 'method.request.header.X-API-Key',
      AuthorizerResultTtlInSeconds: 300,
    });
  });

  it('sends /api/v1/webhooks and everything below it to the API function, authorized and keyed', () => {
    const webhooks = resourceOf('AWS::ApiGateway::Resource', { PathPart: 'webhooks' });
    const proxy = resourceOf('AWS::ApiGateway::Resource', {
      PathPart: '{proxy+}',
      ParentId: { Ref: webhooks },
    });
    for (const resource of [webhooks, proxy]) {
      template.hasResourceProperties('AWS::ApiGateway::Method', {
        ResourceId: { Ref: resource },
        HttpMethod: 'ANY',
        AuthorizationType: 'CUSTOM',
        AuthorizerId: { Ref: Match.stringLikeRegexp('KeyAuthorizer') },
        ApiKeyRequired: true,
        Integration: Match.objectLike({
          Type: 'AWS_PROXY',
          Uri: Match.objectLike({
            'Fn::Join': Match.arrayWith([
              Match.arrayWith([
                Match.objectLike({ 'Fn::GetAtt': [Match.stringLikeRegexp('^ApiFunction'), 'Arn'] }),
              ]),
            ]),
          }),
        }),
      });
    }
  });

  it('throttles each key through a usage plan on the stage', () => {
    template.hasResourceProperties('AWS::ApiGateway::UsagePlan', {
      Throttle: { RateLimit: 50, BurstLimit: 100 },
      ApiStages: [
        Match.objectLike({ Stage: { Ref: Match.stringLikeRegexp('DeploymentStageprod') } }),
      ],
    });
  });

  it('logs access and traces on the prod stage', () => {
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: 'prod',
      TracingEnabled: true,
      AccessLogSetting: Match.objectLike({ DestinationArn: Match.anyValue() }),
    });
  });

  it.each([
    ['UNAUTHORIZED', '401', 'UNAUTHORIZED'],
    ['MISSING_AUTHENTICATION_TOKEN', '404', 'NOT_FOUND'],
    ['REQUEST_TOO_LARGE', '413', 'PAYLOAD_TOO_LARGE'],
    ['THROTTLED', '429', 'RATE_LIMITED'],
  ])('answers %s in the error envelope with %s', (type, status, code) => {
    const responses = template.findResources('AWS::ApiGateway::GatewayResponse', {
      Properties: { ResponseType: type },
    });
    const [response] = Object.values(responses);
    expect(response?.Properties.StatusCode).toBe(status);
    const body = JSON.parse(response?.Properties.ResponseTemplates['application/json']);
    expect(body.error.code).toBe(code);
    expect(response?.Properties.ResponseParameters['gatewayresponse.header.Content-Type']).toBe(
      "'application/json'",
    );
  });

  it('puts any other API Gateway refusal in the envelope too, keeping its status', () => {
    const responses = template.findResources('AWS::ApiGateway::GatewayResponse', {
      Properties: { ResponseType: 'DEFAULT_4XX' },
    });
    const [response] = Object.values(responses);
    expect(response?.Properties.StatusCode).toBeUndefined();
    expect(JSON.parse(response?.Properties.ResponseTemplates['application/json'])).toEqual({
      error: { code: 'BAD_REQUEST', message: 'The request was refused' },
    });
  });

  it('tells throttled clients when to retry', () => {
    template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
      ResponseType: 'THROTTLED',
      ResponseParameters: Match.objectLike({ 'gatewayresponse.header.Retry-After': "'1'" }),
    });
  });

  it('outputs what the keys CLI and producers need', () => {
    for (const output of [
      'ApiUrl',
      'ConfigTableName',
      'UsagePlanId',
      'EventsQueueUrl',
      'DeliveriesQueueUrl',
      'DeliveriesTableName',
      'EventsDeadLetterQueueUrl',
      'DeliveriesDeadLetterQueueUrl',
    ]) {
      template.hasOutput(output, Match.anyValue());
    }
  });
});

describe('settings', () => {
  it('passes throttling, cache and limits from props into the template', () => {
    const app = new App({ context: appContext({ 'aws:cdk:bundling-stacks': [] }) });
    const stack = new HooklineStack(app, 'Tuned', {
      throttle: { rateLimit: 5, burstLimit: 9 },
      authorizerCacheTtlSeconds: 60,
      retryAfterSeconds: 3,
      maxWebhooksPerTenant: 20,
      deliveryRetentionDays: 7,
      autoDisableAfterHours: 72,
      allowPrivateTargets: true,
      deliveryConcurrency: 5,
    });
    const tuned = Template.fromStack(stack);

    tuned.hasResourceProperties('AWS::ApiGateway::UsagePlan', {
      Throttle: { RateLimit: 5, BurstLimit: 9 },
    });
    tuned.hasResourceProperties('AWS::ApiGateway::Authorizer', {
      AuthorizerResultTtlInSeconds: 60,
    });
    tuned.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
      ResponseType: 'THROTTLED',
      ResponseParameters: Match.objectLike({ 'gatewayresponse.header.Retry-After': "'3'" }),
    });
    tuned.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ MAX_WEBHOOKS_PER_TENANT: '20' }) },
    });
    tuned.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          DELIVERY_RETENTION_DAYS: '7',
          AUTO_DISABLE_AFTER_HOURS: '72',
          ALLOW_PRIVATE_TARGETS: 'true',
        }),
      },
    });
    tuned.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      ScalingConfig: { MaximumConcurrency: 5 },
    });
  });
});

describe('isolation settings', () => {
  const stackWith = (isolation: Record<string, number>) =>
    Template.fromStack(
      new HooklineStack(
        new App({ context: appContext({ 'aws:cdk:bundling-stacks': [] }) }),
        'Iso',
        {
          isolation,
        },
      ),
    );
  const variablesOf = (stack: Template, fn: string) =>
    Object.entries(stack.findResources('AWS::Lambda::Function')).find(([id]) =>
      id.startsWith(fn),
    )?.[1].Properties.Environment.Variables;

  it('reach both workers, and the overflow lane takes its own concurrency', () => {
    const tuned = stackWith({
      circuitFailureThreshold: 3,
      circuitOpenSeconds: 10,
      slowReceiverMs: 500,
      overflowConcurrency: 7,
      tenantEventsPerSecond: 40,
    });
    for (const fn of ['WorkersFanOutFunction', 'WorkersDeliveryFunction']) {
      expect(variablesOf(tuned, fn)).toMatchObject({
        CIRCUIT_FAILURE_THRESHOLD: '3',
        CIRCUIT_OPEN_SECONDS: '10',
        SLOW_RECEIVER_MS: '500',
        TENANT_EVENTS_PER_SECOND: '40',
        DELIVERIES_OVERFLOW_QUEUE_URL: expect.anything(),
      });
    }
    tuned.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      ScalingConfig: { MaximumConcurrency: 7 },
    });
  });

  it('without an overflow lane or tenant shares, grant nothing for them', () => {
    const bare = stackWith({ overflowConcurrency: 0, tenantEventsPerSecond: 0 });
    expect(Object.keys(bare.findResources('AWS::Lambda::EventSourceMapping'))).toHaveLength(2);
    expect(variablesOf(bare, 'WorkersDeliveryFunction')).not.toHaveProperty(
      'DELIVERIES_OVERFLOW_QUEUE_URL',
    );
    expect(variablesOf(bare, 'WorkersFanOutFunction')).not.toHaveProperty('EVENTS_QUEUE_URL');
    const fanOutStatements = Object.values(bare.findResources('AWS::IAM::Policy'))
      .filter((policy) => JSON.stringify(policy.Properties.Roles).includes('FanOut'))
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement);
    expect(JSON.stringify(fanOutStatements)).not.toContain('dynamodb:UpdateItem');
    const sendsTo = fanOutStatements
      .filter((statement: { Action: unknown }) =>
        [statement.Action].flat().includes('sqs:SendMessage'),
      )
      .flatMap((statement: { Resource: unknown }) => [statement.Resource].flat().map(nameOf));
    expect(sendsTo).not.toContain('EventsQueue');
  });

  it.each([
    [
      { overflowConcurrency: 1 },
      'overflowConcurrency must be 0 (no overflow lane) or from 2 to 1000',
    ],
    [{ circuitFailureThreshold: 101 }, 'circuitFailureThreshold must be an integer from 0 to 100'],
    [
      { circuitOpenSeconds: 60, circuitMaxOpenSeconds: 30 },
      'circuitMaxOpenSeconds must be an integer from 60 to 86400',
    ],
    [{ tenantEventsPerSecond: 1001 }, 'tenantEventsPerSecond must be an integer from 0 to 1000'],
  ])('refuses %j', (isolation, message) => {
    expect(() => stackWith(isolation)).toThrow(message);
  });
});

describe('settings out of range', () => {
  it.each([
    [
      { throttle: { rateLimit: 0, burstLimit: 10 } },
      'throttle.rateLimit must be a number from 0.001 to 10000; got 0',
    ],
    [
      { throttle: { rateLimit: 10, burstLimit: 1.5 } },
      'throttle.burstLimit must be an integer from 0 to 5000; got 1.5',
    ],
    [
      { authorizerCacheTtlSeconds: 7200 },
      'authorizerCacheTtlSeconds must be an integer from 0 to 3600; got 7200',
    ],
    [{ retryAfterSeconds: 0 }, 'retryAfterSeconds must be an integer from 1 to 86400; got 0'],
    [
      { maxWebhooksPerTenant: Number.NaN },
      'maxWebhooksPerTenant must be an integer from 1 to 100000; got NaN',
    ],
    [{ deliveryRetentionDays: 0 }, 'deliveryRetentionDays must be an integer from 1 to 365; got 0'],
    [
      { deliveryRetentionDays: 366 },
      'deliveryRetentionDays must be an integer from 1 to 365; got 366',
    ],
    [
      { autoDisableAfterHours: 2161 },
      'autoDisableAfterHours must be an integer from 1 to 2160; got 2161',
    ],
    [
      { autoDisableAfterHours: 0.5 },
      'autoDisableAfterHours must be an integer from 1 to 2160; got 0.5',
    ],
    [{ deliveryConcurrency: 1 }, 'deliveryConcurrency must be an integer from 2 to 1000; got 1'],
    [
      { deliveryConcurrency: 1001 },
      'deliveryConcurrency must be an integer from 2 to 1000; got 1001',
    ],
  ])('refuses %j', (props, message) => {
    const app = new App({ context: appContext({ 'aws:cdk:bundling-stacks': [] }) });
    expect(() => new HooklineStack(app, 'Bad', props)).toThrow(message);
  });
});

describe('cdk-nag AWS Solutions checks', () => {
  it('pass with the acknowledged findings', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hookline-nag-'));
    try {
      expect(() => synth({ bundle: false, nag: true, outdir: dir })).not.toThrow();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('fail synth when a finding is not acknowledged', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hookline-nag-'));
    try {
      expect(() => synth({ bundle: false, nag: true, acknowledge: false, outdir: dir })).toThrow(
        /validation-report\.json/,
      );
      const report = await readFile(join(dir, 'validation-report.json'), 'utf8');
      expect(report).toContain('AwsSolutions-COG4');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
