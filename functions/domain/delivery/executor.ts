import { deltasOf } from '../analytics/aggregate.ts';
import type { AnalyticsSink } from '../analytics/service.ts';
import { errorSummary } from '../errors.ts';
import { batchMetrics, isQuiet } from './batch-metrics.ts';
import {
  type AttemptTally,
  autoDisableReason,
  type Decision,
  type DeliveryPolicy,
  type Effect,
  summarize,
} from './decisions.ts';
import { queuedJob } from './jobs.ts';
import {
  type DeliveryMetrics,
  type DeliveryStore,
  type JobQueue,
  QueueSendError,
  type WebhookDirectory,
} from './ports.ts';

/**
 * Applies one batch's decisions, in this order, each step for the whole
 * batch before the next:
 *
 * 1. records: the finished attempts, written together;
 * 2. follow-ups and dead letters: the next jobs (and jobs put back to wait)
 *    and the copies of abandoned deliveries, side by side;
 * 3. webhook state and counters: 410 switch-offs, then one counter update
 *    per webhook, and auto-disable when its failure run is long enough;
 *    beside them the analytics aggregates, one update per webhook and hour
 *    and one per tenant and hour (test deliveries left out of both);
 * 4. the batch's metrics, once (bounded dimensions, test deliveries in).
 *
 * A decision's effects are applied only once its record is written, so
 * nothing follows an attempt that is not recorded. A message whose write or
 * follow-up fails is answered for redelivery; its claim is then refused, and
 * as the message that made the attempt it makes sure of the follow-ups again
 * (decisions.ts, refusedClaim). Counters and aggregates are bookkeeping: a
 * failure is logged, never answered with a redelivery that would count twice.
 */

export type Log = (
  level: 'info' | 'warn' | 'error',
  message: string,
  details?: Record<string, unknown>,
) => void;

export interface JobDecision {
  messageId: string;
  decision: Decision;
}

export interface ExecutorPorts {
  store: Pick<DeliveryStore, 'record'>;
  queue: JobQueue;
  webhooks: Pick<WebhookDirectory, 'recordStats' | 'disable'>;
  analytics: AnalyticsSink;
  metrics: DeliveryMetrics;
}

export interface ExecutorContext {
  now: () => Date;
  policy: DeliveryPolicy;
  log: Log;
}

type Owned<T extends Effect['type']> = Extract<Effect, { type: T }> & { messageId: string };

/** Answers the ids of the messages to redeliver. */
export const executeBatch = async (
  decisions: readonly JobDecision[],
  ports: ExecutorPorts,
  context: ExecutorContext,
): Promise<Set<string>> => {
  const failures = new Set<string>();
  const written = await writeRecords(decisions, ports, context, failures);
  const effects = written.flatMap(({ messageId, decision }) =>
    decision.effects.map((effect) => ({ ...effect, messageId })),
  );
  const ofType = <T extends Effect['type']>(type: T) =>
    effects.filter((effect): effect is Owned<T> => effect.type === type);

  await Promise.all([
    send('follow-up jobs', ofType('enqueue'), failures, context, (entries) => {
      const nowMs = context.now().getTime();
      return ports.queue.send(
        entries.map(({ job, dueAtMs, lane }) => ({
          ...queuedJob(job, dueAtMs, nowMs),
          ...(lane ? { lane } : {}),
        })),
      );
    }),
    send('dead letters', ofType('dead-letter'), failures, context, (entries) =>
      ports.queue.deadLetter(entries.map(({ job, reason }) => ({ job, reason }))),
    ),
  ]);

  const gone = await Promise.all(
    ofType('disable-webhook').map(async (effect) => {
      const { tenant, webhookId, at, reason } = effect;
      const done = await disable(ports, context, tenant, webhookId, at, reason);
      // The attempt is recorded: its message comes back and switches the webhook off again.
      if (done === 'failed') failures.add(effect.messageId);
      return done;
    }),
  );
  const observed = ofType('observe');
  const [failing] = await Promise.all([
    updateCounters(ofType('count'), ports, context),
    addAggregates(
      observed.filter(({ test }) => !test),
      ports,
      context,
    ),
  ]);
  const metrics = batchMetrics(
    observed.map(({ observation }) => observation),
    ofType('rate-limit-wait').length,
    [...gone, ...failing].filter((done) => done === 'switched').length,
  );
  if (!isQuiet(metrics)) ports.metrics.publish(metrics);
  return failures;
};

/** Step 1. Answers the decisions whose write succeeded, or that had none. */
const writeRecords = async (
  decisions: readonly JobDecision[],
  ports: ExecutorPorts,
  context: ExecutorContext,
  failures: Set<string>,
): Promise<JobDecision[]> => {
  const writes = decisions.flatMap(({ decision }) => (decision.write ? [decision.write] : []));
  let unwritten: Map<string, 'failed' | 'superseded'>;
  try {
    unwritten = writes.length > 0 ? await ports.store.record(writes) : new Map();
  } catch (error) {
    context.log('error', 'Could not record attempts; their jobs will be redelivered', {
      error: errorSummary(error),
    });
    unwritten = new Map(writes.map(({ record }) => [record.delivery_id, 'failed']));
  }
  return decisions.filter(({ messageId, decision }) => {
    const why = decision.write && unwritten.get(decision.write.record.delivery_id);
    if (why === 'failed') failures.add(messageId);
    if (why === 'superseded') {
      context.log('warn', 'An attempt was finished by another worker before its takeover', {
        delivery_id: decision.write?.record.delivery_id,
      });
    }
    return why === undefined;
  });
};

/** Step 2: one queue call per kind; the messages of what was not sent come back. */
const send = async <T extends { messageId: string }>(
  what: string,
  entries: readonly T[],
  failures: Set<string>,
  context: ExecutorContext,
  deliver: (entries: readonly T[]) => Promise<void>,
): Promise<void> => {
  if (entries.length === 0) return;
  try {
    await deliver(entries);
  } catch (error) {
    context.log('error', `Could not queue ${what}; their messages will be redelivered`, {
      error: errorSummary(error),
    });
    const failed =
      error instanceof QueueSendError
        ? error.failed.flatMap((index) => entries[index] ?? [])
        : entries;
    for (const { messageId } of failed) failures.add(messageId);
  }
};

/** Step 3: one update per webhook; auto-disable when the failure run it reports is long enough. */
const updateCounters = async (
  counts: readonly Owned<'count'>[],
  ports: ExecutorPorts,
  context: ExecutorContext,
): Promise<Disabling[]> => {
  const byWebhook = new Map<string, { tenant: string; tallies: AttemptTally[] }>();
  for (const { tenant, webhookId, tally } of counts) {
    const entry = byWebhook.get(webhookId) ?? { tenant, tallies: [] };
    entry.tallies.push(tally);
    byWebhook.set(webhookId, entry);
  }
  return Promise.all(
    [...byWebhook].map(async ([webhookId, { tenant, tallies }]): Promise<Disabling> => {
      let state: Awaited<ReturnType<ExecutorPorts['webhooks']['recordStats']>>;
      try {
        state = await ports.webhooks.recordStats(tenant, webhookId, summarize(tallies));
      } catch (error) {
        context.log('error', 'Could not update a webhook’s delivery counters', {
          webhook_id: webhookId,
          error: errorSummary(error),
        });
        return 'unchanged';
      }
      const now = context.now();
      const reason = autoDisableReason(state, now.getTime(), context.policy);
      return reason
        ? disable(ports, context, tenant, webhookId, now.toISOString(), reason)
        : 'unchanged';
    }),
  );
};

/** Step 3, beside the counters: the batch's observations summed per webhook and hour, and per tenant and hour. */
const addAggregates = async (
  observed: readonly Owned<'observe'>[],
  ports: ExecutorPorts,
  context: ExecutorContext,
): Promise<void> => {
  const deltas = deltasOf(observed);
  if (deltas.length === 0) return;
  let unwritten: Awaited<ReturnType<AnalyticsSink['add']>>;
  try {
    unwritten = await ports.analytics.add(deltas);
  } catch (error) {
    context.log('error', 'Could not add to the analytics aggregates', {
      error: errorSummary(error),
    });
    return;
  }
  for (const { scope, hour } of unwritten) {
    context.log('error', 'Could not add to an analytics aggregate', {
      webhook_id: scope.webhookId ?? null,
      hour,
    });
  }
};

/** What a switch-off came to: `failed` means it could not be written. */
type Disabling = 'switched' | 'unchanged' | 'failed';

/** An already disabled (or deleted) webhook is `unchanged`, no failure. */
const disable = async (
  ports: ExecutorPorts,
  context: ExecutorContext,
  tenant: string,
  webhookId: string,
  at: string,
  reason: string,
): Promise<Disabling> => {
  try {
    if (await ports.webhooks.disable(tenant, webhookId, at)) {
      context.log('warn', 'A webhook was disabled', { webhook_id: webhookId, reason });
      return 'switched';
    }
    return 'unchanged';
  } catch (error) {
    context.log('error', 'Could not disable a webhook', {
      webhook_id: webhookId,
      error: errorSummary(error),
    });
    return 'failed';
  }
};
