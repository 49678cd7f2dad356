import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../errors.ts';
import { emptyAggregate } from './aggregate.ts';
import {
  type AnalyticsQuery,
  analyticsRange,
  analyticsReport,
  analyticsReportSchema,
  planReads,
  webhookAnalyticsQuerySchema,
} from './report.ts';

const NOW = new Date('2026-03-31T10:20:00.000Z');
const query = (raw: Record<string, string>): AnalyticsQuery =>
  v.parse(webhookAnalyticsQuerySchema, raw);
const problems = (raw: Record<string, string>) => {
  try {
    analyticsRange(query(raw), NOW);
  } catch (error) {
    if (error instanceof ValidationError) return error.details;
    throw error;
  }
  return [];
};

describe('the range of a query', () => {
  it('is by default the 30 days ending today, from 00:00 UTC, by day', () => {
    expect(analyticsRange(query({}), NOW)).toEqual({
      fromHour: '2026-03-02T00',
      toHour: '2026-03-31T10',
      granularity: 'day',
    });
  });

  it('takes whole hours: date_from from its hour, date_to to the end of its hour or day', () => {
    expect(
      analyticsRange(
        query({ date_from: '2026-03-30T08:45:00Z', date_to: '2026-03-30T09:10:00Z' }),
        NOW,
      ),
    ).toEqual({ fromHour: '2026-03-30T08', toHour: '2026-03-30T09', granularity: 'hour' });
    expect(analyticsRange(query({ date_from: '2026-03-01', date_to: '2026-03-03' }), NOW)).toEqual({
      fromHour: '2026-03-01T00',
      toHour: '2026-03-03T23',
      granularity: 'hour',
    });
  });

  it('is by the hour up to 72 hours, by the day beyond, unless asked', () => {
    expect(
      analyticsRange(query({ date_from: '2026-03-01', date_to: '2026-03-04' }), NOW).granularity,
    ).toBe('day');
    expect(
      analyticsRange(
        query({ date_from: '2026-03-01', date_to: '2026-03-04', granularity: 'hour' }),
        NOW,
      ).granularity,
    ).toBe('hour');
  });

  it.each([
    [
      { date_from: '2026-03-05', date_to: '2026-03-04' },
      'date_from',
      'must not be after date_to (now, when not given)',
    ],
    [{ date_from: '2026-04-01' }, 'date_from', 'must not be after date_to (now, when not given)'],
    [
      { date_from: '2025-03-29', date_to: '2026-03-30' },
      'date_from',
      'the range may span at most 366 days',
    ],
    [
      { date_from: '2026-01-01', date_to: '2026-02-05', granularity: 'hour' },
      'granularity',
      'hour is for ranges of at most 31 days; ask for day',
    ],
  ])('refuses %j: %s %s', (raw, field, message) => {
    expect(problems(raw)).toEqual([{ field, message }]);
  });

  it('may span exactly 366 days', () => {
    expect(problems({ date_from: '2025-03-30', date_to: '2026-03-30' })).toEqual([]);
  });
});

describe('what a range reads', () => {
  const nowMs = NOW.getTime();

  it('by day: closed whole days as day items, the rest as hours', () => {
    expect(
      planReads({ fromHour: '2026-03-02T05', toHour: '2026-03-31T10', granularity: 'day' }, nowMs),
    ).toEqual({
      hourSpans: [
        ['2026-03-02T05', '2026-03-02T23'],
        ['2026-03-31T00', '2026-03-31T10'],
      ],
      days: ['2026-03-03', '2026-03-30'],
    });
  });

  it('leaves a day that ended less than 15 minutes ago to its hours', () => {
    const justAfter = Date.parse('2026-03-31T00:10:00Z');
    expect(
      planReads(
        { fromHour: '2026-03-29T00', toHour: '2026-03-31T00', granularity: 'day' },
        justAfter,
      ),
    ).toEqual({
      hourSpans: [['2026-03-30T00', '2026-03-31T00']],
      days: ['2026-03-29', '2026-03-29'],
    });
  });

  it('by hour, or without a whole closed day: hours only', () => {
    const range = { fromHour: '2026-03-30T05', toHour: '2026-03-31T10' } as const;
    expect(planReads({ ...range, granularity: 'hour' }, nowMs)).toEqual({
      hourSpans: [['2026-03-30T05', '2026-03-31T10']],
    });
    expect(planReads({ ...range, granularity: 'day' }, nowMs)).toEqual({
      hourSpans: [['2026-03-30T05', '2026-03-31T10']],
    });
  });
});

describe('the answer', () => {
  it('has every point of the timeline, zeros for nothing, in the contract’s shape', () => {
    // Prepare
    const range = {
      fromHour: '2026-03-30T22',
      toHour: '2026-03-31T01',
      granularity: 'hour',
    } as const;
    const busy = emptyAggregate();
    busy.deliveries.delivered = 3;
    busy.deliveries.abandoned = 1;

    // Act
    const report = analyticsReport(range, [{ bucket: '2026-03-31T00', aggregate: busy }], null);

    // Assess
    expect(v.is(analyticsReportSchema, report)).toBe(true);
    expect(report.date_from).toBe('2026-03-30T22:00:00.000Z');
    expect(report.date_to).toBe('2026-03-31T01:59:59.999Z');
    expect(report.metrics.deliveries_timeline).toEqual([
      { date: '2026-03-30T22:00:00.000Z', successful: 0, failed: 0 },
      { date: '2026-03-30T23:00:00.000Z', successful: 0, failed: 0 },
      { date: '2026-03-31T00:00:00.000Z', successful: 3, failed: 1 },
      { date: '2026-03-31T01:00:00.000Z', successful: 0, failed: 0 },
    ]);
    expect(report.metrics.success_rate).toBe(75);
  });

  it('without deliveries: a success rate of 100, times of 0', () => {
    const range = {
      fromHour: '2026-03-30T00',
      toHour: '2026-03-31T23',
      granularity: 'day',
    } as const;
    const { metrics } = analyticsReport(range, [], 'a');
    expect(metrics).toMatchObject({
      total_deliveries: 0,
      success_rate: 100,
      average_response_time: 0,
      response_time_percentiles: { p50: 0, p90: 0, p95: 0, p99: 0 },
      deliveries_timeline: [
        { date: '2026-03-30', successful: 0, failed: 0 },
        { date: '2026-03-31', successful: 0, failed: 0 },
      ],
    });
  });
});
