import { CfnResource } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import { LOCAL_METADATA_KEY, type LocalMetadata } from './resources.ts';

/**
 * Tags a construct's CloudFormation resource with what the local runtime needs
 * to run it from the synthesized template (lib/resources.ts LOCAL_METADATA_KEY).
 * CloudFormation ignores resource metadata, so the deployed stack is unchanged.
 */
export const markForLocalRuntime = (construct: IConstruct, metadata: LocalMetadata): void => {
  const resource = construct.node.defaultChild;
  if (!(resource instanceof CfnResource)) {
    throw new Error(`${construct.node.path} has no CloudFormation resource to mark`);
  }
  resource.addMetadata(LOCAL_METADATA_KEY, metadata);
};
