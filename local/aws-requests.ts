/**
 * What an AWS API call asks IAM for: the actions and resource ARNs that AWS
 * authorizes for one request of the JSON protocol (X-Amz-Target and body),
 * as the service authorization reference gives them. Batch calls are
 * authorized per table or by the single-message action; a transaction by the
 * action of each item.
 */

import type { AwsService } from './aws-errors.ts';

export type { AwsService };

export interface Access {
  action: string;
  resource: string;
}

interface Where {
  region: string;
  account: string;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const tableArn = (where: Where, table: unknown, index?: unknown) =>
  `arn:aws:dynamodb:${where.region}:${where.account}:table/${String(table)}${
    typeof index === 'string' ? `/index/${index}` : ''
  }`;

const TRANSACT_ACTIONS: Record<string, string> = {
  Put: 'PutItem',
  Update: 'UpdateItem',
  Delete: 'DeleteItem',
  ConditionCheck: 'ConditionCheckItem',
  Get: 'GetItem',
};

const dynamoDbAccess = (operation: string, body: Record<string, unknown>, where: Where) => {
  switch (operation) {
    case 'BatchGetItem':
    case 'BatchWriteItem':
      return Object.keys(isRecord(body.RequestItems) ? body.RequestItems : {}).map((table) => ({
        action: `dynamodb:${operation}`,
        resource: tableArn(where, table),
      }));
    case 'TransactWriteItems':
    case 'TransactGetItems':
      return (Array.isArray(body.TransactItems) ? body.TransactItems : []).flatMap((item) =>
        Object.entries(isRecord(item) ? item : {}).map(([kind, request]) => ({
          action: `dynamodb:${TRANSACT_ACTIONS[kind] ?? kind}`,
          resource: tableArn(where, isRecord(request) ? request.TableName : undefined),
        })),
      );
    case 'ListTables':
      return [{ action: 'dynamodb:ListTables', resource: '*' }];
    default:
      return [
        {
          action: `dynamodb:${operation}`,
          resource:
            body.TableName === undefined ? '*' : tableArn(where, body.TableName, body.IndexName),
        },
      ];
  }
};

/** Batch calls are authorized by their single-message action. */
const SQS_ACTIONS: Record<string, string> = {
  SendMessageBatch: 'SendMessage',
  DeleteMessageBatch: 'DeleteMessage',
  ChangeMessageVisibilityBatch: 'ChangeMessageVisibility',
};

/** A queue URL's last two segments are the account and the name. */
export const queueArnOfUrl = (url: string, where: Where): string => {
  const [name, account] = new URL(url).pathname.split('/').filter(Boolean).reverse();
  return `arn:aws:sqs:${where.region}:${account ?? where.account}:${name ?? ''}`;
};

const sqsAccess = (operation: string, body: Record<string, unknown>, where: Where) => {
  const action = `sqs:${SQS_ACTIONS[operation] ?? operation}`;
  if (typeof body.QueueUrl === 'string') {
    return [{ action, resource: queueArnOfUrl(body.QueueUrl, where) }];
  }
  if (typeof body.QueueName === 'string') {
    return [{ action, resource: `arn:aws:sqs:${where.region}:${where.account}:${body.QueueName}` }];
  }
  return [{ action, resource: '*' }];
};

export const requestedAccess = (
  service: AwsService,
  operation: string,
  body: unknown,
  where: Where,
): Access[] => {
  const request = isRecord(body) ? body : {};
  return service === 'dynamodb'
    ? dynamoDbAccess(operation, request, where)
    : sqsAccess(operation, request, where);
};

/** `DynamoDB_20120810.PutItem` → PutItem; `AmazonSQS.SendMessage` → SendMessage. */
export const operationOf = (target: string | undefined): string | undefined =>
  target?.slice(target.lastIndexOf('.') + 1) || undefined;

/** The key id in a SigV4 Authorization header: `... Credential=AKID/date/region/service/...`. */
export const accessKeyIdOf = (authorization: string | undefined): string | undefined =>
  /Credential=([^/,\s]+)\//.exec(authorization ?? '')?.[1];
