import * as v from 'valibot';
import { type AwsError, type AwsService, dynamoDbError, sqsError } from './aws-errors.ts';

/**
 * The request limits AWS enforces and the local emulators may not, checked on
 * the request as the SDK sends it (AWS JSON 1.0), with the code and message
 * AWS answers. A body this module cannot read is left for the emulator to
 * refuse. Sources: the DynamoDB and SQS quotas pages and API references;
 * messages from AWS answers quoted in public issues (aws-samples,
 * awslabs/amazon-sqs-python-extended-client-lib#25, vinyldns#347,
 * aws/aws-sdk-java#197) and from a conformance suite run against AWS
 * (paritysuite/dynamodb-conformance).
 */

export const AWS_LIMITS = {
  dynamodb: {
    /** 400 KB, exactly: an item of 409,600 bytes is stored, one byte more refused. */
    maxItemBytes: 409_600,
    maxBatchWriteRequests: 25,
    maxBatchGetKeys: 100,
    /** Raised from 25 in September 2022. */
    maxTransactItems: 100,
  },
  sqs: {
    maxBatchEntries: 10,
    /**
     * 1 MiB since August 2025, for one message (body plus attributes) and for a
     * whole SendMessageBatch. It is also the default MaximumMessageSize of a
     * queue, which our stack leaves as it is.
     */
    maxMessageBytes: 1_048_576,
    maxDelaySeconds: 900,
    maxReceiveMessages: 10,
    maxVisibilityTimeoutSeconds: 43_200,
  },
} as const;

export const limitError = (
  service: AwsService,
  operation: string,
  body: unknown,
): AwsError | undefined =>
  service === 'dynamodb' ? dynamoDbLimitError(operation, body) : sqsLimitError(operation, body);

// ---------------------------------------------------------------- DynamoDB --

interface AttributeValue {
  S?: string | undefined;
  N?: string | undefined;
  B?: string | undefined;
  BOOL?: boolean | undefined;
  NULL?: boolean | undefined;
  SS?: string[] | undefined;
  NS?: string[] | undefined;
  BS?: string[] | undefined;
  L?: AttributeValue[] | undefined;
  M?: Record<string, AttributeValue> | undefined;
}

const attributeValue: v.GenericSchema<AttributeValue> = v.object({
  S: v.optional(v.string()),
  N: v.optional(v.string()),
  B: v.optional(v.string()),
  BOOL: v.optional(v.boolean()),
  NULL: v.optional(v.boolean()),
  SS: v.optional(v.array(v.string())),
  NS: v.optional(v.array(v.string())),
  BS: v.optional(v.array(v.string())),
  L: v.optional(v.array(v.lazy(() => attributeValue))),
  M: v.optional(
    v.record(
      v.string(),
      v.lazy(() => attributeValue),
    ),
  ),
});

const item = v.record(v.string(), attributeValue);
type Item = v.InferOutput<typeof item>;

const putItemRequest = v.object({ Item: item });

const batchWriteItemRequest = v.object({
  RequestItems: v.record(
    v.string(),
    v.array(v.object({ PutRequest: v.optional(v.object({ Item: item })) })),
  ),
});

const batchGetItemRequest = v.object({
  RequestItems: v.record(v.string(), v.object({ Keys: v.array(v.unknown()) })),
});

const transactWriteItemsRequest = v.object({
  TransactItems: v.array(v.object({ Put: v.optional(v.object({ Item: item })) })),
});

const dynamoDbLimitError = (operation: string, body: unknown): AwsError | undefined => {
  switch (operation) {
    case 'PutItem': {
      const request = v.safeParse(putItemRequest, body);
      return request.success ? itemTooLarge([request.output.Item]) : undefined;
    }
    case 'BatchWriteItem': {
      const request = v.safeParse(batchWriteItemRequest, body);
      if (!request.success) return undefined;
      const tables = Object.entries(request.output.RequestItems);
      const { maxBatchWriteRequests } = AWS_LIMITS.dynamodb;
      if (tables.some(([, requests]) => requests.length > maxBatchWriteRequests)) {
        return validation(
          'requestItems',
          `Map value must satisfy constraint: [Member must have length less than or equal to ${maxBatchWriteRequests}, Member must have length greater than or equal to 1]`,
        );
      }
      const requests = tables.flatMap(([, requests]) => requests);
      if (requests.length > maxBatchWriteRequests) {
        return dynamoDbError(
          'ValidationException',
          'Too many items requested for the BatchWriteItem call',
        );
      }
      return itemTooLarge(
        requests.flatMap(({ PutRequest }) => (PutRequest ? [PutRequest.Item] : [])),
      );
    }
    case 'BatchGetItem': {
      const request = v.safeParse(batchGetItemRequest, body);
      if (!request.success) return undefined;
      const tables = Object.entries(request.output.RequestItems);
      const { maxBatchGetKeys } = AWS_LIMITS.dynamodb;
      const crowded = tables.find(([, { Keys }]) => Keys.length > maxBatchGetKeys);
      if (crowded) {
        return validation(
          `requestItems.${crowded[0]}.member.keys`,
          `Member must have length less than or equal to ${maxBatchGetKeys}`,
        );
      }
      const keys = tables.reduce((sum, [, { Keys }]) => sum + Keys.length, 0);
      return keys > maxBatchGetKeys
        ? dynamoDbError('ValidationException', 'Too many items requested for the BatchGetItem call')
        : undefined;
    }
    case 'TransactWriteItems': {
      const request = v.safeParse(transactWriteItemsRequest, body);
      if (!request.success) return undefined;
      const actions = request.output.TransactItems;
      const { maxTransactItems } = AWS_LIMITS.dynamodb;
      if (actions.length > maxTransactItems) {
        return validation(
          'transactItems',
          `Member must have length less than or equal to ${maxTransactItems}`,
        );
      }
      // A Put's size is known from the request, so AWS refuses it before the
      // transaction starts: a plain ValidationException, not a cancellation.
      return itemTooLarge(actions.flatMap(({ Put }) => (Put ? [Put.Item] : [])));
    }
    // UpdateItem (and an Update inside a transaction) cannot be sized here: the
    // item it writes is the stored item with the update applied, and AWS sizes
    // UpdateItem by rules of its own. The emulator holds the stored item.
    default:
      return undefined;
  }
};

/**
 * AWS's syntactic validation answer. AWS also quotes the rejected value, as
 * Java prints it (`Value '{T=[com.amazonaws…WriteRequest@5f1c…]}' at …`),
 * which cannot be reproduced and is left out.
 */
const validation = (path: string, constraint: string): AwsError =>
  dynamoDbError(
    'ValidationException',
    `1 validation error detected: Value at '${path}' failed to satisfy constraint: ${constraint}`,
  );

const itemTooLarge = (items: Item[]): AwsError | undefined =>
  items.some((candidate) => itemBytes(candidate) > AWS_LIMITS.dynamodb.maxItemBytes)
    ? dynamoDbError('ValidationException', 'Item size has exceeded the maximum allowed size')
    : undefined;

/**
 * An item's size as DynamoDB counts it ("Item sizes and formats" in the
 * developer guide): each attribute's name in UTF-8 plus its value, where a
 * string is its UTF-8 bytes, a binary its decoded bytes, a boolean or null one
 * byte, a set the sum of its members, and a list or map 3 bytes plus, per
 * element, 1 byte and the element's size (a map element's name included).
 *
 * Numbers are the approximation: the guide gives one byte per two significant
 * digits plus one; DynamoDB's stored form can take a byte more for a negative
 * number or an odd alignment of the decimal point (dynalite, which measured
 * it through consumed capacity, counts those). An item at the limit made
 * mostly of numbers may therefore be judged a byte or two short.
 */
export const itemBytes = (attributes: Item): number =>
  Object.entries(attributes).reduce(
    (sum, [name, value]) => sum + Buffer.byteLength(name) + valueBytes(value),
    0,
  );

const valueBytes = (value: AttributeValue): number => {
  if (value.S !== undefined) return Buffer.byteLength(value.S);
  if (value.N !== undefined) return numberBytes(value.N);
  if (value.B !== undefined) return Buffer.byteLength(value.B, 'base64');
  if (value.BOOL !== undefined || value.NULL !== undefined) return 1;
  if (value.SS) return value.SS.reduce((sum, member) => sum + Buffer.byteLength(member), 0);
  if (value.NS) return value.NS.reduce((sum, member) => sum + numberBytes(member), 0);
  if (value.BS) {
    return value.BS.reduce((sum, member) => sum + Buffer.byteLength(member, 'base64'), 0);
  }
  if (value.L) return value.L.reduce((sum, element) => sum + 1 + valueBytes(element), 3);
  if (value.M) return 3 + Object.keys(value.M).length + itemBytes(value.M);
  return 0;
};

const numberBytes = (text: string): number => {
  const digits = text
    .replace(/e.*$/i, '')
    .replace(/[^0-9]/g, '')
    .replace(/^0+|0+$/g, '');
  return Math.ceil(Math.max(digits.length, 1) / 2) + 1;
};

// --------------------------------------------------------------------- SQS --

const messageAttributes = v.optional(
  v.record(
    v.string(),
    v.object({
      DataType: v.string(),
      StringValue: v.optional(v.string()),
      BinaryValue: v.optional(v.string()),
    }),
  ),
);

const message = v.object({
  MessageBody: v.string(),
  MessageAttributes: messageAttributes,
  DelaySeconds: v.optional(v.number()),
});

const batch = v.object({ Entries: v.array(v.unknown()) });

const sendMessageBatchRequest = v.object({
  Entries: v.array(v.object({ MessageBody: v.string(), MessageAttributes: messageAttributes })),
});

const receiveMessageRequest = v.object({
  MaxNumberOfMessages: v.optional(v.number()),
  VisibilityTimeout: v.optional(v.number()),
});

const changeMessageVisibilityRequest = v.object({ VisibilityTimeout: v.number() });

const sqsLimitError = (operation: string, body: unknown): AwsError | undefined => {
  const { maxMessageBytes } = AWS_LIMITS.sqs;
  switch (operation) {
    case 'SendMessage': {
      const request = v.safeParse(message, body);
      if (!request.success) return undefined;
      const delay = delayError(request.output.DelaySeconds);
      if (delay) return sqsError('InvalidParameterValue', delay);
      return messageBytes(request.output) > maxMessageBytes
        ? sqsError(
            'InvalidParameterValue',
            `One or more parameters are invalid. Reason: Message must be shorter than ${maxMessageBytes} bytes.`,
          )
        : undefined;
    }
    case 'SendMessageBatch': {
      const tooMany = tooManyEntries(body);
      if (tooMany) return tooMany;
      const request = v.safeParse(sendMessageBatchRequest, body);
      if (!request.success) return undefined;
      const bytes = request.output.Entries.reduce((sum, entry) => sum + messageBytes(entry), 0);
      return bytes > maxMessageBytes
        ? sqsError(
            'AWS.SimpleQueueService.BatchRequestTooLong',
            `Batch requests cannot be longer than ${maxMessageBytes} bytes. You have sent ${bytes} bytes.`,
          )
        : undefined;
    }
    case 'DeleteMessageBatch':
    case 'ChangeMessageVisibilityBatch':
      return tooManyEntries(body);
    case 'ReceiveMessage': {
      const request = v.safeParse(receiveMessageRequest, body);
      if (!request.success) return undefined;
      const { MaxNumberOfMessages: count, VisibilityTimeout: timeout } = request.output;
      const { maxReceiveMessages } = AWS_LIMITS.sqs;
      if (count !== undefined && (count < 1 || count > maxReceiveMessages)) {
        return sqsError(
          'InvalidParameterValue',
          `Value ${count} for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and ${maxReceiveMessages}, if provided.`,
        );
      }
      const visibility = visibilityError(timeout);
      return visibility ? sqsError('InvalidParameterValue', visibility) : undefined;
    }
    case 'ChangeMessageVisibility': {
      // AWS also refuses a timeout that takes the message past 12 hours since
      // it was received; that depends on the message, so the emulator decides.
      const request = v.safeParse(changeMessageVisibilityRequest, body);
      const visibility = request.success
        ? visibilityError(request.output.VisibilityTimeout)
        : undefined;
      return visibility ? sqsError('InvalidParameterValue', visibility) : undefined;
    }
    default:
      return undefined;
  }
};

const tooManyEntries = (body: unknown): AwsError | undefined => {
  const request = v.safeParse(batch, body);
  const { maxBatchEntries } = AWS_LIMITS.sqs;
  return request.success && request.output.Entries.length > maxBatchEntries
    ? sqsError(
        'AWS.SimpleQueueService.TooManyEntriesInBatchRequest',
        `Maximum number of entries per request are ${maxBatchEntries}. You have sent ${request.output.Entries.length}.`,
      )
    : undefined;
};

const delayError = (delay: number | undefined): string | undefined => {
  const { maxDelaySeconds } = AWS_LIMITS.sqs;
  return delay !== undefined && (delay < 0 || delay > maxDelaySeconds)
    ? `Value ${delay} for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= ${maxDelaySeconds}.`
    : undefined;
};

/** Worded as AWS words ReceiveMessage's; ChangeMessageVisibility's wording is not on record. */
const visibilityError = (timeout: number | undefined): string | undefined => {
  const { maxVisibilityTimeoutSeconds } = AWS_LIMITS.sqs;
  return timeout !== undefined && (timeout < 0 || timeout > maxVisibilityTimeoutSeconds)
    ? `Value ${timeout} for parameter VisibilityTimeout is invalid. Reason: Must be >= 0 and <= ${maxVisibilityTimeoutSeconds}, if provided.`
    : undefined;
};

/**
 * A message's size as SQS counts it: the body in UTF-8 plus, per attribute,
 * its name, its data type and its value (a binary value decoded from base64).
 * A body of exactly the maximum with no attributes is accepted.
 */
export const messageBytes = (entry: {
  MessageBody: string;
  MessageAttributes?:
    | Record<
        string,
        { DataType: string; StringValue?: string | undefined; BinaryValue?: string | undefined }
      >
    | undefined;
}): number =>
  Object.entries(entry.MessageAttributes ?? {}).reduce(
    (sum, [name, attribute]) =>
      sum +
      Buffer.byteLength(name) +
      Buffer.byteLength(attribute.DataType) +
      Buffer.byteLength(attribute.StringValue ?? '') +
      Buffer.byteLength(attribute.BinaryValue ?? '', 'base64'),
    Buffer.byteLength(entry.MessageBody),
  );

/**
 * A batch entry AWS refuses on its own: the request succeeds (200) and the
 * entry comes back in `Failed`, the other entries being processed (moto#5372
 * and aws-sdk-ruby#265 quote AWS's answer). Meaningful once `limitError` has
 * let the request through; the gate then answers these entries itself and
 * forwards the rest.
 */
export interface BatchEntryFailure {
  Id: string;
  SenderFault: true;
  Code: 'InvalidParameterValue';
  Message: string;
}

const delayedEntries = v.object({
  Entries: v.array(v.object({ Id: v.string(), DelaySeconds: v.optional(v.number()) })),
});

const visibilityEntries = v.object({
  Entries: v.array(v.object({ Id: v.string(), VisibilityTimeout: v.optional(v.number()) })),
});

export const batchEntryFailures = (
  service: AwsService,
  operation: string,
  body: unknown,
): BatchEntryFailure[] => {
  if (service !== 'sqs') return [];
  const failed = (Id: string, Message: string | undefined): BatchEntryFailure[] =>
    Message ? [{ Id, SenderFault: true, Code: 'InvalidParameterValue', Message }] : [];
  if (operation === 'SendMessageBatch') {
    const request = v.safeParse(delayedEntries, body);
    return request.success
      ? request.output.Entries.flatMap((entry) => failed(entry.Id, delayError(entry.DelaySeconds)))
      : [];
  }
  if (operation === 'ChangeMessageVisibilityBatch') {
    const request = v.safeParse(visibilityEntries, body);
    return request.success
      ? request.output.Entries.flatMap((entry) =>
          failed(entry.Id, visibilityError(entry.VisibilityTimeout)),
        )
      : [];
  }
  return [];
};
