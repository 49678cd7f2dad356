import * as v from 'valibot';
import { ValidationError } from '../errors.ts';
import { uuidString } from '../webhooks/fields.ts';
import { dateFrom, dateTo } from '../webhooks/list.ts';
import {
  type Aggregate,
  DAY_MS,
  dayOf,
  emptyAggregate,
  FINAL_STATUSES,
  HOUR_MS,
  hourOf,
  merge,
  startOf,
  successRatio,
} from './aggregate.ts';
import { percentileOf } from './histogram.ts';

/**
 * The analytics routes' query, the range of hours it reads, and the answer
 * built from the aggregates of those hours. Pure: the range comes from the
 * query and the time, the answer from the items read.
 *
 * Ranges are whole hours, the aggregates' grain: `date_from` counts from
 * the start of its hour, `date_to` to the end of its hour (a bare date, to
 * the end of that day). Without `date_from`, a range covers the 30 days that
 * end with the day of `date_to` (today by default), from that first day's
 * 00:00 UTC. A range may span at most 366 days; `granularity` is `hour`
 * (for ranges up to 31 days) or `day`, by default `hour` up to 72 hours and
 * `day` beyond.
 */

export const GRANULARITIES = ['hour', 'day'] as const;
export type Granularity = (typeof GRANULARITIES)[number];

export const DEFAULT_RANGE_DAYS = 30;
export const MAX_RANGE_DAYS = 366;
export const MAX_HOURLY_RANGE_DAYS = 31;
/** Ranges up to this many hours are answered by the hour unless asked otherwise. */
export const HOURLY_BY_DEFAULT_UP_TO_HOURS = 72;

const rangeFields = {
  date_from: v.optional(dateFrom),
  date_to: v.optional(dateTo),
  granularity: v.optional(v.picklist(GRANULARITIES, `must be one of ${GRANULARITIES.join(', ')}`)),
};

/** GET /webhooks/{id}/analytics. */
export const webhookAnalyticsQuerySchema = v.strictObject(rangeFields);

/** GET /webhooks/analytics: the tenant's, or one of its webhooks' with `webhook_id`. */
export const tenantAnalyticsQuerySchema = v.strictObject({
  ...rangeFields,
  webhook_id: v.optional(uuidString),
});

export type AnalyticsQuery = v.InferOutput<typeof webhookAnalyticsQuerySchema>;

/** A range of whole hours, both ends included (`2026-03-01T12`). */
export interface HourRange {
  fromHour: string;
  toHour: string;
  granularity: Granularity;
}

const hourAt = (ms: number): string => new Date(ms).toISOString().slice(0, 13);
const dayAt = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

export const hoursIn = (fromHour: string, toHour: string): number =>
  (startOf(toHour) - startOf(fromHour)) / HOUR_MS + 1;

/** The range a query asks for, checked; a ValidationError names each field at fault. */
export const analyticsRange = (query: AnalyticsQuery, now: Date): HourRange => {
  const to = query.date_to ?? now.toISOString();
  const from =
    query.date_from ??
    new Date(startOf(dayOf(to)) - (DEFAULT_RANGE_DAYS - 1) * DAY_MS).toISOString();
  // Only a given date_from can be: the default one is 30 days before date_to.
  if (from > to) {
    throw new ValidationError(
      [{ field: 'date_from', message: 'must not be after date_to (now, when not given)' }],
      'The query string is invalid',
    );
  }
  const fromHour = hourOf(from);
  const toHour = hourOf(to);
  const hours = hoursIn(fromHour, toHour);
  const problems = [];
  if (hours > MAX_RANGE_DAYS * 24) {
    problems.push({
      field: 'date_from',
      message: `the range may span at most ${MAX_RANGE_DAYS} days`,
    });
  }
  const granularity =
    query.granularity ?? (hours <= HOURLY_BY_DEFAULT_UP_TO_HOURS ? 'hour' : 'day');
  if (granularity === 'hour' && hours > MAX_HOURLY_RANGE_DAYS * 24) {
    problems.push({
      field: 'granularity',
      message: `hour is for ranges of at most ${MAX_HOURLY_RANGE_DAYS} days; ask for day`,
    });
  }
  if (problems.length > 0) throw new ValidationError(problems, 'The query string is invalid');
  return { fromHour, toHour, granularity };
};

/** After this long past its end, a day takes no more writes: a batch ends within the function's 90 s. */
export const DAY_CLOSED_AFTER_MS = 15 * 60_000;

export const isClosedDay = (day: string, nowMs: number): boolean =>
  startOf(day) + DAY_MS + DAY_CLOSED_AFTER_MS <= nowMs;

/**
 * What to read for a range: the whole days that are over as day items
 * (each the sum of its hours, written once the day is closed), the rest
 * (a first or last day in part, today) as hour items. So a 30-day range
 * reads at most 30 day items and 24 hour items, however many deliveries
 * there were. An hourly answer reads hours only.
 */
export interface ReadPlan {
  hourSpans: [string, string][];
  days?: [string, string] | undefined;
}

export const planReads = (range: HourRange, nowMs: number): ReadPlan => {
  const { fromHour, toHour } = range;
  if (range.granularity === 'hour') return { hourSpans: [[fromHour, toHour]] };
  const firstWhole = fromHour.endsWith('T00')
    ? dayOf(fromHour)
    : dayAt(startOf(dayOf(fromHour)) + DAY_MS);
  let lastWhole = toHour.endsWith('T23') ? dayOf(toHour) : dayAt(startOf(dayOf(toHour)) - DAY_MS);
  while (lastWhole >= firstWhole && !isClosedDay(lastWhole, nowMs)) {
    lastWhole = dayAt(startOf(lastWhole) - DAY_MS);
  }
  if (lastWhole < firstWhole) return { hourSpans: [[fromHour, toHour]] };
  const hourSpans: [string, string][] = [];
  if (startOf(fromHour) < startOf(firstWhole)) {
    hourSpans.push([fromHour, hourAt(startOf(firstWhole) - HOUR_MS)]);
  }
  const afterDays = startOf(lastWhole) + DAY_MS;
  if (afterDays <= startOf(toHour)) hourSpans.push([hourAt(afterDays), toHour]);
  return { hourSpans, days: [firstWhole, lastWhole] };
};

/** The days from `first` to `last`, both included. */
export const daysBetween = (first: string, last: string): string[] => {
  const days: string[] = [];
  for (let at = startOf(first); at <= startOf(last); at += DAY_MS) days.push(dayAt(at));
  return days;
};

/** An hour's or a day's aggregate (`bucket` is `2026-03-01T12` or `2026-03-01`). */
export interface Bucketed {
  bucket: string;
  aggregate: Aggregate;
}

const round2 = (value: number): number => Math.round(value * 100) / 100;

/** The timeline's points: every hour or day of the range, empty ones included. */
const timelineKeys = (range: HourRange): string[] => {
  const keys: string[] = [];
  const step = range.granularity === 'hour' ? HOUR_MS : DAY_MS;
  const first =
    range.granularity === 'hour' ? startOf(range.fromHour) : startOf(dayOf(range.fromHour));
  for (let at = first; at <= startOf(range.toHour); at += step) {
    keys.push(range.granularity === 'hour' ? hourAt(at) : dayAt(at));
  }
  return keys;
};

const timelineDate = (key: string): string => (key.length === 10 ? key : `${key}:00:00.000Z`);

/** The contract's answer for a range, from the aggregates read for it. */
export const analyticsReport = (
  range: HourRange,
  buckets: readonly Bucketed[],
  webhookId: string | null,
) => {
  const total = emptyAggregate();
  const timeline = new Map(
    timelineKeys(range).map((key): [string, { successful: number; failed: number }] => [
      key,
      { successful: 0, failed: 0 },
    ]),
  );
  for (const { bucket, aggregate } of buckets) {
    merge(total, aggregate);
    const point = timeline.get(range.granularity === 'hour' ? bucket : dayOf(bucket));
    if (point) {
      point.successful += aggregate.deliveries.delivered;
      point.failed += aggregate.deliveries.failed + aggregate.deliveries.abandoned;
    }
  }
  const { delivered, failed, abandoned } = total.deliveries;
  const deliveries = delivered + failed + abandoned;
  const attempts = total.attempts.ok + total.attempts.failed;
  const percentile = (p: number) => percentileOf(total.histogram, p) ?? 0;
  return {
    webhook_id: webhookId,
    date_from: new Date(startOf(range.fromHour)).toISOString(),
    date_to: new Date(startOf(range.toHour) + HOUR_MS - 1).toISOString(),
    granularity: range.granularity,
    metrics: {
      total_deliveries: deliveries,
      successful_deliveries: delivered,
      failed_deliveries: failed + abandoned,
      success_rate: round2((successRatio(delivered, deliveries) ?? 1) * 100),
      average_response_time: attempts > 0 ? round2(total.responseMsSum / attempts) : 0,
      deliveries_by_status: Object.fromEntries(
        FINAL_STATUSES.map((status) => [status, total.deliveries[status]]),
      ),
      deliveries_by_event_type: Object.fromEntries(
        [...total.byEventType].sort(([a], [b]) => a.localeCompare(b)),
      ),
      deliveries_timeline: [...timeline].map(([key, point]) => ({
        date: timelineDate(key),
        ...point,
      })),
      response_time_percentiles: {
        p50: percentile(50),
        p90: percentile(90),
        p95: percentile(95),
        p99: percentile(99),
      },
      attempts: { total: attempts, successful: total.attempts.ok, failed: total.attempts.failed },
      last_delivery_at: total.lastAttemptAt ?? null,
      last_success_at: total.lastSuccessAt ?? null,
      last_failure_at: total.lastFailureAt ?? null,
    },
  };
};

export type AnalyticsReport = ReturnType<typeof analyticsReport>;

const instant = v.pipe(v.string(), v.isoTimestamp());
const count = v.pipe(v.number(), v.integer(), v.minValue(0));
const ms = v.pipe(v.number(), v.minValue(0));

/** The answer's shape, for the OpenAPI document and the tests that hold answers to it. */
export const analyticsReportSchema = v.strictObject({
  webhook_id: v.nullable(v.pipe(v.string(), v.uuid())),
  date_from: instant,
  date_to: instant,
  granularity: v.picklist(GRANULARITIES),
  metrics: v.strictObject({
    total_deliveries: count,
    successful_deliveries: count,
    /** Failed and abandoned. */
    failed_deliveries: count,
    /** Percent, two decimals; 100 when there were no deliveries. */
    success_rate: v.pipe(v.number(), v.minValue(0), v.maxValue(100)),
    /** Mean of the attempts' durations, ms; 0 when there were no attempts. */
    average_response_time: ms,
    deliveries_by_status: v.strictObject({ delivered: count, failed: count, abandoned: count }),
    deliveries_by_event_type: v.record(v.string(), count),
    /** Every hour or day of the range: `2026-03-01` or `2026-03-01T12:00:00.000Z`. */
    deliveries_timeline: v.array(
      v.strictObject({ date: v.string(), successful: count, failed: count }),
    ),
    /** Of the attempts' durations, ms, within 4.33 % (docs/data-model.md); 0 when there were none. */
    response_time_percentiles: v.strictObject({ p50: ms, p90: ms, p95: ms, p99: ms }),
    attempts: v.strictObject({ total: count, successful: count, failed: count }),
    last_delivery_at: v.nullable(instant),
    last_success_at: v.nullable(instant),
    last_failure_at: v.nullable(instant),
  }),
});
