import type { AccessRecord } from '../../local/aws-gate.ts';
import { PolicyEvaluator } from '../../local/iam.ts';
import type { StackModel } from '../../local/stack-model.ts';

/**
 * The stack's grants held against what its functions were seen to call: every
 * call must be allowed by the function's role, and every grant must be used.
 */

/**
 * Grants the Lambda service itself uses with a function's role, which no
 * handler calls and the local runtime cannot see: the one place they are
 * excused, each with its reason.
 */
export const PLATFORM_GRANTS: readonly { action: string; reason: string }[] = [
  {
    action: 'logs:CreateLogStream',
    reason: 'Lambda writes the function’s logs to its log group with the function’s role',
  },
  { action: 'logs:PutLogEvents', reason: 'as logs:CreateLogStream' },
  {
    action: 'xray:PutTraceSegments',
    reason: 'active tracing: Lambda sends the function’s trace segments with its role',
  },
  { action: 'xray:PutTelemetryRecords', reason: 'as xray:PutTraceSegments' },
];

export interface Grant {
  functionName: string;
  action: string;
  resource: string;
}

/** Every (action, resource) a function's role allows, read from its policies' Allow statements. */
export const grantsOf = (stack: StackModel): Grant[] =>
  stack.functions.flatMap((fn) =>
    fn.role.policies.flatMap(({ document }) =>
      document.Statement.filter((statement) => statement.Effect === 'Allow').flatMap(
        (statement) => {
          if ('NotAction' in statement || 'NotResource' in statement) {
            throw new Error(
              `${fn.name}: NotAction and NotResource grants cannot be checked for use`,
            );
          }
          return [statement.Action].flat().flatMap((action) =>
            [statement.Resource].flat().map((resource) => ({
              functionName: fn.name,
              action: String(action),
              resource: String(resource),
            })),
          );
        },
      ),
    ),
  );

/** IAM action names are case-insensitive; wildcards in a granted ARN match any run of characters. */
const covers = (grant: Grant, call: AccessRecord) =>
  grant.functionName === call.functionName &&
  grant.action.toLowerCase() === call.action.toLowerCase() &&
  new RegExp(`^${grant.resource.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`).test(
    call.resource,
  );

export interface GrantReport {
  /** Calls the role does not allow, as "function: action on resource". */
  missing: string[];
  /** Grants no call used and no platform use explains, as "function: action on resource". */
  unused: string[];
}

export const checkGrants = async (
  stack: StackModel,
  calls: readonly AccessRecord[],
): Promise<GrantReport> => {
  const evaluator = new PolicyEvaluator(
    stack.functions.map((fn) => ({
      accessKeyId: fn.accessKeyId,
      functionName: fn.name,
      principalArn: fn.principalArn,
      policies: fn.role.policies,
    })),
    stack.queuePolicies,
    stack.account,
  );
  const byName = new Map(stack.functions.map((fn) => [fn.name, fn]));
  const missing = new Set<string>();
  for (const call of calls) {
    const fn = byName.get(call.functionName);
    const caller = fn && evaluator.caller(fn.accessKeyId);
    const decision = caller && (await evaluator.decide(caller, call.action, call.resource));
    if (!decision?.allowed) missing.add(`${call.functionName}: ${call.action} on ${call.resource}`);
  }
  const platform = new Set(PLATFORM_GRANTS.map((grant) => grant.action));
  const unused = grantsOf(stack)
    .filter((grant) => !platform.has(grant.action))
    .filter((grant) => !calls.some((call) => covers(grant, call)))
    .map((grant) => `${grant.functionName}: ${grant.action} on ${grant.resource}`);
  return { missing: [...missing].sort(), unused: [...new Set(unused)].sort() };
};
