import { synthesizeStack } from '../../local/template.ts';
import { TEST_CONTEXT } from './runtime-context.ts';

/**
 * Before the test files start (each in its own process): the templates most
 * of them run, synthesized once, so parallel files read the cache instead of
 * each paying for the same synth.
 */
export default async function setup(): Promise<void> {
  await Promise.all([synthesizeStack(TEST_CONTEXT), synthesizeStack({})]);
}
