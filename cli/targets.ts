import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';

/**
 * Where the operator CLIs (keys, dlq) connect: the local runtime's emulators
 * by default, or a deployed stack found by its CloudFormation outputs.
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

const LOCAL_PORTS = {
  DYNAMODB: { variable: 'DYNAMODB_PORT', fallback: 8000 },
  SQS: { variable: 'SQS_PORT', fallback: 4566 },
} as const;

/**
 * SDK client settings for the local runtime's service, as the runtime finds
 * it: the SDK's own endpoint variables when set, else the emulator's port.
 */
export const localClientConfig = (service: keyof typeof LOCAL_PORTS) => {
  const configured = process.env[`AWS_ENDPOINT_URL_${service}`] || process.env.AWS_ENDPOINT_URL;
  const { variable, fallback } = LOCAL_PORTS[service];
  return {
    endpoint: configured || `http://127.0.0.1:${process.env[variable] || fallback}`,
    region: process.env.AWS_REGION ?? 'us-east-1',
    // The emulators take any credentials; a configured endpoint uses the usual ones.
    ...(configured ? {} : { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }),
  };
};
