import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { METRICS } from '../../lib/resources.ts';
import type { DeliveryMetrics } from '../domain/delivery/ports.ts';

/**
 * The functions' metrics as CloudWatch embedded metric format lines in the
 * log (Powertools Metrics): no API call per delivery. Names, namespace and
 * the `service` dimension come from lib/resources.ts, which the stack's
 * alarms and dashboard read too.
 */
export const metrics = new Metrics({ namespace: METRICS.namespace, serviceName: METRICS.service });

export { METRICS, MetricUnit };

/** One metric under one extra dimension, written at once (its own EMF line). */
export const countBy = (name: string, dimension: string, counts: ReadonlyMap<string, number>) => {
  for (const [value, count] of counts) {
    if (count === 0) continue;
    const single = metrics.singleMetric();
    single.addDimension(dimension, value);
    single.addMetric(name, MetricUnit.Count, count);
  }
};

/**
 * A delivery batch's metrics (functions/domain/delivery/batch-metrics.ts),
 * written before the call returns: the counts by dimension as a line each,
 * the rest (latencies, lags, waits, switch-offs) as one line. Nothing is
 * awaited in between, so batches running at once never mix their values.
 */
export const deliveryMetrics: DeliveryMetrics = {
  publish: (batch) => {
    countBy(METRICS.deliveries, 'Outcome', new Map(Object.entries(batch.deliveries)));
    countBy(
      METRICS.attempts,
      'Result',
      new Map([
        ['success', batch.attempts.success],
        ['failure', batch.attempts.failure],
      ]),
    );
    countBy(METRICS.attemptErrors, 'ErrorClass', batch.attemptErrors);
    let stored = 0;
    const store = (...metric: Parameters<typeof metrics.addMetric>) => {
      metrics.addMetric(...metric);
      stored += 1;
    };
    for (const ms of batch.latencyMs) store(METRICS.deliveryLatency, MetricUnit.Milliseconds, ms);
    for (const ms of batch.endToEndLagMs) store(METRICS.endToEndLag, MetricUnit.Milliseconds, ms);
    if (batch.rateLimitWaits > 0) {
      store(METRICS.rateLimitWaits, MetricUnit.Count, batch.rateLimitWaits);
    }
    if (batch.webhooksAutoDisabled > 0) {
      store(METRICS.webhooksAutoDisabled, MetricUnit.Count, batch.webhooksAutoDisabled);
    }
    if (stored > 0) metrics.publishStoredMetrics();
  },
};
