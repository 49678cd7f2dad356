import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bucketOf,
  bucketValue,
  exactPercentile,
  type Histogram,
  LAST_BUCKET,
  percentileErrorBound,
  percentileOf,
  RELATIVE_ERROR,
} from './histogram.ts';

const histogramOf = (values: readonly number[]): Histogram => {
  const counts = new Map<number, number>();
  for (const value of values) counts.set(bucketOf(value), (counts.get(bucketOf(value)) ?? 0) + 1);
  return counts;
};

describe('the latency histogram', () => {
  it('documents a relative error of 4.33 %', () => {
    expect(RELATIVE_ERROR).toBeCloseTo(0.0433, 4);
  });

  it.each([
    [0, 0],
    [0.4, 0],
    [1, 0],
    [1.1, 2],
    [2, 8],
    [2.0001, 9],
    [1000, 80],
    [131_072, LAST_BUCKET],
    [10_000_000, LAST_BUCKET],
  ])('puts %d ms in bucket %d', (ms, bucket) => {
    expect(bucketOf(ms)).toBe(bucket);
  });

  it('reports every time above 1 ms within the bound of itself', () => {
    fc.assert(
      fc.property(fc.double({ min: 1.0001, max: 120_000, noNaN: true }), (ms) => {
        expect(Math.abs(bucketValue(bucketOf(ms)) - ms)).toBeLessThanOrEqual(
          percentileErrorBound(ms),
        );
      }),
      { seed: 10, numRuns: 5000 },
    );
  });

  it('reports times up to 1 ms as 0.5 ms', () => {
    expect(percentileOf(histogramOf([0, 0.3, 1]), 50)).toBe(0.5);
  });

  it('answers nothing for an empty histogram', () => {
    expect(percentileOf(new Map(), 50)).toBeUndefined();
    expect(exactPercentile([], 99)).toBeUndefined();
  });

  it('finds the nearest-rank percentile within the bound, whatever the times', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 90_000, noNaN: true }), { minLength: 1, maxLength: 300 }),
        fc.constantFrom(50, 90, 95, 99),
        (values, p) => {
          const exact = exactPercentile(values, p) ?? Number.NaN;
          const reported = percentileOf(histogramOf(values), p) ?? Number.NaN;
          expect(Math.abs(reported - exact)).toBeLessThanOrEqual(percentileErrorBound(exact));
        },
      ),
      { seed: 11, numRuns: 1000 },
    );
  });

  it('takes the nearest rank: p50 of 1..10 is 5, p90 is 9, p99 is 10', () => {
    const values = [1.5, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    expect(exactPercentile(values, 50)).toBe(5);
    expect(exactPercentile(values, 90)).toBe(9);
    expect(exactPercentile(values, 99)).toBe(10);
    const histogram = histogramOf(values);
    expect(bucketOf(percentileOf(histogram, 50) ?? 0)).toBe(bucketOf(5));
    expect(bucketOf(percentileOf(histogram, 90) ?? 0)).toBe(bucketOf(9));
    expect(bucketOf(percentileOf(histogram, 99) ?? 0)).toBe(bucketOf(10));
  });
});
