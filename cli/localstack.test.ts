import { describe, expect, it } from 'vitest';
import {
  contextArguments,
  deployedStack,
  e2eExports,
  localStackApiUrl,
  localStackEnvironment,
} from './localstack.ts';
import { UsageError } from './targets.ts';

describe('localStackEnvironment', () => {
  it('targets a LocalStack on this machine, with the S3 endpoint cdklocal insists on', () => {
    // Act
    const environment = localStackEnvironment({});

    // Assess
    expect(environment).toEqual({
      AWS_ENDPOINT_URL: 'http://localhost:4566',
      AWS_ENDPOINT_URL_S3: 'http://s3.localhost.localstack.cloud:4566',
      AWS_REGION: 'us-east-1',
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_ENVAR_ALLOWLIST: 'AWS_REGION,AWS_DEFAULT_REGION',
    });
  });

  it('keeps the given endpoints and region, and lets the region through cdklocal', () => {
    // Act
    const environment = localStackEnvironment({
      AWS_ENDPOINT_URL: 'http://127.0.0.1:4510',
      AWS_REGION: 'eu-west-1',
      AWS_ENVAR_ALLOWLIST: 'AWS_PROFILE',
    });

    // Assess
    expect(environment).toMatchObject({
      AWS_ENDPOINT_URL_S3: 'http://s3.localhost.localstack.cloud:4510',
      AWS_REGION: 'eu-west-1',
      AWS_DEFAULT_REGION: 'eu-west-1',
      AWS_ENVAR_ALLOWLIST: 'AWS_PROFILE,AWS_REGION,AWS_DEFAULT_REGION',
    });
  });

  it('asks for the S3 endpoint of a LocalStack elsewhere', () => {
    // Act / Assess
    expect(() => localStackEnvironment({ AWS_ENDPOINT_URL: 'http://ci-box:4566' })).toThrow(
      /set AWS_ENDPOINT_URL_S3 too/,
    );
    expect(
      localStackEnvironment({
        AWS_ENDPOINT_URL: 'http://ci-box:4566',
        AWS_ENDPOINT_URL_S3: 'http://s3.ci-box:4566',
      }).AWS_ENDPOINT_URL_S3,
    ).toBe('http://s3.ci-box:4566');
  });

  it('refuses an endpoint that is no URL', () => {
    expect(() => localStackEnvironment({ AWS_ENDPOINT_URL: 'localhost:4566' })).toThrow(UsageError);
  });
});

describe('contextArguments', () => {
  it('keeps the context pairs, for bootstrap, and leaves deploy-only flags out', () => {
    expect(
      contextArguments([
        '-c',
        'allowPrivateTargets=true',
        '--hotswap',
        '--context',
        'stackName=HooklineE2e',
        '--context=destroyOnRemoval=true',
      ]),
    ).toEqual([
      '-c',
      'allowPrivateTargets=true',
      '--context',
      'stackName=HooklineE2e',
      '--context=destroyOnRemoval=true',
    ]);
  });
});

describe('localStackApiUrl', () => {
  it.each([
    [
      'https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/prod/api/v1/webhooks',
      'http://localhost:4566',
      'http://a1b2c3d4e5.execute-api.localhost.localstack.cloud:4566/prod/api/v1/webhooks',
    ],
    [
      'https://a1b2c3d4e5.execute-api.localhost.localstack.cloud:4566/prod/api/v1/webhooks/',
      'http://127.0.0.1:4566',
      'http://a1b2c3d4e5.execute-api.localhost.localstack.cloud:4566/prod/api/v1/webhooks',
    ],
    // Not a REST API host, or a LocalStack elsewhere: as the output says.
    [
      'http://proxy.internal/prod/api/v1/webhooks',
      'http://localhost:4566',
      'http://proxy.internal/prod/api/v1/webhooks',
    ],
    [
      'https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/prod/api/v1/webhooks',
      'http://ci-box:4566',
      'https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/prod/api/v1/webhooks',
    ],
  ])('%s through %s is %s', (apiUrl, endpoint, expected) => {
    expect(localStackApiUrl(apiUrl, endpoint)).toBe(expected);
  });
});

const OUTPUTS = {
  ApiUrl: 'https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/prod/api/v1/webhooks',
  EventsQueueUrl:
    'http://sqs.us-east-1.localhost.localstack.cloud:4566/000000000000/webhook-events',
  DeliveriesDeadLetterQueueUrl:
    'http://sqs.us-east-1.localhost.localstack.cloud:4566/000000000000/webhook-deliveries-dlq',
};

describe('deployedStack and e2eExports', () => {
  it('turn the outputs file into the variables of the end-to-end suite', () => {
    // Prepare
    const file = JSON.stringify({ Hookline: { ...OUTPUTS, UsagePlanId: 'abc' } });

    // Act
    const stack = deployedStack(file);
    const lines = e2eExports(stack, {
      AWS_ENDPOINT_URL: 'http://localhost:4566',
      AWS_REGION: 'us-east-1',
    });

    // Assess
    expect(stack.stackName).toBe('Hookline');
    expect(lines).toEqual([
      'export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test',
      'export AWS_ENDPOINT_URL=http://localhost:4566 AWS_REGION=us-east-1',
      'export HOOKLINE_E2E_API_URL=http://a1b2c3d4e5.execute-api.localhost.localstack.cloud:4566/prod/api/v1/webhooks',
      `export HOOKLINE_E2E_EVENTS_QUEUE_URL=${OUTPUTS.EventsQueueUrl}`,
      `export HOOKLINE_E2E_DELIVERIES_DLQ_URL=${OUTPUTS.DeliveriesDeadLetterQueueUrl}`,
      'export HOOKLINE_E2E_API_KEY=$(npm run --silent keys -- create --tenant e2e --stack Hookline | tail -n 1)',
    ]);
  });

  it('name what is missing', () => {
    expect(() => deployedStack(JSON.stringify({ Hookline: { ApiUrl: 'x' } }))).toThrow(
      'Stack Hookline lacks the outputs EventsQueueUrl, DeliveriesDeadLetterQueueUrl',
    );
    expect(() => deployedStack(JSON.stringify({ A: OUTPUTS, B: OUTPUTS }))).toThrow(/one stack/);
  });
});
