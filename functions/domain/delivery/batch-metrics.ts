import type { FinalStatus } from '../analytics/aggregate.ts';
import type { DeliveryObservation } from './decisions.ts';
import type { ErrorClass } from './model.ts';

/**
 * What one delivery batch did, as the operators' metrics count it
 * (lib/resources.ts METRICS): by outcome, result and error class only,
 * never by tenant or webhook. Test deliveries are in: they are real sends.
 */
export interface BatchMetrics {
  /** Deliveries that reached a final status, by it. */
  deliveries: Record<FinalStatus, number>;
  attempts: { success: number; failure: number };
  /** Failed attempts by error class. */
  attemptErrors: Map<ErrorClass, number>;
  /** Each attempt's duration, ms. */
  latencyMs: number[];
  /** Event accepted to delivered, ms, for each delivery delivered in its first attempt chain. */
  endToEndLagMs: number[];
  rateLimitWaits: number;
  webhooksAutoDisabled: number;
}

export const batchMetrics = (
  observations: readonly DeliveryObservation[],
  rateLimitWaits: number,
  webhooksAutoDisabled: number,
): BatchMetrics => {
  const metrics: BatchMetrics = {
    deliveries: { delivered: 0, failed: 0, abandoned: 0 },
    attempts: { success: 0, failure: 0 },
    attemptErrors: new Map(),
    latencyMs: [],
    endToEndLagMs: [],
    rateLimitWaits,
    webhooksAutoDisabled,
  };
  for (const { attempt, final, errorClass, lagMs } of observations) {
    if (final) metrics.deliveries[final] += 1;
    if (lagMs !== undefined) metrics.endToEndLagMs.push(lagMs);
    if (!attempt) continue;
    metrics.latencyMs.push(attempt.durationMs);
    if (attempt.ok) metrics.attempts.success += 1;
    else {
      metrics.attempts.failure += 1;
      const named = errorClass ?? 'http';
      metrics.attemptErrors.set(named, (metrics.attemptErrors.get(named) ?? 0) + 1);
    }
  }
  return metrics;
};

/** A batch that did nothing worth a metric (every job waited or was dropped). */
export const isQuiet = (metrics: BatchMetrics): boolean =>
  metrics.latencyMs.length === 0 &&
  Object.values(metrics.deliveries).every((count) => count === 0) &&
  metrics.rateLimitWaits === 0 &&
  metrics.webhooksAutoDisabled === 0;
