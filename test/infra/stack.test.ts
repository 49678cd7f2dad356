import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HooklineStack } from '../../lib/hookline-stack.ts';
import { acknowledgeNagFindings } from '../../lib/nag-acknowledgements.ts';
import { CONFIG_TABLE, QUEUES } from '../../lib/resources.ts';

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

describe('queues', () => {
  it.each([
    ['events', QUEUES.events],
    ['deliveries', QUEUES.deliveries],
  ])(
    'sends %s messages to a dead-letter queue after %#maxReceiveCount receives',
    (_name, definition) => {
      const queues = template.findResources('AWS::SQS::Queue', {
        Properties: { VisibilityTimeout: definition.visibilityTimeoutSeconds },
      });
      const [queue] = Object.values(queues);
      expect(Object.keys(queues)).toHaveLength(1);
      expect(queue?.Properties.RedrivePolicy).toEqual({
        deadLetterTargetArn: { 'Fn::GetAtt': [expect.stringMatching(/DeadLetterQueue/), 'Arn'] },
        maxReceiveCount: definition.maxReceiveCount,
      });
      expect(queue?.Properties.SqsManagedSseEnabled).toBe(true);
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
    expect(Object.keys(policies)).toHaveLength(4);
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
    expect(Object.keys(functions)).toHaveLength(2);
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
    expect(bundles).toHaveLength(2);
    for (const bundle of bundles) {
      const code = await readFile(join(outdir, bundle.source.path, 'index.mjs'), 'utf8');
      expect(code).toContain('createRequire');
      expect(code).not.toContain('@aws-sdk/client-dynamodb/dist-cjs');
    }
  });

  it('grant the API function exactly the item operations it uses, on the table alone', () => {
    const policy = template.findResources('AWS::IAM::Policy', {
      Properties: { Roles: [{ Ref: Match.stringLikeRegexp('^ApiFunctionRole') }] },
    });
    const statements = Object.values(policy)[0]?.Properties.PolicyDocument.Statement;
    expect(statements).toContainEqual({
      Action: [
        'dynamodb:DeleteItem',
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:Query',
        'dynamodb:UpdateItem',
      ],
      Effect: 'Allow',
      Resource: { 'Fn::GetAtt': [expect.stringMatching(/^ConfigTable/), 'Arn'] },
    });
  });

  it('grant the authorizer GetItem alone', () => {
    const policy = template.findResources('AWS::IAM::Policy', {
      Properties: { Roles: [{ Ref: Match.stringLikeRegexp('^AuthorizerFunctionRole') }] },
    });
    const statements = Object.values(policy)[0]?.Properties.PolicyDocument.Statement;
    const dynamo = statements.filter((statement: { Action: string | string[] }) =>
      [statement.Action].flat().some((action) => action.startsWith('dynamodb:')),
    );
    expect(dynamo).toEqual([
      {
        Action: 'dynamodb:GetItem',
        Effect: 'Allow',
        Resource: { 'Fn::GetAtt': [expect.stringMatching(/^ConfigTable/), 'Arn'] },
      },
    ]);
  });

  it('have no wildcard DynamoDB grants and no Scan anywhere', () => {
    const text = JSON.stringify(template.findResources('AWS::IAM::Policy'));
    expect(text).not.toContain('dynamodb:*');
    expect(text).not.toContain('dynamodb:Scan');
    expect(text).not.toContain('AWSLambdaBasicExecutionRole');
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
