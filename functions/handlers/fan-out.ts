import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { SQSClient } from '@aws-sdk/client-sqs';
import middy from '@middy/core';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { createDocumentClient } from '../commons/clients.ts';
import { requireEnv } from '../commons/config.ts';
import { deliverySettings } from '../commons/delivery-settings.ts';
import { isolationSettings, tenantShareSettings } from '../commons/isolation-settings.ts';
import { logger } from '../commons/logger.ts';
import { METRICS, MetricUnit, metrics } from '../commons/metrics.ts';
import { FanOut, SHARE_SLOT_ATTRIBUTE, type TenantShares } from '../domain/delivery/fan-out.ts';
import { queuedJob } from '../domain/delivery/jobs.ts';
import { errorSummary } from '../domain/errors.ts';
import { deferEvents, rejectEvents, SqsJobQueue } from '../queues/sqs.ts';
import { DeliveryRepository } from '../repositories/deliveries.ts';
import { TenantShareRepository } from '../repositories/tenant-shares.ts';
import { WebhookRepository } from '../repositories/webhooks.ts';
import { batchResponse, logTo, messagesOf } from './sqs-batch.ts';

/** Producers' events (the webhook-events queue) → delivery jobs (the webhook-deliveries queue). */

export const createFanOutHandler =
  (fanOut: FanOut) =>
  async (event: SQSEvent): Promise<SQSBatchResponse> => {
    const result = await fanOut.process(messagesOf(event));
    logger.info('Fan-out batch', {
      events: event.Records.length,
      jobs: result.jobs,
      rejected: result.rejected,
      deferred: result.deferred,
      held: result.held,
      redelivered: result.failures.length,
    });
    for (const matched of result.matches) {
      metrics.addMetric(METRICS.fanOutMatches, MetricUnit.Count, matched);
    }
    if (result.rejected > 0) {
      metrics.addMetric(METRICS.eventsRejected, MetricUnit.Count, result.rejected);
    }
    return batchResponse(result.failures);
  };

const settings = deliverySettings();
const db = createDocumentClient();
const sqs = new SQSClient({});
const webhooks = new WebhookRepository(db, settings.tableName, (error) =>
  logger.error('A stored webhook is unreadable; it receives no deliveries', {
    error: errorSummary(error),
  }),
);
const deliveries = new DeliveryRepository(db, settings.deliveriesTableName, settings.retentionMs);
const jobs = new SqsJobQueue(
  sqs,
  requireEnv('DELIVERIES_QUEUE_URL'),
  requireEnv('DELIVERIES_DLQ_URL'),
  process.env.DELIVERIES_OVERFLOW_QUEUE_URL || undefined,
);
const eventsDeadLetterUrl = requireEnv('EVENTS_DLQ_URL');
const share = tenantShareSettings();
// Events waiting for their tenant's share go back to the queue they came from.
const shares = share && {
  share,
  store: new TenantShareRepository(db, settings.deliveriesTableName),
  defer: (waiting: Parameters<TenantShares['defer']>[0]) =>
    deferEvents(sqs, requireEnv('EVENTS_QUEUE_URL'), SHARE_SLOT_ATTRIBUTE, waiting),
};

const fanOut = new FanOut(
  {
    webhooksOf: (tenant) => webhooks.listByTenant(tenant),
    ledger: deliveries,
    enqueue: (list) => {
      const nowMs = Date.now();
      return jobs.send(
        list.map(({ job, lane, dueAtMs }) => ({
          ...queuedJob(job, dueAtMs ?? nowMs, nowMs),
          lane,
        })),
      );
    },
    reject: (rejected) => rejectEvents(sqs, eventsDeadLetterUrl, rejected),
    shares,
    holds: deliveries,
  },
  { log: logTo(logger), isolation: isolationSettings() },
);

export const handler = middy<SQSEvent, SQSBatchResponse>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics))
  .handler(createFanOutHandler(fanOut));
