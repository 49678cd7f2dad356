import { errorSummary } from '../errors.ts';
import { type AggregateDelta, emptyAggregate, merge, type Scope } from './aggregate.ts';
import {
  type AnalyticsReport,
  analyticsReport,
  type Bucketed,
  daysBetween,
  type HourRange,
  isClosedDay,
  planReads,
} from './report.ts';

/**
 * Analytics read from the aggregates: the hours of a range, or, for whole
 * days that are over, one item per day. A closed day without its item yet
 * is summed from its hours once and its item written (an empty day too),
 * so the next read of it is one item; nothing is written for a day still
 * taking writes (isClosedDay).
 */

export interface AnalyticsStore {
  /**
   * The scope's hour (`kind: 'hour'`) or day items from `from` to `to`
   * (bucket strings, both included), leaving out those expired by `nowMs`.
   */
  read(
    scope: Scope,
    kind: 'hour' | 'day',
    from: string,
    to: string,
    nowMs: number,
  ): Promise<Bucketed[]>;
  /** Writes day items whole (each the sum of its day's hours), but none already expired by `nowMs`. */
  saveDays(scope: Scope, days: readonly Bucketed[], nowMs: number): Promise<void>;
}

/** Where the delivery worker's batches add their aggregates (repositories/analytics.ts). */
export interface AnalyticsSink {
  /** Adds each delta to its item; answers the deltas that could not be written. */
  add(deltas: readonly AggregateDelta[]): Promise<AggregateDelta[]>;
}

export interface AnalyticsRead {
  report: AnalyticsReport;
  /** Items read from the table, for the benchmark and tests: bounded by the range, not the traffic. */
  itemsRead: number;
}

export interface AnalyticsServiceOptions {
  now?: () => Date;
  log?: (message: string, details: Record<string, unknown>) => void;
}

export class AnalyticsService {
  readonly #store: AnalyticsStore;
  readonly #now: () => Date;
  readonly #log: NonNullable<AnalyticsServiceOptions['log']>;

  constructor(store: AnalyticsStore, options: AnalyticsServiceOptions = {}) {
    this.#store = store;
    this.#now = options.now ?? (() => new Date());
    this.#log = options.log ?? (() => undefined);
  }

  async read(scope: Scope, range: HourRange): Promise<AnalyticsRead> {
    const nowMs = this.#now().getTime();
    const plan = planReads(range, nowMs);
    const [hours, days] = await Promise.all([
      Promise.all(
        plan.hourSpans.map(([from, to]) => this.#store.read(scope, 'hour', from, to, nowMs)),
      ),
      plan.days ? this.#days(scope, plan.days, nowMs) : { buckets: [], itemsRead: 0 },
    ]);
    const buckets = [...hours.flat(), ...days.buckets];
    return {
      report: analyticsReport(range, buckets, scope.webhookId ?? null),
      itemsRead: hours.flat().length + days.itemsRead,
    };
  }

  /** The days' items; those missing are summed from their hours and written. */
  async #days(
    scope: Scope,
    [first, last]: [string, string],
    nowMs: number,
  ): Promise<{ buckets: Bucketed[]; itemsRead: number }> {
    const found = await this.#store.read(scope, 'day', first, last, nowMs);
    const have = new Set(found.map(({ bucket }) => bucket));
    const missing = daysBetween(first, last).filter(
      (day) => !have.has(day) && isClosedDay(day, nowMs),
    );
    if (missing.length === 0) return { buckets: found, itemsRead: found.length };
    let itemsRead = found.length;
    const made: Bucketed[] = [];
    for (const [from, to] of runsOf(missing)) {
      const hours = await this.#store.read(scope, 'hour', `${from}T00`, `${to}T23`, nowMs);
      itemsRead += hours.length;
      const byDay = new Map(daysBetween(from, to).map((day) => [day, emptyAggregate()]));
      for (const { bucket, aggregate } of hours) {
        const day = byDay.get(bucket.slice(0, 10));
        if (day) merge(day, aggregate);
      }
      made.push(...[...byDay].map(([bucket, aggregate]) => ({ bucket, aggregate })));
    }
    try {
      await this.#store.saveDays(scope, made, nowMs);
    } catch (error) {
      // The answer stands without them: the next read sums those hours again.
      this.#log('Could not save day aggregates', {
        days: made.length,
        error: errorSummary(error),
      });
    }
    return { buckets: [...found, ...made], itemsRead };
  }
}

/** Consecutive days as [first, last] runs: one query of hours each. */
const runsOf = (days: readonly string[]): [string, string][] => {
  const runs: [string, string][] = [];
  for (const day of days) {
    const run = runs.at(-1);
    if (run && Date.parse(`${day}T00:00:00Z`) - Date.parse(`${run[1]}T00:00:00Z`) === 86_400_000) {
      run[1] = day;
    } else runs.push([day, day]);
  }
  return runs;
};
