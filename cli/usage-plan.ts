import {
  type APIGatewayClient,
  CreateApiKeyCommand,
  CreateUsagePlanKeyCommand,
  DeleteApiKeyCommand,
  GetApiKeysCommand,
} from '@aws-sdk/client-api-gateway';
import { usageKeyOf } from '../functions/domain/keys/api-keys.ts';

/**
 * A deployed stack's usage plan, which throttles each key. Every Hookline key
 * gets an API Gateway key named by its key id and valued by `usageKeyOf`, which
 * the authorizer returns as the usage identifier.
 */
export interface UsagePlanKeys {
  add(keyId: string, tenant: string): Promise<void>;
  remove(keyId: string): Promise<void>;
}

type Sender = Pick<APIGatewayClient, 'send'>;

export class ApiGatewayUsagePlan implements UsagePlanKeys {
  readonly #client: Sender;
  readonly #usagePlanId: string;

  constructor(client: Sender, usagePlanId: string) {
    this.#client = client;
    this.#usagePlanId = usagePlanId;
  }

  async add(keyId: string, tenant: string): Promise<void> {
    const created = await this.#client.send(
      new CreateApiKeyCommand({
        name: keyId,
        value: usageKeyOf(keyId),
        enabled: true,
        description: `Hookline key of tenant ${tenant}`,
      }),
    );
    await this.#client.send(
      new CreateUsagePlanKeyCommand({
        usagePlanId: this.#usagePlanId,
        keyId: created.id,
        keyType: 'API_KEY',
      }),
    );
  }

  async remove(keyId: string): Promise<void> {
    const { items } = await this.#client.send(
      new GetApiKeysCommand({ nameQuery: keyId, limit: 25 }),
    );
    for (const key of items ?? []) {
      if (key.name === keyId && key.id) {
        await this.#client.send(new DeleteApiKeyCommand({ apiKey: key.id }));
      }
    }
  }
}
