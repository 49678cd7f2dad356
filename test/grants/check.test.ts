import { describe, expect, it } from 'vitest';
import type { AccessRecord } from '../../local/aws-gate.ts';
import { readStackModel } from '../../local/stack-model.ts';
import { synthesizeStack } from '../../local/template.ts';
import { checkGrants, grantsOf, PLATFORM_GRANTS } from './check.ts';
import { withoutGrant } from './records.ts';

/**
 * The grants check itself, on the synthesized stack: it names a call the
 * stack does not allow and a grant nothing uses.
 */

const model = async (remove?: { role: string; action: string }) => {
  const { stackName, template } = await synthesizeStack({});
  const changed = remove
    ? withoutGrant(structuredClone(template), remove.role, remove.action)
    : template;
  return readStackModel(stackName, changed, { region: 'us-east-1' });
};

/** One call for every grant the stack holds, as if the suite had used them all. */
const callsFor = async (): Promise<AccessRecord[]> => {
  const platform = new Set(PLATFORM_GRANTS.map((grant) => grant.action));
  const stack = await model();
  return grantsOf(stack)
    .filter((grant) => !platform.has(grant.action))
    .map((grant) => ({
      ...grant,
      principalArn:
        stack.functions.find((fn) => fn.name === grant.functionName)?.principalArn ?? '',
      allowed: true,
    }));
};

describe('checkGrants', () => {
  it('passes a stack whose every grant is used and every call granted', async () => {
    expect(await checkGrants(await model(), await callsFor())).toEqual({
      missing: [],
      unused: [],
    });
  });

  it('names the action when a grant the code needs is removed from the stack', async () => {
    const calls = await callsFor();
    const stack = await model({
      role: 'WorkersDeliveryFunctionRole',
      action: 'dynamodb:BatchWriteItem',
    });

    const report = await checkGrants(stack, calls);

    expect(report.missing).toEqual([
      expect.stringMatching(
        /^hookline-delivery: dynamodb:BatchWriteItem on arn:aws:dynamodb:.*:table\/hookline-deliveries$/,
      ),
    ]);
  });

  it('names a grant that no call used', async () => {
    const calls = (await callsFor()).filter(
      (call) => !(call.functionName === 'hookline-api' && call.action === 'dynamodb:DeleteItem'),
    );

    const report = await checkGrants(await model(), calls);

    expect(report.missing).toEqual([]);
    expect(report.unused).toEqual([
      expect.stringMatching(/^hookline-api: dynamodb:DeleteItem on .*table\/hookline-config$/),
    ]);
  });
});
