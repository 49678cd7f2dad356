import { reserve } from './rate-limit.ts';

/**
 * Each tenant's share of delivery. A tenant's events enter delivery at most
 * `eventsPerSecond` (after a burst of `burst` at once): GCRA, the maths of
 * webhook rate limits (rate-limit.ts), one clock per tenant. The fan-out
 * reserves a slot for each of a batch's events of a tenant that match a
 * webhook; an event whose slot is more than SHARE_WAIT_MS away goes back to
 * the ingest queue until then, carrying its slot, and is taken then without
 * asking again. A burst of one tenant thus enters delivery at its share's
 * pace, and another tenant's events queue behind at most that burst, not
 * behind all of it.
 */

export interface TenantShare {
  eventsPerSecond: number;
  burst: number;
}

/** A slot this close is taken now: SQS delays count whole seconds. */
export const SHARE_WAIT_MS = 1000;

const asRateLimit = (share: TenantShare) => ({
  requests_per_minute: share.eventsPerSecond * 60,
  burst_limit: share.burst,
});

/** How far `events` events move the tenant's clock (whole ms per event, as rate-limit.ts rounds). */
export const shareCostMs = (share: TenantShare, events: number): number =>
  reserve({ tat: 0 }, 0, asRateLimit(share), events).tat;

/**
 * Each of `events` events' slot (when it may enter delivery), in order,
 * from a clock that stood at `startMs` (at least now) before this
 * reservation.
 */
export const eventSlots = (
  events: number,
  startMs: number,
  nowMs: number,
  share: TenantShare,
): number[] => reserve({ tat: startMs }, nowMs, asRateLimit(share), events).slots;

/** Whether an event with this slot waits on the queue rather than going now. */
export const waitsForSlot = (slotMs: number, nowMs: number): boolean =>
  slotMs > nowMs + SHARE_WAIT_MS;
