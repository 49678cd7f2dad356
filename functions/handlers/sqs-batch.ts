import type { Logger } from '@aws-lambda-powertools/logger';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { QueueMessage } from '../domain/delivery/model.ts';

/** Lambda's SQS batch shape in and out: messages by id, failures reported one by one. */

export const messagesOf = (event: SQSEvent): QueueMessage[] =>
  event.Records.map((record) => {
    const sentAt = Number(record.attributes.SentTimestamp);
    const attributes = Object.entries(record.messageAttributes ?? {}).flatMap(([name, value]) =>
      value.stringValue === undefined ? [] : [[name, value.stringValue] as const],
    );
    return {
      id: record.messageId,
      body: record.body,
      ...(Number.isFinite(sentAt) && sentAt > 0 ? { sentAt } : {}),
      ...(attributes.length > 0 ? { attributes: Object.fromEntries(attributes) } : {}),
    };
  });

export const batchResponse = (failedIds: readonly string[]): SQSBatchResponse => ({
  batchItemFailures: failedIds.map((itemIdentifier) => ({ itemIdentifier })),
});

/** The domain's log calls, on the function's structured logger. */
export const logTo =
  (logger: Logger) =>
  (level: 'info' | 'warn' | 'error', message: string, details?: Record<string, unknown>) =>
    logger[level](message, details ?? {});
