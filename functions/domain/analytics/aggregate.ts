import { addHistogram, bucketOf } from './histogram.ts';

/**
 * Delivery analytics as sums that only ever grow: one aggregate per webhook
 * per hour, and the same rolled up per tenant per hour, added to at the end
 * of each delivery batch. Everything here is additive (counts, a sum, a
 * histogram) except the last times, which are the latest seen; so any range
 * of hours, of one webhook or a whole tenant, is the merge of its items.
 *
 * Which hour an outcome counts in: an attempt counts in the hour it
 * finished; a delivery counts (by final status and event type) in the hour
 * its final outcome happened. A delivery whose first attempt fails at 10:59
 * and whose retry succeeds at 11:01 adds a failed attempt to 10:00 and a
 * successful attempt and a delivered delivery to 11:00. Deliveries not yet
 * final (pending, retrying) are in no count.
 */

export const FINAL_STATUSES = ['delivered', 'failed', 'abandoned'] as const;
export type FinalStatus = (typeof FINAL_STATUSES)[number];

/** What one step of one delivery came to: an attempt, its ending, or both. */
export interface Observation {
  /** When the attempt finished, or the delivery ended without one (ISO-8601 UTC). */
  at: string;
  eventType: string;
  /** The attempt made; absent when the delivery ended without sending (its webhook is disabled). */
  attempt?: { ok: boolean; durationMs: number } | undefined;
  /** Set when the delivery reached its final status with this step. */
  final?: FinalStatus | undefined;
}

export interface Aggregate {
  deliveries: Record<FinalStatus, number>;
  byEventType: Map<string, number>;
  attempts: { ok: number; failed: number };
  /** Sum of the attempts' recorded durations, ms. */
  responseMsSum: number;
  histogram: Map<number, number>;
  lastAttemptAt?: string | undefined;
  lastSuccessAt?: string | undefined;
  lastFailureAt?: string | undefined;
}

export const emptyAggregate = (): Aggregate => ({
  deliveries: { delivered: 0, failed: 0, abandoned: 0 },
  byEventType: new Map(),
  attempts: { ok: 0, failed: 0 },
  responseMsSum: 0,
  histogram: new Map(),
});

/** ISO-8601 UTC strings of one shape compare as their times do. */
const later = (a: string | undefined, b: string | undefined): string | undefined =>
  a === undefined ? b : b === undefined || a >= b ? a : b;

/** Durations are recorded to 0.1 ms; sums stay on that grid, so adding them is exact. */
const tenths = (ms: number): number => Math.round(ms * 10) / 10;

export const observe = (into: Aggregate, observation: Observation): void => {
  const { attempt, final, at } = observation;
  if (attempt) {
    if (attempt.ok) into.attempts.ok += 1;
    else into.attempts.failed += 1;
    into.responseMsSum = tenths(into.responseMsSum + attempt.durationMs);
    const bucket = bucketOf(attempt.durationMs);
    into.histogram.set(bucket, (into.histogram.get(bucket) ?? 0) + 1);
    into.lastAttemptAt = later(into.lastAttemptAt, at);
    if (attempt.ok) into.lastSuccessAt = later(into.lastSuccessAt, at);
    else into.lastFailureAt = later(into.lastFailureAt, at);
  }
  if (final) {
    into.deliveries[final] += 1;
    into.byEventType.set(
      observation.eventType,
      (into.byEventType.get(observation.eventType) ?? 0) + 1,
    );
  }
};

/** Adds `from` into `into`. */
export const merge = (into: Aggregate, from: Aggregate): void => {
  for (const status of FINAL_STATUSES) into.deliveries[status] += from.deliveries[status];
  for (const [type, count] of from.byEventType) {
    into.byEventType.set(type, (into.byEventType.get(type) ?? 0) + count);
  }
  into.attempts.ok += from.attempts.ok;
  into.attempts.failed += from.attempts.failed;
  into.responseMsSum = tenths(into.responseMsSum + from.responseMsSum);
  addHistogram(into.histogram, from.histogram);
  into.lastAttemptAt = later(into.lastAttemptAt, from.lastAttemptAt);
  into.lastSuccessAt = later(into.lastSuccessAt, from.lastSuccessAt);
  into.lastFailureAt = later(into.lastFailureAt, from.lastFailureAt);
};

export const isEmpty = (aggregate: Aggregate): boolean =>
  FINAL_STATUSES.every((status) => aggregate.deliveries[status] === 0) &&
  aggregate.attempts.ok + aggregate.attempts.failed === 0;

/** Whose aggregate: a tenant's rollup, or one webhook's. */
export interface Scope {
  tenant: string;
  webhookId?: string | undefined;
}

/** `2026-03-01T12`: the hour an instant falls in (UTC). */
export const hourOf = (iso: string): string => new Date(iso).toISOString().slice(0, 13);
/** `2026-03-01`: the day an hour or instant falls in (UTC). */
export const dayOf = (isoOrHour: string): string => isoOrHour.slice(0, 10);

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;

/** The start of an hour (`2026-03-01T12`) or a day (`2026-03-01`), ms. */
export const startOf = (bucket: string): number =>
  Date.parse(bucket.length === 10 ? `${bucket}T00:00:00.000Z` : `${bucket}:00:00.000Z`);

/** One aggregate to add to the item of one scope and hour. */
export interface AggregateDelta {
  scope: Scope;
  hour: string;
  aggregate: Aggregate;
}

/**
 * A batch's observations as the deltas to write: one per webhook and hour,
 * and one per tenant and hour (the rollup). Usually two for a batch.
 */
export const deltasOf = (
  observed: readonly { tenant: string; webhookId: string; observation: Observation }[],
): AggregateDelta[] => {
  const byKey = new Map<string, AggregateDelta>();
  const add = (scope: Scope, observation: Observation) => {
    const hour = hourOf(observation.at);
    const key = `${scope.tenant}\u0000${scope.webhookId ?? ''}\u0000${hour}`;
    const delta = byKey.get(key) ?? { scope, hour, aggregate: emptyAggregate() };
    observe(delta.aggregate, observation);
    byKey.set(key, delta);
  };
  for (const { tenant, webhookId, observation } of observed) {
    add({ tenant, webhookId }, observation);
    add({ tenant }, observation);
  }
  return [...byKey.values()];
};

/**
 * When the items of a day (its hours and its rollup) expire: `months`
 * calendar months after the day began, all at once, so a day is never half
 * gone. The one home of the aggregates' TTL formula (seconds since the epoch).
 */
export const aggregateExpiresAt = (dayOrHour: string, months: number): number => {
  const start = new Date(startOf(dayOf(dayOrHour)));
  return Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + months, start.getUTCDate()) / 1000;
};

/** Successful deliveries as a share of all (0..1); undefined when there were none. */
export const successRatio = (successful: number, total: number): number | undefined =>
  total > 0 ? successful / total : undefined;
