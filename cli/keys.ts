import { parseArgs } from 'node:util';
import {
  APIGatewayClient,
  CreateApiKeyCommand,
  CreateUsagePlanKeyCommand,
  DeleteApiKeyCommand,
  GetApiKeysCommand,
} from '@aws-sdk/client-api-gateway';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import * as v from 'valibot';
import { createDocumentClient } from '../functions/commons/clients.ts';
import {
  generateApiKey,
  newApiKeyRecord,
  PERMISSIONS,
  permissionsSchema,
  tenantIdSchema,
} from '../functions/domain/keys/api-keys.ts';
import { ApiKeyRepository } from '../functions/repositories/api-keys.ts';
import { CONFIG_TABLE } from '../lib/resources.ts';

/**
 * Manages API keys, against the local runtime (default) or a deployed stack
 * (--stack NAME). On AWS each key also gets an API Gateway key in the stack's
 * usage plan, which is what throttles it; its value is the key id, not the key.
 */

const USAGE = `Usage:
  npm run keys -- create --tenant <id> [--permissions ${PERMISSIONS.slice(0, 3).join(',')},...] [--name <label>] [--stack <name>]
  npm run keys -- list [--tenant <id>] [--stack <name>]
  npm run keys -- revoke <key_id> [--stack <name>]

Without --stack the keys go to the local runtime's DynamoDB (127.0.0.1:$DYNAMODB_PORT,
default 8000, or AWS_ENDPOINT_URL_DYNAMODB; table $TABLE_NAME, default ${CONFIG_TABLE.localName}).
With --stack they go to that deployed stack, with the usual AWS credentials.
Permissions default to all of: ${PERMISSIONS.join(', ')}.
The create command prints the new key alone on the last line of its output.`;

class UsageError extends Error {}

interface Target {
  keys: ApiKeyRepository;
  /** The deployed stack's usage plan; absent for the local runtime. */
  usagePlanId?: string | undefined;
  apiGateway?: APIGatewayClient;
}

const stackOutputs = async (stackName: string): Promise<Record<string, string>> => {
  const { Stacks } = await new CloudFormationClient({}).send(
    new DescribeStacksCommand({ StackName: stackName }),
  );
  const outputs: Record<string, string> = {};
  for (const output of Stacks?.[0]?.Outputs ?? []) {
    if (output.OutputKey && output.OutputValue) outputs[output.OutputKey] = output.OutputValue;
  }
  return outputs;
};

const connect = async (stack: string | undefined): Promise<Target> => {
  if (stack) {
    const outputs = await stackOutputs(stack);
    const table = outputs.ConfigTableName;
    const usagePlanId = outputs.UsagePlanId;
    if (!table || !usagePlanId) {
      throw new UsageError(`Stack ${stack} has no ConfigTableName and UsagePlanId outputs`);
    }
    const db = createDocumentClient();
    return {
      keys: new ApiKeyRepository(db, table),
      usagePlanId,
      apiGateway: new APIGatewayClient({}),
    };
  }
  const configured = process.env.AWS_ENDPOINT_URL_DYNAMODB || process.env.AWS_ENDPOINT_URL;
  const endpoint = configured || `http://127.0.0.1:${process.env.DYNAMODB_PORT ?? 8000}`;
  const client = new DynamoDBClient({
    endpoint,
    region: process.env.AWS_REGION ?? 'us-east-1',
    // The emulator takes any credentials; a configured endpoint uses the usual ones.
    ...(configured ? {} : { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }),
  });
  const table = process.env.TABLE_NAME ?? CONFIG_TABLE.localName;
  return { keys: new ApiKeyRepository(createDocumentClient(client), table) };
};

const parseWith = <S extends v.GenericSchema>(schema: S, value: unknown, what: string) => {
  const result = v.safeParse(schema, value);
  if (!result.success) throw new UsageError(`${what}: ${result.issues[0]?.message ?? 'invalid'}`);
  return result.output;
};

interface Options {
  tenant?: string | undefined;
  permissions?: string | undefined;
  name?: string | undefined;
}

const create = async (target: Target, values: Options) => {
  if (!values.tenant) throw new UsageError('create needs --tenant <id>');
  const tenant = parseWith(tenantIdSchema, values.tenant, '--tenant');
  const requested = values.permissions?.split(',').map((name) => name.trim()) ?? [...PERMISSIONS];
  const permissions = parseWith(permissionsSchema, requested, '--permissions');
  const key = generateApiKey();
  const record = newApiKeyRecord(key, tenant, permissions, new Date(), values.name);
  if (target.apiGateway && target.usagePlanId) {
    const usageKey = await target.apiGateway.send(
      new CreateApiKeyCommand({
        name: record.key_id,
        value: record.key_id,
        enabled: true,
        description: `Hookline key of tenant ${tenant}`,
      }),
    );
    await target.apiGateway.send(
      new CreateUsagePlanKeyCommand({
        usagePlanId: target.usagePlanId,
        keyId: usageKey.id,
        keyType: 'API_KEY',
      }),
    );
  }
  await target.keys.create(record);
  console.log(`Created ${record.key_id} for tenant ${tenant} with ${permissions.join(',')}.`);
  console.log('Store the key now: it is not kept and cannot be shown again.');
  console.log(key);
};

const list = async (target: Target, values: Options) => {
  const tenant = values.tenant ? parseWith(tenantIdSchema, values.tenant, '--tenant') : undefined;
  const keys = await target.keys.list(tenant);
  if (keys.length === 0) {
    console.log('No keys.');
    return;
  }
  console.log(['KEY ID', 'TENANT', 'CREATED', 'STATUS', 'PERMISSIONS', 'NAME'].join('\t'));
  for (const key of keys) {
    const status = key.revoked_at ? `revoked ${key.revoked_at}` : 'active';
    console.log(
      [
        key.key_id,
        key.tenant,
        key.created_at,
        status,
        key.permissions.join(','),
        key.name ?? '',
      ].join('\t'),
    );
  }
};

const revoke = async (target: Target, keyId: string | undefined) => {
  if (!keyId) throw new UsageError('revoke needs a key id (see list)');
  const revoked = await target.keys.revoke(keyId, new Date());
  if (!revoked) throw new UsageError(`No key ${keyId}`);
  if (target.apiGateway) {
    const { items } = await target.apiGateway.send(
      new GetApiKeysCommand({ nameQuery: keyId, limit: 10 }),
    );
    for (const usageKey of items ?? []) {
      if (usageKey.name === keyId && usageKey.id) {
        await target.apiGateway.send(new DeleteApiKeyCommand({ apiKey: usageKey.id }));
      }
    }
  }
  console.log(`Revoked ${keyId} (tenant ${revoked.tenant}) at ${revoked.revoked_at}.`);
  console.log('A gateway that cached the key may accept it until its authorizer cache expires.');
};

const main = async (argv: string[]) => {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      tenant: { type: 'string' },
      permissions: { type: 'string' },
      name: { type: 'string' },
      stack: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, argument] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return;
  }
  const target = await connect(values.stack);
  switch (command) {
    case 'create':
      return create(target, values);
    case 'list':
      return list(target, values);
    case 'revoke':
      return revoke(target, argument);
    default:
      throw new UsageError(`Unknown command ${command}`);
  }
};

try {
  await main(process.argv.slice(2));
} catch (error) {
  if (error instanceof UsageError || (error instanceof TypeError && 'code' in error)) {
    console.error(`keys: ${error.message}\n\n${USAGE}`);
    process.exitCode = 2;
  } else {
    const message = error instanceof Error ? error.message : String(error);
    const hint = /ECONNREFUSED/.test(message) ? ' (is the local runtime running? npm start)' : '';
    console.error(`keys: ${message}${hint}`);
    process.exitCode = 1;
  }
}
