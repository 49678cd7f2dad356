import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '../../local/runtime.ts';
import { run } from '../support/process.ts';
import { apiClient, guidePayload, startTestRuntime } from '../support/runtime.ts';

/** The keys CLI against a running local runtime, as `npm run keys -- ...` runs it. */
let runtime: LocalRuntime;

beforeAll(async () => {
  runtime = await startTestRuntime();
});
afterAll(() => runtime?.stop());

const keys = async (...args: string[]) => {
  // The default target: the local runtime's DynamoDB on $DYNAMODB_PORT.
  const child = run(['cli/keys.ts', ...args], {
    AWS_ENDPOINT_URL_DYNAMODB: '',
    AWS_ENDPOINT_URL: '',
    DYNAMODB_PORT: new URL(runtime.dynamoDbEndpoint).port,
  });
  const code = await child.exited;
  return { code, output: child.output(), lines: child.output().trimEnd().split('\n') };
};

describe('npm run keys', () => {
  it('creates a key and prints it alone on the last line; the key works with its permissions', async () => {
    const result = await keys('create', '--tenant', 'cli-tenant', '--permissions', 'read,create');

    expect(result.code).toBe(0);
    const key = result.lines.at(-1) ?? '';
    expect(key).toMatch(/^hl_[A-Za-z0-9_-]{43}$/);
    const api = apiClient(runtime, key);
    expect((await api.post('/webhooks', guidePayload())).status).toBe(201);
    expect((await api.get<{ data: unknown[] }>('/webhooks')).body.data).toHaveLength(1);
    expect((await api.delete('/webhooks/0b8a6d9e-4c5b-4e3a-9f1e-2d3c4b5a6978')).status).toBe(403);
  });

  it('gives a key every permission when none are named', async () => {
    const result = await keys('create', '--tenant', 'cli-full');
    const api = apiClient(runtime, result.lines.at(-1) ?? '');

    const created = await api.post<{ data: { webhook_id: string } }>('/webhooks', guidePayload());
    expect(created.status).toBe(201);
    expect((await api.delete(`/webhooks/${created.body.data.webhook_id}`)).status).toBe(204);
  });

  it('lists keys, all or one tenant, without ever showing a key', async () => {
    const created = await keys('create', '--tenant', 'cli-list', '--name', 'ci robot');
    const key = created.lines.at(-1) ?? '';

    const all = await keys('list');
    const one = await keys('list', '--tenant', 'cli-list');

    expect(all.code).toBe(0);
    expect(all.output).toContain('\tcli-list\t');
    expect(all.output).toContain('\tdev\t');
    expect(one.lines).toHaveLength(2);
    expect(one.lines[1]).toMatch(
      /^key_[0-9a-f]{16}\tcli-list\t\S+\tactive\tread,create,update,delete,test,retry,analytics,verify,manage_security,publish\tci robot$/,
    );
    expect(all.output).not.toContain(key);
  });

  it('revokes a key, after which the API refuses it', async () => {
    const created = await keys('create', '--tenant', 'cli-revoke');
    const key = created.lines.at(-1) ?? '';
    const keyId = created.output.match(/Created (key_[0-9a-f]{16})/)?.[1] ?? '';
    expect((await apiClient(runtime, key).get('/webhooks')).status).toBe(200);

    const revoked = await keys('revoke', keyId);

    expect(revoked.code).toBe(0);
    expect(revoked.output).toContain(`Revoked ${keyId} (tenant cli-revoke)`);
    expect((await apiClient(runtime, key).get('/webhooks')).status).toBe(401);
    expect((await keys('list', '--tenant', 'cli-revoke')).output).toMatch(/\trevoked \d{4}-/);
  });

  it('refuses bad input with a clear message and exit code 2', async () => {
    const badPermission = await keys('create', '--tenant', 'x', '--permissions', 'read,launch');
    const noTenant = await keys('create');
    const badTenant = await keys('create', '--tenant', 'spaces are not ok');
    const unknownKey = await keys('revoke', 'key_0000000000000000');
    const unknownCommand = await keys('rotate');

    expect(badPermission.code).toBe(2);
    expect(badPermission.output).toContain('--permissions: permissions are read, create');
    expect(noTenant.code).toBe(2);
    expect(noTenant.output).toContain('create needs --tenant <id>');
    expect(badTenant.code).toBe(2);
    expect(badTenant.output).toContain('--tenant: tenant ids are');
    expect(unknownKey.code).toBe(2);
    expect(unknownKey.output).toContain('No key key_0000000000000000');
    expect(unknownCommand.code).toBe(2);
  });
});
