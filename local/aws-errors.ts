import { randomBytes, randomUUID } from 'node:crypto';

/**
 * Errors as DynamoDB and SQS put them on the wire (AWS JSON 1.0), so that the
 * real SDK v3 clients behind the local gate see the `name`, status and message
 * they would see on AWS. What decides the SDK's view (read in
 * @aws-sdk/core/protocols, AwsJsonRpcProtocol.handleError and ProtocolLib):
 *
 * - DynamoDB: the code is `__type` after its `#`. An unmodelled code
 *   (AccessDeniedException, ValidationException) becomes a
 *   DynamoDBServiceException whose `name` is that code.
 * - SQS is `awsQueryCompatible`: the SDK takes the code from the
 *   `x-amzn-query-error: <Code>;<Sender|Receiver>` header before `__type`, then
 *   looks for a modelled error whose `awsQueryError` code matches. So
 *   `AWS.SimpleQueueService.TooManyEntriesInBatchRequest` surfaces as the
 *   modelled `TooManyEntriesInBatchRequest`, while an unmodelled code such as
 *   `AccessDenied` or `InvalidParameterValue` surfaces under the header's code
 *   itself. Without the header the SDK would say `AccessDeniedException`, which
 *   code written against AWS does not expect.
 *
 * The SDK reads the message from `message` or `Message`. AWS's front layer
 * (the `com.amazon.coral.service` namespace) spells it `Message`, service
 * errors `message`; we copy that for fidelity with raw-body readers.
 */

export type AwsService = 'dynamodb' | 'sqs';

export interface AwsError {
  /** The HTTP status AWS answers with. */
  status: number;
  /**
   * The code a client names the error by: `__type`'s shape for DynamoDB,
   * the `x-amzn-query-error` code for SQS.
   */
  code: string;
  message: string;
}

/**
 * The errors the gate produces, with the status and shape AWS gives each.
 *
 * Evidence, short of calling AWS from here:
 * - DynamoDB AccessDeniedException: 400 with
 *   `{"__type":"com.amazon.coral.service#AccessDeniedException","Message":"User: … is not
 *   authorized to perform: dynamodb:PutItem on resource: …"}` in captured AWS
 *   answers; DynamoDB's error guide lists it among the 400s.
 * - SQS AccessDenied over JSON: 403, `x-amzn-query-error: AccessDenied;Sender`,
 *   the same coral `__type`; measured and published by the Floci project
 *   (docs, resource-policy design, 2026), and matching the 403 SQS has always
 *   given over the Query protocol. The AWS SDKs for Go and .NET test exactly
 *   this header against an `AccessDeniedException` body and expect the code
 *   `AccessDenied`.
 * - SQS InvalidParameterValue: 400, header `InvalidParameterValue;Sender`;
 *   LocalStack notes AWS sends the coral `InvalidParameterValueException`
 *   shape. The SDK names it after the header, so the shape is cosmetic.
 * - SQS batch errors: status and header code from the SQS model's
 *   `awsQueryError` traits (client-sqs's schemas), shapes under `com.amazonaws.sqs`.
 * - DynamoDB ValidationException: `com.amazon.coral.validate`, 400, as DynamoDB
 *   answers (and dynalite, which copies DynamoDB's answers, too).
 */
const ERRORS = {
  dynamodb: {
    AccessDeniedException: { status: 400, type: 'com.amazon.coral.service#AccessDeniedException' },
    ValidationException: { status: 400, type: 'com.amazon.coral.validate#ValidationException' },
  },
  sqs: {
    AccessDenied: { status: 403, type: 'com.amazon.coral.service#AccessDeniedException' },
    InvalidParameterValue: {
      status: 400,
      type: 'com.amazon.coral.service#InvalidParameterValueException',
    },
    'AWS.SimpleQueueService.TooManyEntriesInBatchRequest': {
      status: 400,
      type: 'com.amazonaws.sqs#TooManyEntriesInBatchRequest',
    },
    'AWS.SimpleQueueService.BatchRequestTooLong': {
      status: 400,
      type: 'com.amazonaws.sqs#BatchRequestTooLong',
    },
  },
} as const;

export const dynamoDbError = (code: keyof typeof ERRORS.dynamodb, message: string): AwsError => ({
  status: ERRORS.dynamodb[code].status,
  code,
  message,
});

export const sqsError = (code: keyof typeof ERRORS.sqs, message: string): AwsError => ({
  status: ERRORS.sqs[code].status,
  code,
  message,
});

/**
 * The `__type` for a code. A code outside the catalogue (the gate's own
 * `InternalFailure`, say) gets a shape in the service's namespace: the SDK
 * names it after the code either way.
 */
const wireType = (service: AwsService, code: string): string => {
  const known: Partial<Record<string, { type: string }>> = ERRORS[service];
  return (
    known[code]?.type ??
    (service === 'sqs' ? `com.amazonaws.sqs#${code}` : `com.amazonaws.dynamodb.v20120810#${code}`)
  );
};

/**
 * The refusal IAM gives a principal no identity policy allows. SQS spells the
 * action in lower case in its message (`sqs:sendmessage`), as AWS answers
 * captured in aws/serverless-application-model#3633 and microsoft/aspire#3333
 * show; DynamoDB keeps the action's case.
 */
export const accessDenied = (
  service: AwsService,
  request: { principalArn: string; action: string; resource: string },
): AwsError => {
  const action = service === 'sqs' ? request.action.toLowerCase() : request.action;
  const message =
    `User: ${request.principalArn} is not authorized to perform: ${action} ` +
    `on resource: ${request.resource} because no identity-based policy allows the ${action} action`;
  return service === 'sqs'
    ? sqsError('AccessDenied', message)
    : dynamoDbError('AccessDeniedException', message);
};

export interface AwsHttpAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** DynamoDB's request ids are 52 characters of upper-case base32; SQS's are UUIDs. */
export const newRequestId = (service: AwsService): string =>
  service === 'sqs'
    ? randomUUID()
    : Array.from(randomBytes(52), (byte) => BASE32[byte % 32]).join('');

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export const encodeAwsError = (
  service: AwsService,
  error: AwsError,
  requestId: string = newRequestId(service),
): AwsHttpAnswer => {
  const type = wireType(service, error.code);
  const messageKey = type.startsWith('com.amazon.coral.service#') ? 'Message' : 'message';
  const headers: Record<string, string> = {
    'content-type': 'application/x-amz-json-1.0',
    'x-amzn-requestid': requestId,
  };
  if (service === 'sqs') {
    headers['x-amzn-query-error'] = `${error.code};${error.status < 500 ? 'Sender' : 'Receiver'}`;
  }
  return {
    status: error.status,
    headers,
    body: JSON.stringify({ __type: type, [messageKey]: error.message }),
  };
};
