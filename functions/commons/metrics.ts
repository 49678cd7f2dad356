import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { METRICS } from '../../lib/resources.ts';

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
