/**
 * Per-webhook rate limiting with GCRA (the generic cell rate algorithm): the
 * whole state is one number, the theoretical arrival time `tat` of the next
 * send at the steady rate. A send may go once `tat` is at most the burst
 * tolerance ahead of it. Pure and deterministic: the caller stores `tat` and
 * supplies the clock.
 */

export interface RateLimit {
  requests_per_minute: number;
  burst_limit: number;
}

/**
 * The emission interval is rounded up to whole ms so that all arithmetic is
 * exact; the rate this gives is never above the configured one.
 */
const emissionIntervalMs = (limit: RateLimit): number =>
  Math.ceil(60_000 / Math.max(1, limit.requests_per_minute));

/**
 * Reserves a slot for each of `requested` sends instead of refusing the ones
 * over the limit: the first go as the burst allows, the rest at the steady
 * rate after them. A deferred send keeps its slot, so it is never pushed back
 * again by later arrivals and waiting sends go out in the order they came.
 */
export const reserve = (
  state: { tat: number } | undefined,
  now: number,
  limit: RateLimit,
  requested: number,
): { slots: number[]; tat: number } => {
  const interval = emissionIntervalMs(limit);
  const tolerance = (Math.max(1, Math.floor(limit.burst_limit)) - 1) * interval;
  const start = Math.max(state?.tat ?? now, now);
  const count = Math.max(0, Math.floor(requested));
  const slots = Array.from({ length: count }, (_, index) =>
    Math.max(now, start + index * interval - tolerance),
  );
  return { slots, tat: start + count * interval };
};
