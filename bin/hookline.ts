import { App, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { HooklineStack } from '../lib/hookline-stack.ts';
import { acknowledgeNagFindings } from '../lib/nag-acknowledgements.ts';

/**
 * The CDK app. Settings come from context (cdk.json, or -c name=value):
 * stackName, apiRateLimit, apiBurstLimit, authorizerCacheTtlSeconds,
 * retryAfterSeconds, maxWebhooksPerTenant, destroyOnRemoval.
 */
const app = new App();
const number = (name: string): number | undefined => {
  const value = app.node.tryGetContext(name);
  return value === undefined ? undefined : Number(value);
};
const rateLimit = number('apiRateLimit');
const burstLimit = number('apiBurstLimit');

const stack = new HooklineStack(app, app.node.tryGetContext('stackName') ?? 'Hookline', {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  ...(rateLimit !== undefined && burstLimit !== undefined
    ? { throttle: { rateLimit, burstLimit } }
    : {}),
  authorizerCacheTtlSeconds: number('authorizerCacheTtlSeconds'),
  retryAfterSeconds: number('retryAfterSeconds'),
  maxWebhooksPerTenant: number('maxWebhooksPerTenant'),
  removalPolicy:
    String(app.node.tryGetContext('destroyOnRemoval')) === 'true'
      ? RemovalPolicy.DESTROY
      : RemovalPolicy.RETAIN,
});
acknowledgeNagFindings(stack);
// Synth fails on any AWS Solutions finding not acknowledged (with its reason) there.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
