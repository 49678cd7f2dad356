import { type Stack, Validations } from 'aws-cdk-lib';

/**
 * cdk-nag AWS Solutions findings the stack accepts, each with its reason.
 * Anything not acknowledged here (or next to the construct it concerns) fails
 * `cdk synth`.
 */
const STACK_WIDE = [
  {
    id: 'AwsSolutions::AwsSolutions-COG4',
    reason:
      'The API authenticates with per-tenant API keys (X-API-Key), as the public webhook API it follows; a Lambda REQUEST authorizer checks them.',
  },
  {
    id: 'AwsSolutions::AwsSolutions-APIG2',
    reason:
      'Every request is validated by the API function against valibot schemas, which answer in the contract error envelope with per-field details; an API Gateway validator could do neither.',
  },
  {
    id: 'AwsSolutions::AwsSolutions-APIG3',
    reason:
      'WAF web ACLs are account policy and cost money per ACL; attach one to the stage where the deployment wants it (docs/operations.md).',
  },
  {
    id: 'AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
    reason:
      'The account-wide role API Gateway uses for execution logs; this AWS policy is the documented way to grant it.',
  },
];

export const acknowledgeNagFindings = (stack: Stack): void => {
  for (const finding of STACK_WIDE) Validations.of(stack).acknowledge(finding);
};
