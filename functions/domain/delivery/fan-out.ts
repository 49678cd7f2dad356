import { errorSummary } from '../errors.ts';
import { parseIngestEvent } from '../events/ingest.ts';
import type { WebhookRecord } from '../webhooks/schema.ts';
import { circuitAdmission, type IsolationSettings, type Lane, laneOf } from './circuit.ts';
import { deliveryIdFor, stableUuid } from './ids.ts';
import type { DeliveryJob } from './jobs.ts';
import { matchingWebhooks } from './matching.ts';
import type { DeliveryEvent, QueueMessage } from './model.ts';
import type { HoldRecorder } from './ports.ts';
import { eventSlots, shareCostMs, type TenantShare, waitsForSlot } from './tenant-share.ts';

/**
 * Producers' events in, delivery jobs out. A malformed event is set aside
 * with its reason and never holds up the others; each tenant's webhooks are
 * read with one query per batch; an event seen before keeps the delivery ids
 * it was first given, so its deliveries happen once per webhook. With tenant
 * shares, an event beyond its tenant's share waits on the ingest queue for
 * its slot (tenant-share.ts); each job takes its webhook's lane (circuit.ts).
 */

/** The message attribute that carries a waiting event's share slot (ms epoch). */
export const SHARE_SLOT_ATTRIBUTE = 'hookline_share_slot';

export interface TenantShareStore {
  /**
   * Moves the tenant's share clock on by `costMs` from where it stands, or
   * from now if that is earlier; answers where it started (at least now).
   */
  advance(tenant: string, costMs: number, nowMs: number): Promise<number>;
}

export interface TenantShares {
  share: TenantShare;
  store: TenantShareStore;
  /** Puts events back on the ingest queue until their slots, each carrying it. */
  defer(events: readonly { event: DeliveryEvent; slotMs: number }[]): Promise<void>;
}

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
  /** Jobs to their lanes; one with `dueAtMs` waits until then (a receiver's open circuit). */
  enqueue(jobs: readonly { job: DeliveryJob; lane: Lane; dueAtMs?: number }[]): Promise<void>;
  reject(rejected: readonly { body: string; reason: string; messageId: string }[]): Promise<void>;
  /** Absent: every event goes as it comes. */
  shares?: TenantShares | undefined;
  /** Where a job held by its receiver's open circuit says so in its history; absent: none is held here. */
  holds?: HoldRecorder | undefined;
}

export interface FanOutOptions {
  /**
   * Circuits and lanes: which lane a webhook's jobs take, and whether its
   * open circuit holds them from the start; absent: the standard lane.
   */
  isolation?: IsolationSettings | undefined;
  now?: () => Date;
  random?: () => number;
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
  /** Events put back to wait for their tenant's share. */
  deferred: number;
  /** Jobs held from the start by their receivers' open circuits. */
  held: number;
  /** Webhooks each accepted event matched, one entry per event (for the fan-out metric). */
  matches: number[];
}

export class FanOut {
  readonly #deps: FanOutDependencies;
  readonly #now: () => Date;
  readonly #log: NonNullable<FanOutOptions['log']>;
  readonly #isolation: IsolationSettings | undefined;
  readonly #random: () => number;

  constructor(deps: FanOutDependencies, options: FanOutOptions = {}) {
    this.#deps = deps;
    this.#now = options.now ?? (() => new Date());
    this.#log = options.log ?? (() => undefined);
    this.#isolation = options.isolation;
    this.#random = options.random ?? Math.random;
  }

  async process(messages: readonly QueueMessage[]): Promise<FanOutResult> {
    const now = this.#now();
    const failures = new Set<string>();
    const rejected: { body: string; reason: string; messageId: string }[] = [];
    const byTenant = new Map<string, Incoming[]>();
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
      const slotMs = Number(message.attributes?.[SHARE_SLOT_ATTRIBUTE]);
      list.push({
        messageId: message.id,
        event: parsed.event,
        ...(Number.isFinite(slotMs) && slotMs > 0 ? { slotMs } : {}),
      });
      byTenant.set(parsed.event.tenant_id, list);
    }

    const jobs: { messageId: string; job: DeliveryJob; lane: Lane }[] = [];
    const held: Held[] = [];
    const deferred: { messageId: string; event: DeliveryEvent; slotMs: number }[] = [];
    const matchCounts: number[] = [];
    await Promise.all(
      [...byTenant].map(async ([tenant, incoming]) => {
        // Paced first: an event that waits costs no read of the tenant's webhooks.
        const paced = await this.#paced(tenant, incoming, now.getTime());
        deferred.push(...paced.waiting);
        const events = paced.going;
        if (events.length === 0) return;
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
        const matched = events.map((going) => ({
          ...going,
          matches: matchingWebhooks(webhooks, going.event),
        }));
        for (const { matches } of matched) matchCounts.push(matches.length);
        await Promise.all(
          matched.map(async ({ messageId, event, matches }) => {
            if (matches.length === 0) return;
            try {
              const ingestedAt = await this.#deps.ledger.firstIngestion(
                tenant,
                event.event_id,
                now.getTime(),
              );
              for (const webhook of matches) {
                const job = jobFor(webhook, event, ingestedAt);
                const hold = this.#holdOf(webhook, now);
                if (hold) held.push({ messageId, job, ...hold });
                else {
                  const lane = this.#isolation ? laneOf(webhook, this.#isolation) : 'standard';
                  jobs.push({ messageId, job, lane });
                }
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
        await this.#deps.enqueue(ready.map(({ job, lane }) => ({ job, lane })));
      } catch (error) {
        // Jobs already sent are sent again on redelivery; their ids make the copies harmless.
        this.#log('error', 'Could not queue delivery jobs; their events will be redelivered', {
          error: errorSummary(error),
        });
        for (const { messageId } of ready) failures.add(messageId);
      }
    }
    // After the jobs that go: holding takes a write per job, and must not delay them.
    await this.#hold(
      held.filter(({ messageId }) => !failures.has(messageId)),
      now,
      failures,
    );
    if (deferred.length > 0 && this.#deps.shares) {
      try {
        await this.#deps.shares.defer(deferred);
      } catch (error) {
        this.#log(
          'error',
          'Could not put back events waiting for their share; they will be redelivered',
          {
            error: errorSummary(error),
          },
        );
        for (const { messageId } of deferred) failures.add(messageId);
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
      deferred: deferred.filter(({ messageId }) => !failures.has(messageId)).length,
      held: held.filter(({ messageId }) => !failures.has(messageId)).length,
      matches: matchCounts,
    };
  }

  /** Whether the webhook's open circuit holds its new job from the start, and until when. */
  #holdOf(webhook: WebhookRecord, now: Date): { untilMs: number; reason: string } | undefined {
    if (!this.#isolation || !this.#deps.holds || !webhook.is_active) return undefined;
    const admission = circuitAdmission(webhook, now.getTime(), this.#isolation, this.#random);
    return admission.kind === 'hold' ? admission : undefined;
  }

  /**
   * Jobs held from the start: each delivery's history says why (one write,
   * as the worker makes when it holds a job), then the job waits on the
   * overflow lane until its receiver may be probed, its attempt unspent.
   */
  async #hold(held: readonly Held[], now: Date, failures: Set<string>): Promise<void> {
    const holds = this.#deps.holds;
    if (!holds || held.length === 0) return;
    const since = now.toISOString();
    const recorded = await Promise.all(
      held.map(async (entry) => {
        try {
          await holds.hold(
            entry.job,
            { reason: entry.reason, since, until: new Date(entry.untilMs).toISOString() },
            now,
          );
          return entry;
        } catch (error) {
          this.#log('error', 'Could not record a held delivery; its event will be redelivered', {
            delivery_id: entry.job.delivery_id,
            error: errorSummary(error),
          });
          failures.add(entry.messageId);
          return undefined;
        }
      }),
    );
    const waiting = recorded.flatMap((entry) => (entry ? [entry] : []));
    if (waiting.length === 0) return;
    try {
      await this.#deps.enqueue(
        waiting.map(({ job, untilMs }) => ({
          job: { ...job, held_since: since },
          lane: 'overflow',
          dueAtMs: untilMs,
        })),
      );
    } catch (error) {
      this.#log('error', 'Could not queue held jobs; their events will be redelivered', {
        error: errorSummary(error),
      });
      for (const { messageId } of waiting) failures.add(messageId);
    }
  }

  /**
   * A tenant's events against its share, before anything is read for them:
   * one reservation for those that come for the first time (whether or not
   * they match a webhook: each costs the fan-out); an event whose slot is more
   * than a second away waits. An event back from waiting holds its slot and
   * asks nothing. If the share cannot be read, events go: fairness is worth
   * less than delivery.
   */
  async #paced(
    tenant: string,
    events: readonly Incoming[],
    nowMs: number,
  ): Promise<{
    going: Incoming[];
    waiting: { messageId: string; event: DeliveryEvent; slotMs: number }[];
  }> {
    const shares = this.#deps.shares;
    const fresh = events.filter(({ slotMs }) => slotMs === undefined);
    const slots = new Map<Incoming, number>();
    if (shares && fresh.length > 0) {
      try {
        const cost = shareCostMs(shares.share, fresh.length);
        const startMs = await shares.store.advance(tenant, cost, nowMs);
        eventSlots(fresh.length, startMs, nowMs, shares.share).forEach((slot, index) => {
          const event = fresh[index];
          if (event) slots.set(event, slot);
        });
      } catch (error) {
        this.#log('warn', 'Could not read a tenant’s share; its events go unpaced', {
          tenant,
          error: errorSummary(error),
        });
      }
    }
    const going: Incoming[] = [];
    const waiting: { messageId: string; event: DeliveryEvent; slotMs: number }[] = [];
    for (const incoming of events) {
      const slotMs = incoming.slotMs ?? slots.get(incoming);
      if (shares && slotMs !== undefined && waitsForSlot(slotMs, nowMs)) {
        waiting.push({ messageId: incoming.messageId, event: incoming.event, slotMs });
      } else going.push(incoming);
    }
    return { going, waiting };
  }
}

interface Incoming {
  messageId: string;
  event: DeliveryEvent;
  /** The share slot it waited for, when it comes back from waiting. */
  slotMs?: number;
}

/** A job its receiver's open circuit holds from the start. */
interface Held {
  messageId: string;
  job: DeliveryJob;
  untilMs: number;
  reason: string;
}

const jobFor = (webhook: WebhookRecord, event: DeliveryEvent, ingestedAt: number): DeliveryJob => ({
  delivery_id: deliveryIdFor(event.tenant_id, event.event_id, webhook.webhook_id, ingestedAt),
  tenant: webhook.tenant,
  webhook_id: webhook.webhook_id,
  attempt: 1,
  event,
});
