/**
 * The stack's settings for tests (CDK context): no authorizer cache, so a
 * revoked key fails at once, throttling out of the way, receivers on 127.0.0.1.
 */
export const TEST_CONTEXT = {
  authorizerCacheTtlSeconds: 0,
  apiRateLimit: 10_000,
  apiBurstLimit: 5000,
  allowPrivateTargets: true,
};
