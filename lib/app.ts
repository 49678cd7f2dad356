import { readFileSync } from 'node:fs';
import { App, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { HooklineStack } from './hookline-stack.ts';
import { acknowledgeNagFindings } from './nag-acknowledgements.ts';
import { API, ISOLATION } from './resources.ts';

/**
 * The CDK app, built one way for `cdk deploy`, the local runtime and the
 * tests. Settings come from context (cdk.json, -c name=value, or the local
 * runtime's options): stackName, apiRateLimit, apiBurstLimit,
 * authorizerCacheTtlSeconds, retryAfterSeconds, maxWebhooksPerTenant,
 * deliveryRetentionDays, analyticsRetentionMonths, autoDisableAfterHours, deliveryConcurrency,
 * allowPrivateTargets, alarmEmail, destroyOnRemoval, and the isolation settings
 * (circuitFailureThreshold, circuitOpenSeconds, circuitMaxOpenSeconds,
 * slowReceiverMs, overflowConcurrency, tenantEventsPerSecond, tenantBurst:
 * lib/resources.ts, ISOLATION). The stack checks their ranges; a
 * value that is not a number (or, for the flags, not true or false) stops here.
 */

export type AppContext = Record<string, unknown>;

/** cdk.json's context (feature flags and defaults), as `cdk synth` applies it. */
export const cdkJsonContext = (): AppContext =>
  JSON.parse(readFileSync(new URL('../cdk.json', import.meta.url), 'utf8')).context ?? {};

export interface CreateAppOptions {
  /** Context on top of cdk.json's; omit to take the CDK CLI's (CDK_CONTEXT_JSON). */
  context?: AppContext;
  outdir?: string;
  /** false skips esbuild: the template is the same, the assets are placeholders (fast). */
  bundle?: boolean;
  /** Runs the cdk-nag AWS Solutions checks at synth (default true). */
  nag?: boolean;
}

const numberFrom = (app: App, name: string): number | undefined => {
  const value: unknown = app.node.tryGetContext(name);
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (typeof value === 'boolean' || value === '' || !Number.isFinite(parsed)) {
    throw new Error(`Context ${name} must be a number; got ${JSON.stringify(value)}`);
  }
  return parsed;
};

// Strict: a typo must not open delivery to private addresses.
const flagFrom = (app: App, name: string): boolean | undefined => {
  const value: unknown = app.node.tryGetContext(name);
  if (value === undefined) return undefined;
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw new Error(`Context ${name} must be true or false; got ${JSON.stringify(value)}`);
};

const stringFrom = (app: App, name: string): string | undefined => {
  const value: unknown = app.node.tryGetContext(name);
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string') {
    throw new Error(`Context ${name} must be a string; got ${JSON.stringify(value)}`);
  }
  return value;
};

export const createApp = (options: CreateAppOptions = {}): { app: App; stack: HooklineStack } => {
  const app = new App({
    ...(options.outdir === undefined ? {} : { outdir: options.outdir }),
    ...(options.context === undefined
      ? {}
      : {
          context: {
            ...cdkJsonContext(),
            ...options.context,
            ...(options.bundle === false ? { 'aws:cdk:bundling-stacks': [] } : {}),
          },
        }),
  });
  const number = (name: string) => numberFrom(app, name);
  const stack = new HooklineStack(app, String(app.node.tryGetContext('stackName') ?? 'Hookline'), {
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
    throttle: {
      rateLimit: number('apiRateLimit') ?? API.throttle.rateLimit,
      burstLimit: number('apiBurstLimit') ?? API.throttle.burstLimit,
    },
    authorizerCacheTtlSeconds: number('authorizerCacheTtlSeconds'),
    retryAfterSeconds: number('retryAfterSeconds'),
    maxWebhooksPerTenant: number('maxWebhooksPerTenant'),
    deliveryRetentionDays: number('deliveryRetentionDays'),
    analyticsRetentionMonths: number('analyticsRetentionMonths'),
    autoDisableAfterHours: number('autoDisableAfterHours'),
    deliveryConcurrency: number('deliveryConcurrency'),
    isolation: Object.fromEntries(Object.keys(ISOLATION).map((name) => [name, number(name)])),
    allowPrivateTargets: flagFrom(app, 'allowPrivateTargets'),
    alarmEmail: stringFrom(app, 'alarmEmail'),
    removalPolicy: flagFrom(app, 'destroyOnRemoval') ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
  });
  acknowledgeNagFindings(stack);
  // Synth fails on any AWS Solutions finding not acknowledged (with its reason) there.
  if (options.nag ?? true) {
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  }
  return { app, stack };
};
