import type { ReceivedDelivery } from './faulty-receiver.ts';
import {
  api,
  type BooksTarget,
  type DeliveryView,
  drainDeadLetters,
  isEmpty,
  queueDepths,
  queueName,
  readDeliveries,
  type WebhookDeliveries,
  webhookViewSchema,
} from './observe.ts';

/**
 * The books of a delivery run, kept from the outside: what the receiver saw,
 * what the API says, and what is left on the queues. Every (event, webhook)
 * pair must end in exactly one final delivery; every attempt number is used
 * once; what the receiver was sent is what was recorded; a delivered
 * delivery was answered 2xx; the abandoned ones are on the dead-letter queue
 * once each; the webhooks' counters agree with the deliveries. Read through
 * the API and the queues, as a client and an operator would, the books hold
 * whatever layout the table takes. `problems` lists every broken rule with a
 * count and samples.
 */

export interface ExpectedPairs {
  webhooks: readonly { webhook_id: string; name: string }[];
  /** Event ids each webhook must have a delivery of, by webhook id. */
  eventsByWebhook: ReadonlyMap<string, ReadonlySet<string>>;
}

const FINAL = new Set(['delivered', 'failed', 'abandoned']);

const countBy = <T>(items: readonly T[], key: (item: T) => string) => {
  const counts: Record<string, number> = {};
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  return counts;
};

class Problems {
  readonly #found = new Map<string, { count: number; samples: string[] }>();

  note(rule: string, sample: string): void {
    const entry = this.#found.get(rule) ?? { count: 0, samples: [] };
    entry.count += 1;
    if (entry.samples.length < 3) entry.samples.push(sample);
    this.#found.set(rule, entry);
  }

  list(): string[] {
    return [...this.#found].map(
      ([rule, { count, samples }]) => `${rule}: ${count} (e.g. ${samples.join('; ')})`,
    );
  }
}

const is2xx = (status: number | null | undefined) =>
  status !== null && status !== undefined && status >= 200 && status < 300;

/** What the receiver got, by delivery id and attempt number. */
type Arrivals = Map<string, Map<number, ReceivedDelivery[]>>;

const arrivalsOf = (received: readonly ReceivedDelivery[], problems: Problems): Arrivals => {
  const arrivals: Arrivals = new Map();
  for (const entry of received) {
    const attempts = arrivals.get(entry.delivery_id) ?? new Map<number, ReceivedDelivery[]>();
    attempts.set(entry.attempt, [...(attempts.get(entry.attempt) ?? []), entry]);
    arrivals.set(entry.delivery_id, attempts);
  }
  for (const [deliveryId, attempts] of arrivals) {
    for (const [attempt, list] of attempts) {
      if (list.length > 1) {
        problems.note(
          'the receiver got one (delivery, attempt) more than once',
          `${deliveryId} attempt ${attempt} × ${list.length}`,
        );
      }
    }
  }
  return arrivals;
};

/** One delivery against what the receiver got and what the dead-letter queue holds. */
const checkDelivery = (
  delivery: DeliveryView,
  where: string,
  arrivals: Arrivals,
  deadLetterCopies: number,
  problems: Problems,
) => {
  const answers = (attempt: number) => arrivals.get(delivery.delivery_id)?.get(attempt) ?? [];
  if (!FINAL.has(delivery.status)) {
    problems.note('a delivery is not final', `${where} ${delivery.status}`);
  }
  const numbers = delivery.attempts.map((attempt) => attempt.attempt);
  if (numbers.some((number, index) => number !== index + 1)) {
    problems.note('attempt numbers are not 1, 2, 3… each once', `${where} [${numbers}]`);
  }
  if (delivery.attempt_count < numbers.length) {
    problems.note('attempt_count is below the attempts recorded', where);
  }
  const last = delivery.attempts.at(-1);
  if (delivery.status === 'delivered') {
    if (!is2xx(last?.status_code)) problems.note('delivered without a 2xx attempt', where);
    if (!answers(last?.attempt ?? 0).some((entry) => is2xx(entry.status))) {
      problems.note('delivered, but the receiver never answered that attempt 2xx', where);
    }
  }
  for (const attempt of delivery.attempts) {
    if (attempt.status_code === null || attempt.status_code === undefined) continue;
    const sent = answers(attempt.attempt).map((entry) => entry.status);
    if (!sent.includes(attempt.status_code)) {
      problems.note(
        'a recorded status the receiver never sent',
        `${where} attempt ${attempt.attempt}: ${attempt.status_code} vs [${sent}]`,
      );
    }
  }
  if (delivery.status === 'abandoned' && deadLetterCopies !== 1) {
    problems.note(
      'an abandoned delivery is not dead-lettered once',
      `${where} × ${deadLetterCopies}`,
    );
  }
  if (delivery.status !== 'abandoned' && deadLetterCopies > 0) {
    problems.note('a dead letter of a delivery not abandoned', `${where} ${delivery.status}`);
  }
};

/** The webhook's counters, as the API shows them, against its deliveries. */
const checkCounters = async (
  target: BooksTarget,
  webhook: { webhook_id: string; name: string },
  statuses: Record<string, number>,
  problems: Problems,
) => {
  const { data: view } = await api(target, `/webhooks/${webhook.webhook_id}`, webhookViewSchema);
  const delivered = statuses.delivered ?? 0;
  const failed = (statuses.failed ?? 0) + (statuses.abandoned ?? 0);
  const counters = {
    total_deliveries: view.total_deliveries,
    successful_deliveries: view.successful_deliveries,
    failed_deliveries: view.failed_deliveries,
  };
  const fromDeliveries = {
    total_deliveries: delivered + failed,
    successful_deliveries: delivered,
    failed_deliveries: failed,
  };
  if (JSON.stringify(counters) !== JSON.stringify(fromDeliveries)) {
    problems.note(
      'the counters disagree with the records',
      `${webhook.name} counters ${JSON.stringify(counters)} records ${JSON.stringify(fromDeliveries)}`,
    );
  }
  return { view, counters };
};

/** The books; `read` is what readAllDeliveries answered, once everything settled. */
export const checkBooks = async (
  target: BooksTarget,
  expected: ExpectedPairs,
  received: readonly ReceivedDelivery[],
  read?: Map<string, WebhookDeliveries>,
) => {
  const problems = new Problems();
  const arrivals = arrivalsOf(received, problems);

  const depths = await queueDepths(target);
  const deadLetterQueue = queueName(target.queues.deliveries.deadLetterUrl);
  for (const [name, depth] of Object.entries(depths)) {
    // The deliveries' dead letters are the abandoned deliveries, checked one by one below.
    if (name !== deadLetterQueue && !isEmpty(depth)) {
      problems.note('a queue is not empty', `${name} ${JSON.stringify(depth)}`);
    }
  }
  const deadLetters = await drainDeadLetters(target);
  const deadLetterCopies = countBy(deadLetters, (message) => message.deliveryId);
  for (const message of deadLetters) {
    if (message.reason === undefined) {
      problems.note('a dead letter has no reason (moved by SQS)', message.deliveryId);
    }
  }

  const recorded = new Map<string, DeliveryView>();
  const webhooks = [];
  for (const webhook of expected.webhooks) {
    const { listed, deliveries } =
      read?.get(webhook.webhook_id) ?? (await readDeliveries(target, webhook.webhook_id));
    const wanted = expected.eventsByWebhook.get(webhook.webhook_id) ?? new Set<string>();
    const perEvent = countBy(deliveries, (delivery) => delivery.event_id);
    for (const delivery of deliveries) {
      recorded.set(delivery.delivery_id, delivery);
      const where = `${webhook.name} ${delivery.delivery_id}`;
      if (!wanted.has(delivery.event_id)) problems.note('a delivery of an event not sent', where);
      checkDelivery(
        delivery,
        where,
        arrivals,
        deadLetterCopies[delivery.delivery_id] ?? 0,
        problems,
      );
    }
    for (const eventId of wanted) {
      const count = perEvent[eventId] ?? 0;
      const where = `${webhook.name} ${eventId}`;
      if (count === 0) problems.note('an (event, webhook) pair has no delivery', where);
      if (count > 1) problems.note('an (event, webhook) pair has several deliveries', where);
    }
    // A delivery that moved between the list and its detail would show here.
    const moved = deliveries.filter((each) => listed.get(each.delivery_id) !== each.status);
    if (moved.length > 0) {
      problems.note('the history list and the detail disagree', `${webhook.name}: ${moved.length}`);
    }
    const statuses = countBy(deliveries, (delivery) => delivery.status);
    const { view, counters } = await checkCounters(target, webhook, statuses, problems);
    webhooks.push({
      ...webhook,
      is_active: view.is_active,
      auto_disabled_at: view.auto_disabled_at,
      pairs: wanted.size,
      deliveries: deliveries.length,
      by_status: statuses,
      counters,
    });
  }

  for (const [deliveryId, attempts] of arrivals) {
    const delivery = recorded.get(deliveryId);
    for (const attempt of attempts.keys()) {
      if (!delivery?.attempts.some((each) => each.attempt === attempt)) {
        problems.note(
          'the receiver got an attempt that is not recorded',
          `${deliveryId} #${attempt}`,
        );
      }
    }
  }

  const deliveries = [...recorded.values()];
  const attempts = deliveries.flatMap((delivery) => delivery.attempts);
  return {
    pairs: [...expected.eventsByWebhook.values()].reduce((sum, set) => sum + set.size, 0),
    deliveries: deliveries.length,
    by_status: countBy(deliveries, (delivery) => delivery.status),
    attempts: attempts.length,
    attempts_by_outcome: countBy(attempts, (attempt) =>
      attempt.status_code === null || attempt.status_code === undefined
        ? String(attempt.error_class)
        : `HTTP ${attempt.status_code}`,
    ),
    receiver: {
      requests: received.length,
      by_fault: countBy(received, (entry) => entry.fault),
    },
    dead_letters: deadLetters.length,
    /** Moved by SQS after too many receives, not copied by the worker: a job that kept failing. */
    dead_letters_moved_by_sqs: deadLetters
      .filter((message) => message.reason === undefined)
      .map((message) => message.deliveryId)
      .slice(0, 50),
    queues: depths,
    webhooks,
    problems: problems.list(),
  };
};

export type Books = Awaited<ReturnType<typeof checkBooks>>;
