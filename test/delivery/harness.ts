import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import * as v from 'valibot';
import { createDocumentClient } from '../../functions/commons/clients.ts';
import { HttpSender } from '../../functions/delivery/http-sender.ts';
import type { BatchMetrics } from '../../functions/domain/delivery/batch-metrics.ts';
import { deliveryIdFor } from '../../functions/domain/delivery/ids.ts';
import type { DeliveryJob } from '../../functions/domain/delivery/jobs.ts';
import type { QueueMessage } from '../../functions/domain/delivery/model.ts';
import type { DeliveryStore, JobQueue } from '../../functions/domain/delivery/ports.ts';
import { DeliveryWorker, type WorkerDependencies } from '../../functions/domain/delivery/worker.ts';
import { type WebhookRecord, webhookConfigSchema } from '../../functions/domain/webhooks/schema.ts';
import { newWebhook } from '../../functions/domain/webhooks/webhook.ts';
import { AnalyticsRepository } from '../../functions/repositories/analytics.ts';
import { DeliveryRepository } from '../../functions/repositories/deliveries.ts';
import { RateLimitRepository } from '../../functions/repositories/rate-limits.ts';
import { WebhookRepository } from '../../functions/repositories/webhooks.ts';
import { ANALYTICS_TABLE, CONFIG_TABLE, DELIVERIES_TABLE } from '../../lib/resources.ts';
import { type RunningEmulator, startDynamoDb } from '../../local/emulators.ts';
import { ensureTable } from '../../local/provision.ts';
import type { TestReceiver } from '../support/receiver.ts';
import { stackModelForTests } from '../support/stack.ts';

/**
 * The delivery worker against the real repositories on dynalite and a real
 * HTTP receiver, with the queue and the clock in the test's hands: each
 * "redelivery" in a test is what SQS would do.
 */

export const TENANT = 'acme';
export const HOUR = 3_600_000;
const START = Date.parse('2026-03-01T12:00:00Z');
const RETENTION_MS = 30 * 24 * HOUR;

export class RecordingQueue implements JobQueue {
  sent: { job: DeliveryJob; delaySeconds: number }[] = [];
  deadLetters: { job: DeliveryJob; reason: string }[] = [];
  /** Every job ever sent, for counting copies. */
  log: DeliveryJob[] = [];
  async send(jobs: readonly { job: DeliveryJob; delaySeconds: number }[]) {
    this.sent.push(...jobs);
    this.log.push(...jobs.map(({ job }) => job));
  }
  async deadLetter(entries: readonly { job: DeliveryJob; reason: string }[]) {
    this.deadLetters.push(...entries);
  }
  /** The jobs sent so far, as queue messages, and forget them. */
  take(): QueueMessage[] {
    const messages = this.sent.map(({ job }, index) => ({
      id: `m-${job.delivery_id}-${job.attempt}-${index}`,
      body: JSON.stringify(job),
    }));
    this.sent = [];
    return messages;
  }
}

type Ports = Pick<WorkerDependencies, 'store' | 'queue' | 'webhooks'>;

export interface Harness {
  processor: DeliveryWorker;
  /** Another worker on the same tables and queue (a fresh Lambda environment), ports optionally replaced. */
  newWorker(replace?: (ports: Ports) => Partial<Ports>): DeliveryWorker;
  queue: RecordingQueue;
  webhooks: WebhookRepository;
  deliveries: DeliveryRepository;
  analytics: AnalyticsRepository;
  /** What each batch published as metrics, in order. */
  metrics: BatchMetrics[];
  clock: { now: number };
}

export interface DynamoDbFixture {
  db: ReturnType<typeof createDocumentClient>;
  endpoint: string;
  sender: HttpSender;
  tableSuffix: number;
}

export const startFixture = async (): Promise<{
  fixture: DynamoDbFixture;
  stop: () => Promise<void>;
}> => {
  const dynamo: RunningEmulator = await startDynamoDb({ port: 0, host: '127.0.0.1' });
  const fixture: DynamoDbFixture = {
    db: createDocumentClient(
      new DynamoDBClient({
        endpoint: dynamo.endpoint,
        region: 'us-east-1',
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      }),
    ),
    endpoint: dynamo.endpoint,
    sender: new HttpSender({ allowPrivateTargets: true }),
    tableSuffix: 0,
  };
  return {
    fixture,
    stop: async () => {
      await fixture.sender.close();
      await dynamo.stop();
    },
  };
};

export interface HarnessOptions {
  /** Wraps the worker's ports, e.g. to make one fail or hang. */
  wrap?: (
    ports: Pick<WorkerDependencies, 'store' | 'queue' | 'webhooks'>,
  ) => Partial<Pick<WorkerDependencies, 'store' | 'queue' | 'webhooks'>>;
  store?: (deliveries: DeliveryRepository) => DeliveryStore;
}

export const harness = async (
  fixture: DynamoDbFixture,
  options: HarnessOptions = {},
): Promise<Harness> => {
  fixture.tableSuffix += 1;
  const configTable = `config-${fixture.tableSuffix}`;
  const deliveriesTable = `deliveries-${fixture.tableSuffix}`;
  const analyticsTable = `analytics-${fixture.tableSuffix}`;
  const raw = new DynamoDBClient({
    endpoint: fixture.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  // The stack's own table definitions, under names of this test's.
  const renamed: Record<string, string> = {
    [CONFIG_TABLE.localName]: configTable,
    [DELIVERIES_TABLE.localName]: deliveriesTable,
    [ANALYTICS_TABLE.localName]: analyticsTable,
  };
  for (const table of (await stackModelForTests()).tables) {
    await ensureTable(raw, { ...table, name: renamed[table.name] ?? table.name });
  }
  const clock = { now: START };
  const queue = new RecordingQueue();
  const webhooks = new WebhookRepository(fixture.db, configTable);
  const deliveries = new DeliveryRepository(
    fixture.db,
    deliveriesTable,
    RETENTION_MS,
    () => clock.now,
  );
  const analytics = new AnalyticsRepository(fixture.db, analyticsTable, 13);
  const metrics: BatchMetrics[] = [];
  const ports: Ports = { store: options.store?.(deliveries) ?? deliveries, queue, webhooks };
  const newWorker = (replace?: (ports: Ports) => Partial<Ports>) =>
    new DeliveryWorker(
      {
        sender: fixture.sender,
        tokens: { token: async () => 'unused', invalidate: () => undefined },
        userAgent: 'test',
        ...ports,
        ...replace?.(ports),
        rateLimiter: new RateLimitRepository(fixture.db, deliveriesTable),
        analytics,
        metrics: { publish: (batch) => metrics.push(batch) },
      },
      {
        autoDisableAfterMs: 24 * HOUR,
        retentionMs: RETENTION_MS,
        staleAttemptMs: 90_000,
        now: () => new Date(clock.now),
        random: () => 0.5,
        sleep: async (ms) => {
          clock.now += ms;
        },
      },
    );
  return {
    processor: newWorker(),
    newWorker,
    queue,
    webhooks,
    deliveries,
    analytics,
    metrics,
    clock,
  };
};

export const createWebhook = async (
  h: Harness,
  receiver: TestReceiver,
  config: Record<string, unknown> = {},
): Promise<WebhookRecord> => {
  const webhook = newWebhook(
    TENANT,
    v.parse(webhookConfigSchema, {
      name: 'hook',
      url: receiver.url,
      event_types: ['ticket.created'],
      ...config,
    }),
    { webhookId: crypto.randomUUID(), now: new Date(h.clock.now) },
  );
  await h.webhooks.create(webhook);
  return webhook;
};

export const jobFor = (webhookId: string, eventId = crypto.randomUUID()): DeliveryJob => ({
  delivery_id: deliveryIdFor(TENANT, eventId, webhookId, START),
  tenant: TENANT,
  webhook_id: webhookId,
  attempt: 1,
  event: {
    event_id: eventId,
    event_type: 'ticket.created',
    tenant_id: TENANT,
    occurred_at: '2026-03-01T11:59:59.000Z',
    entity_type: 'ticket',
    data: { id: 't-1', title: 'Printer on fire' },
  },
});

export const message = (job: DeliveryJob, id = `m-${job.attempt}`): QueueMessage => ({
  id,
  body: JSON.stringify(job),
});

/** "<delivery id>#<attempt>" of every request the receiver got, in order. */
export const attemptHeaders = (receiver: TestReceiver) =>
  receiver.requests.map(
    (request) =>
      `${request.headers['x-alga-delivery-id']}#${request.headers['x-alga-delivery-attempt']}`,
  );
