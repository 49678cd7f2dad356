import { App, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { HooklineStack } from '../lib/hookline-stack.ts';
import { acknowledgeNagFindings } from '../lib/nag-acknowledgements.ts';
import { API } from '../lib/resources.ts';

/**
 * The CDK app. Settings come from context (cdk.json, or -c name=value):
 * stackName, apiRateLimit, apiBurstLimit, authorizerCacheTtlSeconds,
 * retryAfterSeconds, maxWebhooksPerTenant, deliveryRetentionDays,
 * autoDisableAfterHours, deliveryConcurrency, allowPrivateTargets,
 * destroyOnRemoval. The stack checks their ranges; a value that is not a
 * number (or, for allowPrivateTargets, not true or false) stops here.
 */
const app = new App();
const number = (name: string): number | undefined => {
  const value: unknown = app.node.tryGetContext(name);
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (typeof value === 'boolean' || value === '' || !Number.isFinite(parsed)) {
    throw new Error(`Context ${name} must be a number; got ${JSON.stringify(value)}`);
  }
  return parsed;
};
// Strict, unlike destroyOnRemoval: a typo must not open delivery to private addresses.
const flag = (name: string): boolean | undefined => {
  const value: unknown = app.node.tryGetContext(name);
  if (value === undefined) return undefined;
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw new Error(`Context ${name} must be true or false; got ${JSON.stringify(value)}`);
};

const stack = new HooklineStack(app, app.node.tryGetContext('stackName') ?? 'Hookline', {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  throttle: {
    rateLimit: number('apiRateLimit') ?? API.throttle.rateLimit,
    burstLimit: number('apiBurstLimit') ?? API.throttle.burstLimit,
  },
  authorizerCacheTtlSeconds: number('authorizerCacheTtlSeconds'),
  retryAfterSeconds: number('retryAfterSeconds'),
  maxWebhooksPerTenant: number('maxWebhooksPerTenant'),
  deliveryRetentionDays: number('deliveryRetentionDays'),
  autoDisableAfterHours: number('autoDisableAfterHours'),
  deliveryConcurrency: number('deliveryConcurrency'),
  allowPrivateTargets: flag('allowPrivateTargets'),
  removalPolicy:
    String(app.node.tryGetContext('destroyOnRemoval')) === 'true'
      ? RemovalPolicy.DESTROY
      : RemovalPolicy.RETAIN,
});
acknowledgeNagFindings(stack);
// Synth fails on any AWS Solutions finding not acknowledged (with its reason) there.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
