/**
 * Response times as a fixed-bucket histogram, so that percentiles can be
 * read from aggregates that are only ever added to (DynamoDB `ADD`), over
 * any number of hours and webhooks, without keeping a single sample.
 *
 * Bucket 0 holds times up to 1 ms. Bucket i ≥ 1 holds times in
 * (2^((i−1)/8), 2^(i/8)] ms: eight buckets per doubling, so each bucket's
 * upper bound is γ = 2^(1/8) ≈ 1.0905 times its lower one (the layout of
 * Prometheus's native histograms at schema 3). A bucket is reported as
 * 2γ^i/(γ+1), the point whose relative distance to both bounds is the same,
 * so a time in the bucket is off by at most (γ−1)/(γ+1) ≈ 4.33 % of itself.
 * A percentile is the nearest-rank value of the recorded times (the smallest
 * time with at least p % of them at or below it): the histogram finds that
 * time's bucket exactly, so the reported percentile carries the bucket's
 * error and no other, plus the rounding to 0.01 ms. Times up to 1 ms are
 * reported as 0.5 ms (off by at most 0.5 ms). Bucket 136 (2^17 ms, 131 s) is
 * the last one: no attempt lasts that long (the delivery function stops at
 * 90 s), and a longer time would be counted there.
 */

export const BUCKETS_PER_DOUBLING = 8;

const GAMMA = 2 ** (1 / BUCKETS_PER_DOUBLING);

/** The largest relative error of a reported percentile above 1 ms, before rounding: (γ−1)/(γ+1). */
export const RELATIVE_ERROR = (GAMMA - 1) / (GAMMA + 1);

/** What a reported percentile may be off by, in ms, for an exact value of `exactMs`. */
export const percentileErrorBound = (exactMs: number): number =>
  exactMs <= 1 ? 0.5 : RELATIVE_ERROR * exactMs + 0.005;

export const LAST_BUCKET = 17 * BUCKETS_PER_DOUBLING;

/** Bucket counts by bucket number; absent buckets are empty. */
export type Histogram = ReadonlyMap<number, number>;

export const bucketOf = (ms: number): number =>
  ms <= 1 ? 0 : Math.min(LAST_BUCKET, Math.max(1, Math.ceil(BUCKETS_PER_DOUBLING * Math.log2(ms))));

/** The value a bucket stands for, rounded to 0.01 ms. */
export const bucketValue = (bucket: number): number =>
  bucket === 0 ? 0.5 : Math.round(((2 * GAMMA ** bucket) / (GAMMA + 1)) * 100) / 100;

/** Adds `from` into `into`. */
export const addHistogram = (into: Map<number, number>, from: Histogram): void => {
  for (const [bucket, count] of from) into.set(bucket, (into.get(bucket) ?? 0) + count);
};

/**
 * The nearest-rank p-th percentile (0 < p ≤ 100) of the times counted, as
 * its bucket's value; undefined when nothing was counted.
 */
export const percentileOf = (histogram: Histogram, p: number): number | undefined => {
  const buckets = [...histogram].filter(([, count]) => count > 0).sort(([a], [b]) => a - b);
  const total = buckets.reduce((sum, [, count]) => sum + count, 0);
  if (total === 0) return undefined;
  const rank = Math.max(1, Math.ceil((p / 100) * total));
  let seen = 0;
  for (const [bucket, count] of buckets) {
    seen += count;
    if (seen >= rank) return bucketValue(bucket);
  }
  return bucketValue(buckets.at(-1)?.[0] ?? 0);
};

/** The nearest-rank percentile of exact values: what the histogram's answer is measured against. */
export const exactPercentile = (values: readonly number[], p: number): number | undefined => {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil((p / 100) * sorted.length)) - 1];
};
