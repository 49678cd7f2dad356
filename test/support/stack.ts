import { readStackModel, type StackModel } from '../../local/stack-model.ts';
import { synthesizeStack } from '../../local/template.ts';

/** The default stack as the local runtime reads it (synthesized once, then cached). */
export const stackModelForTests = async (
  context: Record<string, unknown> = {},
): Promise<StackModel> => {
  const { stackName, template } = await synthesizeStack(context);
  return readStackModel(stackName, template, { region: 'us-east-1' });
};
