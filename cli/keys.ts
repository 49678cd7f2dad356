import { parseArgs } from 'node:util';
import { APIGatewayClient } from '@aws-sdk/client-api-gateway';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createDocumentClient } from '../functions/commons/clients.ts';
import { PERMISSIONS } from '../functions/domain/keys/api-keys.ts';
import { ApiKeyRepository } from '../functions/repositories/api-keys.ts';
import { CONFIG_TABLE } from '../lib/resources.ts';
import { createKey, type KeyTarget, listKeys, revokeKey } from './key-commands.ts';
import {
  type LocalEndpoint,
  localClientConfig,
  localEndpoint,
  localOutput,
  stackOutputs,
  UsageError,
  unreachableHint,
} from './targets.ts';
import { ApiGatewayUsagePlan } from './usage-plan.ts';

/**
 * `npm run keys`: API keys for the local runtime (default) or a deployed
 * stack (--stack NAME, with the usual AWS credentials).
 */

const USAGE = `Usage:
  npm run keys -- create --tenant <id> [--permissions read,create,...] [--name <label>] [--stack <name>]
  npm run keys -- list [--tenant <id>] [--stack <name>]
  npm run keys -- revoke <key_id> [--stack <name>]

Without --stack the keys go to the local runtime's DynamoDB: AWS_ENDPOINT_URL_DYNAMODB, else
127.0.0.1:$DYNAMODB_PORT, else where the running runtime's .hookline/endpoints.json (in
$HOOKLINE_DATA_DIR) says, else port 8000; table $TABLE_NAME, else the runtime's, else
${CONFIG_TABLE.localName}. With --stack they go to that deployed stack's table and usage plan.
Permissions default to all of: ${PERMISSIONS.join(', ')}.
A producer that publishes events over HTTP (POST /api/v1/events) needs only: --permissions publish.
create prints the new key alone on the last line of its output.`;

/** The local endpoints this run used, for the message if nothing answers there. */
const tried: LocalEndpoint[] = [];

const connect = async (stack: string | undefined): Promise<KeyTarget> => {
  if (stack) {
    const { ConfigTableName: table, UsagePlanId: usagePlanId } = await stackOutputs(stack, [
      'ConfigTableName',
      'UsagePlanId',
    ]);
    return {
      keys: new ApiKeyRepository(createDocumentClient(), table),
      usagePlan: new ApiGatewayUsagePlan(new APIGatewayClient({}), usagePlanId),
    };
  }
  const local = localEndpoint('DYNAMODB');
  tried.push(local);
  const client = new DynamoDBClient(localClientConfig(local));
  const table =
    process.env.TABLE_NAME || localOutput(local, 'ConfigTableName') || CONFIG_TABLE.localName;
  return { keys: new ApiKeyRepository(createDocumentClient(client), table) };
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
  const print = (line: string) => console.log(line);
  if (values.help || !command) return print(USAGE);
  if (!['create', 'list', 'revoke'].includes(command))
    throw new UsageError(`Unknown command ${command}`);
  const target = await connect(values.stack);
  if (command === 'create') await createKey(target, values, print);
  else if (command === 'list') await listKeys(target, values, print);
  else await revokeKey(target, argument, print);
};

try {
  await main(process.argv.slice(2));
} catch (error) {
  const message = error instanceof Error ? error.message : String(error);
  // parseArgs reports unknown options as TypeErrors with an ERR_PARSE_ARGS code.
  if (error instanceof UsageError || (error instanceof TypeError && 'code' in error)) {
    console.error(`keys: ${message}\n\n${USAGE}`);
    process.exitCode = 2;
  } else {
    console.error(`keys: ${message}${unreachableHint(message, tried)}`);
    process.exitCode = 1;
  }
}
