import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import {
  contextArguments,
  deployedStack,
  e2eExports,
  localStackEnvironment,
  OUTPUTS_FILE,
} from './localstack.ts';
import { UsageError } from './targets.ts';

/**
 * `npm run deploy:localstack [-- -c name=value ...]`: the stack into a
 * running LocalStack through cdklocal (bootstrap, then deploy without
 * prompting), then the outputs as the variables `npm run test:e2e` reads.
 * docs/operations.md, "LocalStack", has every step.
 */

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CDKLOCAL = fileURLToPath(new URL('../node_modules/.bin/cdklocal', import.meta.url));

/** LocalStack's own health route answers as soon as its gateway is up. */
const checkLocalStack = async (endpoint: string) => {
  try {
    const response = await fetch(new URL('/_localstack/health', endpoint), {
      signal: AbortSignal.timeout(3000),
    });
    if (response.ok) return;
    throw new Error(`it answered ${response.status}`);
  } catch (error) {
    // fetch says only "fetch failed"; the cause says why (ECONNREFUSED, a timeout).
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new UsageError(
      `LocalStack does not answer at ${endpoint} (${reason}). Start it first, or set AWS_ENDPOINT_URL to where it runs.`,
    );
  }
};

const cdklocal = (args: string[], env: NodeJS.ProcessEnv) =>
  new Promise<void>((resolve, reject) => {
    console.error(`deploy:localstack: cdklocal ${args.join(' ')}`);
    const child = spawn(CDKLOCAL, args, { cwd: ROOT, env, stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`cdklocal ${args[0]} exited with ${code}`)),
    );
  });

const main = async (argv: string[]) => {
  const localStack = localStackEnvironment(process.env);
  await checkLocalStack(localStack.AWS_ENDPOINT_URL);
  const env = { ...process.env, ...localStack };
  await cdklocal(['bootstrap', ...contextArguments(argv)], env);
  await cdklocal(
    ['deploy', '--require-approval', 'never', '--outputs-file', OUTPUTS_FILE, ...argv],
    env,
  );
  const stack = deployedStack(
    await readFile(new URL(`../${OUTPUTS_FILE}`, import.meta.url), 'utf8'),
  );
  console.log(`\nDeployed ${stack.stackName} to LocalStack at ${localStack.AWS_ENDPOINT_URL}.`);
  console.log(
    'For npm run test:e2e (a receiver reachable from the Lambdas needs two more; see docs/operations.md):',
  );
  for (const line of e2eExports(stack, localStack)) console.log(line);
};

try {
  await main(process.argv.slice(2));
} catch (error) {
  const message = error instanceof Error ? error.message : String(error);
  console.error(`deploy:localstack: ${message}`);
  process.exitCode = error instanceof UsageError ? 2 : 1;
}
