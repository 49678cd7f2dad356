import {
  CreateApiKeyCommand,
  CreateUsagePlanKeyCommand,
  DeleteApiKeyCommand,
  GetApiKeysCommand,
} from '@aws-sdk/client-api-gateway';
import { describe, expect, it } from 'vitest';
import type { ApiKeyRecord } from '../functions/domain/keys/api-keys.ts';
import { createKey, type KeyTarget, revokeKey } from './key-commands.ts';
import { ApiGatewayUsagePlan } from './usage-plan.ts';

/** Against a deployed stack every key must also join the usage plan that throttles it. */

const recordingApiGateway = () => {
  const sent: object[] = [];
  const client = {
    send: async (command: object) => {
      sent.push(command);
      if (command instanceof CreateApiKeyCommand) return { id: 'apigw-key-1' };
      if (command instanceof GetApiKeysCommand) {
        return {
          items: [
            { id: 'apigw-key-1', name: command.input.nameQuery },
            { id: 'other', name: 'key_other' },
          ],
        };
      }
      return {};
    },
  };
  // The SDK's send is overloaded; the fake answers what the usage plan sends.
  return {
    client: client as unknown as ConstructorParameters<typeof ApiGatewayUsagePlan>[0],
    sent,
  };
};

const memoryKeys = () => {
  const stored = new Map<string, ApiKeyRecord>();
  return {
    stored,
    create: async (record: ApiKeyRecord) => {
      stored.set(record.key_id, record);
      return true;
    },
    list: async () => [...stored.values()],
    revoke: async (keyId: string, at: Date) => {
      const record = stored.get(keyId);
      if (!record) return undefined;
      const revoked = { ...record, revoked_at: at.toISOString() };
      stored.set(keyId, revoked);
      return revoked;
    },
  };
};

describe('keys on a deployed stack', () => {
  it('creates an alphanumeric API Gateway key derived from the key id and adds it to the usage plan', async () => {
    const apiGateway = recordingApiGateway();
    const target: KeyTarget = {
      keys: memoryKeys(),
      usagePlan: new ApiGatewayUsagePlan(apiGateway.client, 'plan-123'),
    };
    const printed: string[] = [];

    const record = await createKey(target, { tenant: 'acme', permissions: 'read' }, (line) =>
      printed.push(line),
    );

    const [createApiKey, addToPlan] = apiGateway.sent;
    expect(createApiKey).toBeInstanceOf(CreateApiKeyCommand);
    expect((createApiKey as CreateApiKeyCommand).input).toEqual({
      name: record.key_id,
      value: `hookline${record.key_id.slice(4)}`,
      enabled: true,
      description: 'Hookline key of tenant acme',
    });
    expect(addToPlan).toBeInstanceOf(CreateUsagePlanKeyCommand);
    expect((addToPlan as CreateUsagePlanKeyCommand).input).toEqual({
      usagePlanId: 'plan-123',
      keyId: 'apigw-key-1',
      keyType: 'API_KEY',
    });
    expect((createApiKey as CreateApiKeyCommand).input.value).toMatch(/^[A-Za-z0-9]{20,128}$/);
    expect(printed.at(-1)).toMatch(/^hl_/);
    expect(JSON.stringify(apiGateway.sent)).not.toContain(printed.at(-1));
  });

  it('deletes the API Gateway key of a revoked key, and only that one', async () => {
    const apiGateway = recordingApiGateway();
    const keys = memoryKeys();
    const target: KeyTarget = {
      keys,
      usagePlan: new ApiGatewayUsagePlan(apiGateway.client, 'plan-123'),
    };
    const record = await createKey(target, { tenant: 'acme' }, () => undefined);

    await revokeKey(target, record.key_id, () => undefined);

    const deletes = apiGateway.sent.filter((command) => command instanceof DeleteApiKeyCommand);
    expect(deletes.map((command) => (command as DeleteApiKeyCommand).input)).toEqual([
      { apiKey: 'apigw-key-1' },
    ]);
    expect(keys.stored.get(record.key_id)?.revoked_at).toBeDefined();
  });
});
