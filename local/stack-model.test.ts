import { describe, expect, it } from 'vitest';
import { stackModelForTests } from '../test/support/stack.ts';

/**
 * The local runtime's reading of the synthesized stack: what it runs comes
 * from the template, so a setting changed in the stack changes it here.
 */

describe('readStackModel', () => {
  it('reads each function with its entry, limits, role and resolved environment', async () => {
    const stack = await stackModelForTests();
    const delivery = stack.functions.find((fn) => fn.name === 'hookline-delivery');

    expect(delivery).toMatchObject({
      entry: 'functions/handlers/delivery.ts',
      timeoutSeconds: 90,
      memoryMb: 512,
      principalArn: expect.stringMatching(
        /^arn:aws:sts::000000000000:assumed-role\/Hookline-WorkersDeliveryFunctionRole\w+\/hookline-delivery$/,
      ),
    });
    const urls = new Map(stack.queues.map((queue) => [queue.logicalId, `http://q/${queue.name}`]));
    expect(stack.resolve(delivery?.environment, urls)).toMatchObject({
      TABLE_NAME: 'hookline-config',
      DELIVERIES_TABLE_NAME: 'hookline-deliveries',
      DELIVERIES_QUEUE_URL: 'http://q/webhook-deliveries',
      DELIVERIES_DLQ_URL: 'http://q/webhook-deliveries-dlq',
      POWERTOOLS_LOG_LEVEL: 'INFO',
    });
  });

  it('reads the event source mappings, the queues and the tables as the template sets them', async () => {
    const stack = await stackModelForTests();

    const byQueue = Object.fromEntries(
      stack.eventSourceMappings.map((mapping) => [
        stack.queues.find((queue) => queue.logicalId === mapping.queueLogicalId)?.name,
        mapping,
      ]),
    );
    expect(byQueue['webhook-deliveries']).toMatchObject({
      batchSize: 10,
      maxBatchingWindowSeconds: 0,
      maxConcurrency: 50,
      reportBatchItemFailures: true,
      enabled: true,
    });
    expect(byQueue['webhook-events']).toMatchObject({ maxConcurrency: undefined });
    const deliveries = stack.queues.find((queue) => queue.name === 'webhook-deliveries');
    expect(stack.resolve(deliveries?.properties)).toMatchObject({
      VisibilityTimeout: 540,
      RedrivePolicy: {
        deadLetterTargetArn: 'arn:aws:sqs:us-east-1:000000000000:webhook-deliveries-dlq',
        maxReceiveCount: 5,
      },
    });
    expect(stack.tables.map((table) => [table.name, table.ttlAttribute])).toEqual([
      ['hookline-config', undefined],
      ['hookline-deliveries', 'expires_at'],
      ['hookline-analytics', 'expires_at'],
    ]);
    expect(stack.api).toMatchObject({
      authorizerCacheTtlSeconds: 300,
      throttle: { rateLimit: 50, burstLimit: 100 },
      retryAfterSeconds: 1,
      integrationTimeoutMs: 29_000,
    });
  });

  it('reads the API’s resources and each method’s access and throttling from the template', async () => {
    const stack = await stackModelForTests();

    const byPath = Object.fromEntries(
      stack.api.resources.map((resource) => [resource.path, resource.methods]),
    );
    const keyed = [{ httpMethod: 'ANY', access: 'key', throttle: undefined }];
    expect(byPath).toEqual({
      '/api/v1/webhooks': keyed,
      '/api/v1/webhooks/{proxy+}': keyed,
      '/api/v1/events': keyed,
      '/api/v1/openapi.json': [
        { httpMethod: 'GET', access: 'public', throttle: { rateLimit: 10, burstLimit: 20 } },
      ],
    });
  });

  it('follows the stack’s context: a setting changed there changes what runs locally', async () => {
    const stack = await stackModelForTests({ deliveryConcurrency: 7, retryAfterSeconds: 4 });

    expect(stack.eventSourceMappings.map((mapping) => mapping.maxConcurrency)).toContain(7);
    expect(stack.api.retryAfterSeconds).toBe(4);
  });
});
