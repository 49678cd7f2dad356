import * as v from 'valibot';
import { UsageError } from './targets.ts';

/**
 * `npm run deploy:localstack`'s logic apart from running cdklocal: the
 * environment cdklocal needs, the context arguments bootstrap shares with
 * deploy, and the stack outputs as the end-to-end suite's variables. No I/O.
 */

export const DEFAULT_LOCALSTACK_ENDPOINT = 'http://localhost:4566';

/** Where `cdk deploy --outputs-file` leaves the outputs; cdk.out is git-ignored. */
export const OUTPUTS_FILE = 'cdk.out/localstack-outputs.json';

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]', 'localhost.localstack.cloud']);

/** LocalStack resolves *.localhost.localstack.cloud to itself: S3 buckets and APIs live under it. */
const LOCALSTACK_DOMAIN = 'localhost.localstack.cloud';

const edgeUrl = (endpoint: string): URL => {
  const url = URL.canParse(endpoint) ? new URL(endpoint) : undefined;
  if (url?.protocol !== 'http:' && url?.protocol !== 'https:') {
    throw new UsageError(`AWS_ENDPOINT_URL must be LocalStack's http(s) URL; got ${endpoint}`);
  }
  return url;
};

const portOf = (url: URL) => url.port || (url.protocol === 'https:' ? '443' : '80');

export interface LocalStackEnvironment {
  AWS_ENDPOINT_URL: string;
  AWS_ENDPOINT_URL_S3: string;
  AWS_REGION: string;
  AWS_DEFAULT_REGION: string;
  AWS_ENVAR_ALLOWLIST: string;
}

/**
 * The environment for cdklocal. It refuses AWS_ENDPOINT_URL without
 * AWS_ENDPOINT_URL_S3 (it cannot tell whether the endpoint serves bucket
 * subdomains); for a LocalStack on this machine the S3 one is known. It also
 * drops every AWS_* variable not allow-listed, region included, and would
 * then deploy to us-east-1: the region is passed on, so the commands after
 * the deploy find the stack where it is.
 */
export const localStackEnvironment = (env: NodeJS.ProcessEnv): LocalStackEnvironment => {
  const endpoint = env.AWS_ENDPOINT_URL || DEFAULT_LOCALSTACK_ENDPOINT;
  const edge = edgeUrl(endpoint);
  if (!env.AWS_ENDPOINT_URL_S3 && !LOOPBACK_NAMES.has(edge.hostname)) {
    throw new UsageError(
      `LocalStack at ${endpoint} is not on this machine: set AWS_ENDPOINT_URL_S3 too (its S3 endpoint, with an s3. subdomain)`,
    );
  }
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1';
  const allowed = new Set([
    ...(env.AWS_ENVAR_ALLOWLIST ?? '').split(',').map((name) => name.trim()),
    'AWS_REGION',
    'AWS_DEFAULT_REGION',
  ]);
  allowed.delete('');
  return {
    AWS_ENDPOINT_URL: endpoint,
    AWS_ENDPOINT_URL_S3:
      env.AWS_ENDPOINT_URL_S3 || `${edge.protocol}//s3.${LOCALSTACK_DOMAIN}:${portOf(edge)}`,
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    AWS_ENVAR_ALLOWLIST: [...allowed].join(','),
  };
};

/** The `-c name=value` / `--context name=value` pairs: bootstrap synthesizes the app too. */
export const contextArguments = (argv: readonly string[]): string[] => {
  const context: string[] = [];
  for (let index = 0; index < argv.length; index += 1) {
    const argument = argv[index] ?? '';
    const value = argv[index + 1];
    if ((argument === '-c' || argument === '--context') && value !== undefined) {
      context.push(argument, value);
      index += 1;
    } else if (argument.startsWith('--context=')) {
      context.push(argument);
    }
  }
  return context;
};

/**
 * The API as LocalStack serves it. A REST API's URL output may carry AWS's
 * host form; LocalStack answers at <id>.execute-api.localhost.localstack.cloud
 * on its own port, under the same stage and path.
 */
export const localStackApiUrl = (apiUrl: string, endpoint: string): string => {
  const api = new URL(apiUrl);
  const edge = edgeUrl(endpoint);
  const restApiId = /^([a-z0-9]+)\.execute-api\./.exec(api.hostname)?.[1];
  if (!restApiId || !LOOPBACK_NAMES.has(edge.hostname)) return apiUrl;
  const path = api.pathname.replace(/\/+$/, '');
  return `${edge.protocol}//${restApiId}.execute-api.${LOCALSTACK_DOMAIN}:${portOf(edge)}${path}`;
};

const outputsFileSchema = v.record(v.string(), v.record(v.string(), v.string()));

const REQUIRED_OUTPUTS = ['ApiUrl', 'EventsQueueUrl', 'DeliveriesDeadLetterQueueUrl'] as const;

/** The deployed stack's name and outputs, from cdk's outputs file. */
export const deployedStack = (
  fileText: string,
): { stackName: string; outputs: Record<string, string> } => {
  const stacks = Object.entries(v.parse(outputsFileSchema, JSON.parse(fileText)));
  const [stack] = stacks;
  if (stacks.length !== 1 || !stack) {
    throw new Error(`${OUTPUTS_FILE} should hold one stack; it holds ${stacks.length}`);
  }
  const [stackName, outputs] = stack;
  const missing = REQUIRED_OUTPUTS.filter((name) => !outputs[name]);
  if (missing.length > 0)
    throw new Error(`Stack ${stackName} lacks the outputs ${missing.join(', ')}`);
  return { stackName, outputs };
};

/**
 * What to paste into a shell to point `npm run keys` and `npm run test:e2e`
 * at the stack: cdklocal's credentials (LocalStack's default account takes
 * any), the region and the endpoint it deployed to, and the outputs.
 */
export const e2eExports = (
  stack: { stackName: string; outputs: Record<string, string> },
  environment: Pick<LocalStackEnvironment, 'AWS_ENDPOINT_URL' | 'AWS_REGION'>,
): string[] => [
  'export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test',
  `export AWS_ENDPOINT_URL=${environment.AWS_ENDPOINT_URL} AWS_REGION=${environment.AWS_REGION}`,
  `export HOOKLINE_E2E_API_URL=${localStackApiUrl(stack.outputs.ApiUrl ?? '', environment.AWS_ENDPOINT_URL)}`,
  `export HOOKLINE_E2E_EVENTS_QUEUE_URL=${stack.outputs.EventsQueueUrl}`,
  `export HOOKLINE_E2E_DELIVERIES_DLQ_URL=${stack.outputs.DeliveriesDeadLetterQueueUrl}`,
  `export HOOKLINE_E2E_API_KEY=$(npm run --silent keys -- create --tenant e2e --stack ${stack.stackName} | tail -n 1)`,
];
