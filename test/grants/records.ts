import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AccessRecord } from '../../local/aws-gate.ts';
import type { CfnTemplate } from '../../local/template.ts';

/** Every call the suite's runtimes recorded (test/run.ts), de-duplicated. */
export const recordedCalls = (dir: string | undefined): AccessRecord[] => {
  if (!dir) return [];
  const lines = readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.jsonl'))
    .flatMap((entry) => readFileSync(join(dir, entry.name), 'utf8').split('\n'))
    .filter((line) => line.trim() !== '');
  return [...new Set(lines)].map((line) => JSON.parse(line) as AccessRecord);
};

/** The template with one action taken out of the named function's role (its statements kept). */
export const withoutGrant = (
  template: CfnTemplate,
  rolePrefix: string,
  action: string,
): CfnTemplate => {
  let removed = 0;
  for (const resource of Object.values(template.Resources)) {
    if (resource.Type !== 'AWS::IAM::Policy') continue;
    const roles = JSON.stringify(resource.Properties?.Roles ?? []);
    if (!roles.includes(rolePrefix)) continue;
    const document = resource.Properties?.PolicyDocument as {
      Statement: { Action: string | string[] }[];
    };
    for (const statement of document.Statement) {
      const actions = [statement.Action].flat();
      const kept = actions.filter((each) => each !== action);
      removed += actions.length - kept.length;
      statement.Action = kept.length === 1 ? (kept[0] ?? '') : kept;
    }
    document.Statement = document.Statement.filter((statement) =>
      [statement.Action].flat().some((each) => each !== ''),
    );
  }
  if (removed === 0) throw new Error(`No ${action} granted to a role named ${rolePrefix}*`);
  return template;
};
