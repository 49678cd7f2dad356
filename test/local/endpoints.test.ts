import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '../../local/runtime.ts';
import { type Child, run } from '../support/process.ts';
import { apiClient, guidePayload, startTestRuntime } from '../support/runtime.ts';

/**
 * AWS_ENDPOINT_URL_* point `npm start` at services it does not start itself
 * (LocalStack, or AWS). Here those services are another runtime's emulators,
 * which stand in for LocalStack on a machine without Docker.
 */
let services: LocalRuntime;
let child: Child | undefined;

beforeAll(async () => {
  services = await startTestRuntime();
});
afterAll(async () => {
  child?.process.kill('SIGKILL');
  await services?.stop();
});

describe('npm start with AWS_ENDPOINT_URL_DYNAMODB and AWS_ENDPOINT_URL_SQS', () => {
  it('uses the given endpoints instead of starting emulators, creating what is missing', async () => {
    const created = await apiClient(services, services.devApiKey).post<{
      data: { webhook_id: string };
    }>('/webhooks', guidePayload());
    child = run(['local/start.ts'], {
      PORT: '0',
      AWS_ENDPOINT_URL_DYNAMODB: services.dynamoDbEndpoint,
      AWS_ENDPOINT_URL_SQS: services.sqsEndpoint,
      HOOKLINE_DATA_DIR: '',
      WEBHOOKS_DEV_API_KEY: services.devApiKey,
    });
    await child.waitFor(/Ready in \d+ ms/);
    const output = child.output();

    // Its functions still go through its own IAM gates, which forward to the given services.
    expect(output).toMatch(
      new RegExp(
        `DynamoDB +\\S+ \\(IAM gate to ${services.dynamoDbEndpoint}\\) +table hookline-config`,
      ),
    );
    expect(output).toContain(`(IAM gate to ${services.sqsEndpoint})`);
    expect(output).not.toContain('(dynalite)');
    expect(output).not.toContain('(fauxqs)');
    const apiUrl = output.match(/API\s+(\S+)/)?.[1];
    const response = await fetch(`${apiUrl}/${created.body.data.webhook_id}`, {
      headers: { 'X-API-Key': services.devApiKey },
    });
    expect(response.status).toBe(200);
    child.process.kill('SIGINT');
    expect(await child.exited).toBe(0);
  });
});
