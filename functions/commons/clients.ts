import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/**
 * SDK clients, created once per execution environment and reused across
 * invocations. Endpoints come from the SDK's own settings (AWS_ENDPOINT_URL,
 * AWS_ENDPOINT_URL_DYNAMODB, ...), which is how the local runtime points the
 * same code at its emulators or at LocalStack.
 */
export const createDocumentClient = (client = new DynamoDBClient({})): DynamoDBDocumentClient =>
  DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
