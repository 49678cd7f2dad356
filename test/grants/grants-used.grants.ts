import { describe, expect, it } from 'vitest';
import { stackModelForTests } from '../support/stack.ts';
import { checkGrants } from './check.ts';
import { recordedCalls } from './records.ts';

/**
 * Run by `npm test` after the whole suite (test/run.ts): every AWS call the
 * functions made during the suite, held against the stack's grants. A call
 * without a grant, or a grant no call used, fails here with its name.
 */

const calls = recordedCalls(process.env.HOOKLINE_ACCESS_RECORD_DIR);

describe('the stack’s grants, against the calls the suite made', () => {
  it('were recorded from the integration suite', () => {
    expect(calls.length, 'run `npm test`: the suite records the calls this checks').toBeGreaterThan(
      0,
    );
    const functions = new Set(calls.map((call) => call.functionName));
    expect([...functions].sort()).toEqual([
      'hookline-api',
      'hookline-authorizer',
      'hookline-delivery',
      'hookline-fan-out',
    ]);
  });

  it('allow every call a function made, and hold nothing unused', async () => {
    const report = await checkGrants(await stackModelForTests(), calls);
    expect(report.missing, 'calls the stack does not grant').toEqual([]);
    expect(report.unused, 'grants no handler uses').toEqual([]);
  });
});
