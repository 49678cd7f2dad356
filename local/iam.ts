import { runSimulation, type Simulation } from '@cloud-copilot/iam-simulate';
import type { PolicyDocument } from './stack-model.ts';

/**
 * IAM for the local runtime: each function's calls are evaluated against its
 * role's policies from the synthesized template (and the target's resource
 * policy), by @cloud-copilot/iam-simulate: wildcards, NotAction and
 * NotResource, explicit denies and condition operators as AWS evaluates them.
 * It is a development dependency (AGPL-3.0) and never bundled into a function.
 */

export interface Caller {
  accessKeyId: string;
  functionName: string;
  principalArn: string;
  policies: { name: string; document: PolicyDocument }[];
}

export type Decision =
  | { allowed: true }
  | { allowed: false; reason: 'implicit' | 'explicit-identity' | 'explicit-resource' };

/** What every request to AWS carries that a policy condition may test. */
const REQUEST_CONTEXT = { 'aws:SecureTransport': 'true' };

export class PolicyEvaluator {
  readonly #callers: Map<string, Caller>;
  readonly #resourcePolicies: Map<string, PolicyDocument>;
  readonly #account: string;
  readonly #decisions = new Map<string, Promise<Decision>>();

  constructor(
    callers: readonly Caller[],
    resourcePolicies: ReadonlyMap<string, PolicyDocument>,
    account: string,
  ) {
    this.#callers = new Map(callers.map((caller) => [caller.accessKeyId, caller]));
    this.#resourcePolicies = new Map(resourcePolicies);
    this.#account = account;
  }

  /** The function a key belongs to; undefined for anyone else (an operator, a test). */
  caller(accessKeyId: string): Caller | undefined {
    return this.#callers.get(accessKeyId);
  }

  /** Policies never change while the runtime runs, so each answer is kept. */
  decide(caller: Caller, action: string, resource: string): Promise<Decision> {
    const key = `${caller.accessKeyId}\n${action}\n${resource}`;
    let decision = this.#decisions.get(key);
    if (!decision) {
      decision = this.#simulate(caller, action, resource);
      this.#decisions.set(key, decision);
    }
    return decision;
  }

  async #simulate(caller: Caller, action: string, resource: string): Promise<Decision> {
    const resourcePolicy = this.#resourcePolicies.get(resource);
    const simulation: Simulation = {
      identityPolicies: caller.policies.map((policy) => ({
        name: policy.name,
        policy: policy.document,
      })),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      ...(resourcePolicy ? { resourcePolicy } : {}),
      request: {
        action,
        principal: caller.principalArn,
        resource: { accountId: this.#account, resource },
        contextVariables: REQUEST_CONTEXT,
      },
    };
    const response = await runSimulation(simulation, {});
    if (response.resultType === 'error') {
      throw new Error(
        `IAM simulation of ${action} on ${resource} failed: ${JSON.stringify(response.errors)}`,
      );
    }
    if (response.overallResult === 'Allowed') return { allowed: true };
    if (response.overallResult === 'ImplicitlyDenied')
      return { allowed: false, reason: 'implicit' };
    const analysis = response.resultType === 'single' ? response.result.analysis : undefined;
    const byIdentity = (analysis?.identityAnalysis?.denyStatements?.length ?? 0) > 0;
    return { allowed: false, reason: byIdentity ? 'explicit-identity' : 'explicit-resource' };
  }
}
