import { errorSummary } from '../errors.ts';
import { parseIngestEvent } from '../events/ingest.ts';
import type { WebhookRecord } from '../webhooks/schema.ts';
import { deliveryIdFor, stableUuid } from './ids.ts';
import type { DeliveryJob } from './jobs.ts';
import { matchingWebhooks } from './matching.ts';
import type { DeliveryEvent, QueueMessage } from './model.ts';

/**
 * Producers' events in, delivery jobs out. A malformed event is set aside
 * with its reason and never holds up the others; each tenant's webhooks are
 * read with one query per batch; an event seen before keeps the delivery ids
 * it was first given, so its deliveries happen once per webhook.
 */

export interface EventLedger {
  /**
   * Records the event's first ingestion at `nowMs` unless it was seen before;
   * answers the time of its first ingestion either way.
   */
  firstIngestion(tenant: string, eventId: string, nowMs: number): Promise<number>;
}

export interface FanOutDependencies {
  webhooksOf(tenant: string): Promise<WebhookRecord[]>;
  ledger: EventLedger;
  enqueue(jobs: readonly DeliveryJob[]): Promise<void>;
  reject(rejected: readonly { body: string; reason: string; messageId: string }[]): Promise<void>;
}

export interface FanOutOptions {
  now?: () => Date;
  log?: (
    level: 'info' | 'warn' | 'error',
    message: string,
    details?: Record<string, unknown>,
  ) => void;
}

export interface FanOutResult {
  /** Messages to redeliver. */
  failures: string[];
  jobs: number;
  rejected: number;
  /** Webhooks each accepted event matched, one entry per event (for the fan-out metric). */
  matches: number[];
}

export class FanOut {
  readonly #deps: FanOutDependencies;
  readonly #now: () => Date;
  readonly #log: NonNullable<FanOutOptions['log']>;

  constructor(deps: FanOutDependencies, options: FanOutOptions = {}) {
    this.#deps = deps;
    this.#now = options.now ?? (() => new Date());
    this.#log = options.log ?? (() => undefined);
  }

  async process(messages: readonly QueueMessage[]): Promise<FanOutResult> {
    const now = this.#now();
    const failures = new Set<string>();
    const rejected: { body: string; reason: string; messageId: string }[] = [];
    const byTenant = new Map<string, { messageId: string; event: DeliveryEvent }[]>();
    for (const message of messages) {
      // Defaults come from the message, not the moment: a message delivered twice is one event.
      const parsed = parseIngestEvent(message.body, {
        now: message.sentAt === undefined ? now : new Date(message.sentAt),
        newId: () => stableUuid(`${message.id}`),
      });
      if (!parsed.ok) {
        rejected.push({ body: message.body, reason: parsed.reason, messageId: message.id });
        continue;
      }
      const list = byTenant.get(parsed.event.tenant_id) ?? [];
      list.push({ messageId: message.id, event: parsed.event });
      byTenant.set(parsed.event.tenant_id, list);
    }

    const jobs: { messageId: string; job: DeliveryJob }[] = [];
    const matchCounts: number[] = [];
    await Promise.all(
      [...byTenant].map(async ([tenant, events]) => {
        let webhooks: WebhookRecord[];
        try {
          webhooks = await this.#deps.webhooksOf(tenant);
        } catch (error) {
          this.#log('error', 'Could not read a tenant’s webhooks; its events will be redelivered', {
            tenant,
            error: errorSummary(error),
          });
          for (const { messageId } of events) failures.add(messageId);
          return;
        }
        await Promise.all(
          events.map(async ({ messageId, event }) => {
            const matches = matchingWebhooks(webhooks, event);
            matchCounts.push(matches.length);
            if (matches.length === 0) return;
            try {
              const ingestedAt = await this.#deps.ledger.firstIngestion(
                tenant,
                event.event_id,
                now.getTime(),
              );
              for (const webhook of matches) {
                jobs.push({ messageId, job: jobFor(webhook, event, ingestedAt) });
              }
            } catch (error) {
              this.#log('error', 'Could not record an event; it will be redelivered', {
                event_id: event.event_id,
                error: errorSummary(error),
              });
              failures.add(messageId);
            }
          }),
        );
      }),
    );

    const ready = jobs.filter(({ messageId }) => !failures.has(messageId));
    if (ready.length > 0) {
      try {
        await this.#deps.enqueue(ready.map(({ job }) => job));
      } catch (error) {
        // Jobs already sent are sent again on redelivery; their ids make the copies harmless.
        this.#log('error', 'Could not queue delivery jobs; their events will be redelivered', {
          error: errorSummary(error),
        });
        for (const { messageId } of ready) failures.add(messageId);
      }
    }
    if (rejected.length > 0) {
      try {
        await this.#deps.reject(rejected);
        for (const { reason, messageId } of rejected) {
          this.#log('warn', 'A malformed event was set aside in the dead-letter queue', {
            message_id: messageId,
            reason,
          });
        }
      } catch (error) {
        this.#log('error', 'Could not set aside malformed events; they will be redelivered', {
          error: errorSummary(error),
        });
        for (const { messageId } of rejected) failures.add(messageId);
      }
    }
    return {
      failures: [...failures],
      jobs: ready.length,
      rejected: rejected.length,
      matches: matchCounts,
    };
  }
}

const jobFor = (webhook: WebhookRecord, event: DeliveryEvent, ingestedAt: number): DeliveryJob => ({
  delivery_id: deliveryIdFor(event.tenant_id, event.event_id, webhook.webhook_id, ingestedAt),
  tenant: webhook.tenant,
  webhook_id: webhook.webhook_id,
  attempt: 1,
  event,
});
