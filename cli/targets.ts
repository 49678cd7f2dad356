import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { dataDirFrom, endpointsFilePath, readEndpointsFile } from '../local/endpoints-file.ts';

/**
 * Where the operator CLIs (keys, dlq, emit) connect: the local runtime's
 * emulators by default, or a deployed stack found by its CloudFormation outputs.
 */

/** A mistake in the command line or its target: exit code 2, with the usage. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The named outputs of a deployed stack; a missing one is the caller's mistake. */
export const stackOutputs = async <Name extends string>(
  stackName: string,
  required: readonly Name[],
): Promise<Record<Name, string>> => {
  const { Stacks } = await new CloudFormationClient({}).send(
    new DescribeStacksCommand({ StackName: stackName }),
  );
  const outputs = new Map<string, string>();
  for (const output of Stacks?.[0]?.Outputs ?? []) {
    if (output.OutputKey && output.OutputValue) outputs.set(output.OutputKey, output.OutputValue);
  }
  const missing = required.filter((name) => !outputs.has(name));
  if (missing.length > 0) {
    throw new UsageError(`Stack ${stackName} lacks the outputs ${missing.join(', ')}`);
  }
  return Object.fromEntries(required.map((name) => [name, outputs.get(name) ?? ''])) as Record<
    Name,
    string
  >;
};

/** The local runtime's services: the port variables `npm start` reads, their defaults, their key in the endpoints file. */
const LOCAL_SERVICES = {
  DYNAMODB: { variable: 'DYNAMODB_PORT', fallback: 8000, key: 'dynamodb' },
  SQS: { variable: 'SQS_PORT', fallback: 4566, key: 'sqs' },
} as const;

export type LocalService = keyof typeof LOCAL_SERVICES;

/** Where a CLI reaches one of the local runtime's services, and what told it so. */
export interface LocalEndpoint {
  service: LocalService;
  endpoint: string;
  /** For messages: the variable, the endpoints file, or the default. */
  source: string;
  /** An SDK endpoint variable named it: the usual credentials apply, not the emulators' dummies. */
  configured: boolean;
  /** The running runtime's stack outputs (queue URLs, table names), when its endpoints file named it. */
  outputs?: Readonly<Record<string, string>> | undefined;
}

/**
 * How the CLIs find the local runtime's service, first match wins: the SDK's
 * endpoint variables, the port variable (SQS_PORT, DYNAMODB_PORT), the
 * endpoints file the running runtime keeps in its data folder, the default
 * port. A file whose runtime is gone stops the CLI with an error naming it.
 */
export const localEndpoint = (
  service: LocalService,
  env: NodeJS.ProcessEnv = process.env,
): LocalEndpoint => {
  const { variable, fallback, key } = LOCAL_SERVICES[service];
  const sdkVariable = [`AWS_ENDPOINT_URL_${service}`, 'AWS_ENDPOINT_URL'].find((name) => env[name]);
  if (sdkVariable) {
    return { service, endpoint: env[sdkVariable] ?? '', source: sdkVariable, configured: true };
  }
  const port = env[variable];
  // 0 tells `npm start` to pick a free port; it is never where a runtime listens.
  if (port && port !== '0') {
    return {
      service,
      endpoint: `http://127.0.0.1:${port}`,
      source: `${variable}=${port}`,
      configured: false,
    };
  }
  const dataDir = dataDirFrom(env);
  const found = dataDir === undefined ? undefined : readEndpointsFile(dataDir);
  if (found) {
    const { file, endpoints } = found;
    return {
      service,
      endpoint: endpoints[key],
      source: `${file} (the runtime with pid ${endpoints.pid})`,
      configured: false,
      outputs: endpoints.outputs,
    };
  }
  const missing =
    dataDir === undefined ? 'HOOKLINE_DATA_DIR is empty' : `no ${endpointsFilePath(dataDir)}`;
  return {
    service,
    endpoint: `http://127.0.0.1:${fallback}`,
    source: `the default port (${missing}; set ${variable} to the runtime's port)`,
    configured: false,
  };
};

/** SDK client settings for a local endpoint. */
export const localClientConfig = (target: LocalEndpoint) => ({
  endpoint: target.endpoint,
  region: process.env.AWS_REGION ?? 'us-east-1',
  // The emulators take any credentials; a configured endpoint uses the usual ones.
  ...(target.configured ? {} : { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }),
});

/** The stack output the running runtime gave, when its endpoints file named the service. */
export const localOutput = (target: LocalEndpoint, name: string): string | undefined =>
  target.outputs?.[name];

/** Which endpoints were tried and why, for an error message. */
export const describeTried = (targets: readonly LocalEndpoint[]): string =>
  targets.map((target) => `${target.endpoint} from ${target.source}`).join('; ');

/** What a refused connection means, told for the endpoint refused (or all those tried). */
export const unreachableHint = (message: string, targets: readonly LocalEndpoint[]): string => {
  if (!/ECONNREFUSED/.test(message) || targets.length === 0) return '';
  const refused = targets.filter((target) => message.includes(hostOf(target.endpoint)));
  const named = describeTried(refused.length > 0 ? refused : targets);
  return ` (nothing answers at ${named}: is the local runtime running? npm start)`;
};

const hostOf = (endpoint: string): string => {
  try {
    return new URL(endpoint).host;
  } catch {
    return endpoint;
  }
};
