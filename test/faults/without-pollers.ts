import type { CfnTemplate } from '../../local/template.ts';

/**
 * The stack with its event source mappings disabled: a runtime that only
 * holds the queues and tables (and the API) for another runtime to consume,
 * as LocalStack would.
 */
export const withoutPollers = (template: CfnTemplate): CfnTemplate => {
  for (const resource of Object.values(template.Resources)) {
    if (resource.Type === 'AWS::Lambda::EventSourceMapping') {
      resource.Properties = { ...resource.Properties, Enabled: false };
    }
  }
  return template;
};
