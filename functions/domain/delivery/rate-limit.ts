/**
 * Per-webhook rate limiting with GCRA (the generic cell rate algorithm): the
 * whole state is one number, the theoretical arrival time `tat` of the next
 * send at the steady rate. A send is allowed while `tat` is at most the burst
 * tolerance ahead of now. Pure and deterministic: the caller stores `tat`
 * and supplies the clock.
 */

export interface RateLimit {
  requests_per_minute: number;
  burst_limit: number;
}

export interface Admission {
  /** How many of the requested sends may go now, 0 to `requested`. */
  admitted: number;
  /** The state to store, whether or not anything was admitted. */
  tat: number;
  /** When some were held back: ms until the next one may go; else 0. */
  waitMs: number;
}

/**
 * The emission interval is rounded up to whole ms so that all arithmetic is
 * exact; the rate this gives is never above the configured one.
 */
const emissionIntervalMs = (limit: RateLimit): number =>
  Math.ceil(60_000 / Math.max(1, limit.requests_per_minute));

export const admit = (
  state: { tat: number } | undefined,
  now: number,
  limit: RateLimit,
  requested: number,
): Admission => {
  const interval = emissionIntervalMs(limit);
  // A burst of b back-to-back sends leaves tat (b - 1) intervals ahead of now.
  const tolerance = (Math.max(1, Math.floor(limit.burst_limit)) - 1) * interval;
  const wanted = Math.max(0, Math.floor(requested));
  // An idle webhook earns no credit beyond a full burst: tat never lags behind now.
  const start = Math.max(state?.tat ?? now, now);
  const available =
    start - now > tolerance ? 0 : Math.floor((now + tolerance - start) / interval) + 1;
  const admitted = Math.min(wanted, available);
  const tat = start + admitted * interval;
  const waitMs = admitted < wanted ? tat - tolerance - now : 0;
  return { admitted, tat, waitMs };
};
