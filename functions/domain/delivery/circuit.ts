import * as v from 'valibot';
import type { WebhookRecord } from '../webhooks/schema.ts';
import type { SendResult } from './model.ts';

/**
 * Each webhook's circuit breaker and delivery lane, as pure functions of what
 * the webhook item stores, the time and the attempts' outcomes. The worker
 * does the reads and writes these ask for (worker.ts); nothing here does I/O.
 *
 * The breaker. Closed, it counts failures in a row (timeouts, connection
 * failures, 5xx); `failureThreshold` of them open it, or `timeoutThreshold`
 * timeouts among them, since a timeout holds a sender for the webhook's
 * whole timeout where a refusal or a 5xx takes milliseconds. Open, a webhook's jobs
 * are held (put back on the queue, no attempt spent) until `retry_at`; then
 * it is half-open and the first job to come claims the probe, a compare-and-
 * set on `retry_at` that also moves it to the next wait (doubled each time,
 * at most `maxOpenMs`), so a failed probe needs no write of its own. A probe
 * that gets any answer below 500 closes the circuit at once.
 *
 * The lanes. A webhook takes the standard lane until one of its sends waits
 * unanswered past its patience (`slowAfterMs`, a quarter of it for a new
 * receiver never seen to answer fast) or its circuit opens; then the
 * overflow lane, whose concurrency is its own, so slow and dead receivers
 * never hold the functions fast ones need. An answer within half of
 * `slowAfterMs` brings it back.
 */

export type Lane = 'standard' | 'overflow';

export interface IsolationSettings {
  /** Failures in a row that open the circuit; 0 turns the breaker off. */
  failureThreshold: number;
  /** Timeouts among them that open it sooner (at most failureThreshold). */
  timeoutThreshold: number;
  /** The wait before the first probe. */
  openMs: number;
  /** The longest wait between probes. */
  maxOpenMs: number;
  /** A send unanswered this long marks its receiver slow (a new receiver's: a quarter of it). */
  slowAfterMs: number;
  /** False when the stack has no overflow lane: every job takes the standard one. */
  overflowLane: boolean;
}

export type CircuitWebhook = Pick<
  WebhookRecord,
  | 'retry_config'
  | 'circuit_failures'
  | 'circuit_timeouts'
  | 'circuit_opened_at'
  | 'circuit_retry_at'
  | 'circuit_reopens'
  | 'circuit_probe_at'
  | 'circuit_last_failure'
  | 'lane'
>;

/** A probe may take the webhook's timeout and this much more before another may go. */
export const PROBE_MARGIN_MS = 5000;
/** Held jobs come back spread over at most this much, so they do not all arrive at once. */
const MAX_HOLD_JITTER_MS = 5000;
const MAX_FAILURE_TEXT = 200;

/** What an attempt says about the receiver: down, up (any answer below 500), or nothing (never contacted). */
export type Verdict = 'failure' | 'alive' | 'neutral';

const CONNECTION_FAILURES: ReadonlySet<string> = new Set([
  'timeout',
  'connect',
  'dns',
  'tls',
  'invalid_response',
]);

export const verdictOf = (result: Pick<SendResult, 'status_code' | 'error_class'>): Verdict => {
  if (typeof result.status_code === 'number')
    return result.status_code >= 500 ? 'failure' : 'alive';
  return result.error_class && CONNECTION_FAILURES.has(result.error_class) ? 'failure' : 'neutral';
};

/** A failure as the health route and the history show it. */
export const describeFailure = (
  result: Pick<SendResult, 'status_code' | 'error_class' | 'error_message'>,
): string => {
  const text =
    typeof result.status_code === 'number'
      ? `HTTP ${result.status_code}`
      : `${result.error_class ?? 'error'}: ${result.error_message ?? 'no answer'}`;
  return text.slice(0, MAX_FAILURE_TEXT);
};

export const probeLeaseMs = (webhook: Pick<WebhookRecord, 'retry_config'>): number =>
  webhook.retry_config.timeout + PROBE_MARGIN_MS;

/** The wait after `reopens` failed probes. */
export const cooldownMs = (reopens: number, settings: IsolationSettings): number =>
  Math.min(settings.maxOpenMs, settings.openMs * 2 ** Math.max(0, reopens));

/** A closed circuit's run: failures since the last answer, and how many of them timed out. */
export interface Run {
  failures: number;
  timeouts: number;
}

const runOf = (webhook: Pick<CircuitWebhook, 'circuit_failures' | 'circuit_timeouts'>): Run => ({
  failures: webhook.circuit_failures ?? 0,
  timeouts: webhook.circuit_timeouts ?? 0,
});

/** Whether a run opens the circuit. */
export const runOpens = (
  run: Run,
  settings: Pick<IsolationSettings, 'failureThreshold' | 'timeoutThreshold'>,
) =>
  settings.failureThreshold > 0 &&
  (run.failures >= settings.failureThreshold ||
    (settings.timeoutThreshold > 0 && run.timeouts >= settings.timeoutThreshold));

export type CircuitState =
  | { kind: 'closed'; run: Run }
  /** No probe may go before `retryAtMs`; `probeUntilMs` while the latest probe may still answer. */
  | { kind: 'open'; openedAt: string; retryAtMs: number; probeUntilMs?: number | undefined }
  /** The next job of the webhook may claim the probe. */
  | { kind: 'half-open'; openedAt: string };

export const circuitState = (
  webhook: CircuitWebhook,
  nowMs: number,
  settings: Pick<IsolationSettings, 'failureThreshold' | 'openMs'>,
): CircuitState => {
  const openedAt = webhook.circuit_opened_at;
  if (settings.failureThreshold === 0 || !openedAt) {
    return { kind: 'closed', run: runOf(webhook) };
  }
  const retryAtMs = webhook.circuit_retry_at
    ? Date.parse(webhook.circuit_retry_at)
    : Date.parse(openedAt) + settings.openMs;
  if (nowMs >= retryAtMs) return { kind: 'half-open', openedAt };
  const probeUntilMs = webhook.circuit_probe_at
    ? Date.parse(webhook.circuit_probe_at) + probeLeaseMs(webhook)
    : undefined;
  return {
    kind: 'open',
    openedAt,
    retryAtMs,
    ...(probeUntilMs !== undefined && probeUntilMs > nowMs ? { probeUntilMs } : {}),
  };
};

/** The claim of a probe: on condition that `retry_at` is still `seenRetryAt`, it moves to `retryAt`. */
export interface ProbeClaim {
  seenRetryAt: string | undefined;
  at: string;
  retryAt: string;
  reopens: number;
}

export type CircuitAdmission =
  | { kind: 'pass' }
  /** This job may probe once the claim is won; the webhook's other jobs wait for its answer. */
  | { kind: 'probe'; claim: ProbeClaim; othersUntilMs: number; reason: string }
  | { kind: 'hold'; untilMs: number; reason: string };

const openReason = (webhook: CircuitWebhook, openedAt: string): string =>
  `The receiver's circuit is open since ${openedAt}${
    webhook.circuit_last_failure ? ` (${webhook.circuit_last_failure})` : ''
  }`;

/** Whether a due job of an active webhook goes, probes, or waits (not sent, no attempt spent). */
export const circuitAdmission = (
  webhook: CircuitWebhook,
  nowMs: number,
  settings: IsolationSettings,
  random: () => number,
): CircuitAdmission => {
  const state = circuitState(webhook, nowMs, settings);
  const jitter = (spanMs: number) => Math.floor(random() * spanMs);
  switch (state.kind) {
    case 'closed':
      return { kind: 'pass' };
    case 'open': {
      const reason = openReason(webhook, state.openedAt);
      if (state.probeUntilMs !== undefined) {
        return {
          kind: 'hold',
          untilMs: state.probeUntilMs + jitter(1000),
          reason: `${reason}; a probe is waiting for its answer`,
        };
      }
      return {
        kind: 'hold',
        untilMs:
          state.retryAtMs + jitter(Math.min(MAX_HOLD_JITTER_MS, Math.ceil(settings.openMs / 4))),
        reason: `${reason}; the next probe goes at ${new Date(state.retryAtMs).toISOString()}`,
      };
    }
    case 'half-open': {
      const reopens = (webhook.circuit_reopens ?? 0) + 1;
      const lease = probeLeaseMs(webhook);
      return {
        kind: 'probe',
        claim: {
          seenRetryAt: webhook.circuit_retry_at ?? undefined,
          at: new Date(nowMs).toISOString(),
          retryAt: new Date(nowMs + Math.max(lease, cooldownMs(reopens, settings))).toISOString(),
          reopens,
        },
        othersUntilMs: nowMs + lease + jitter(1000),
        reason: `${openReason(webhook, state.openedAt)}; a probe is waiting for its answer`,
      };
    }
  }
};

/** What a write to the webhook's circuit and lane does; the repository turns it into one UpdateItem. */
export type CircuitUpdate =
  /** Opens the circuit, unless it is open already. */
  | { kind: 'open'; at: string; retryAt: string; run: Run; lastFailure: string }
  /**
   * Adds to the run while the circuit is closed; should the run reach a
   * threshold by it (other workers count too), opens the circuit instead,
   * until `retryAt`. The repository makes the two exact under concurrency.
   */
  | {
      kind: 'add-failures';
      run: Run;
      lastFailure: string;
      thresholds: { failures: number; timeouts: number };
      at: string;
      retryAt: string;
    }
  /** A success ended the run: the run since it, while it is closed. */
  | { kind: 'set-failures'; run: Run }
  /** A probe was answered: closed, in this lane. */
  | { kind: 'close'; at: string; lane: Lane }
  /** The receiver's lane changes, unless it is in that lane already. */
  | { kind: 'lane'; at: string; lane: Lane };

export interface CountedAttempt {
  result: Pick<SendResult, 'status_code' | 'error_class' | 'error_message'>;
  finishedAtMs: number;
}

/**
 * A batch's attempts of one webhook (probes apart), as the closed circuit's
 * count: a success ends the run, failures add to it, and a run of
 * `failureThreshold` opens it. An open circuit only moves on a probe.
 */
export const circuitAfterBatch = (
  webhook: CircuitWebhook,
  attempts: readonly CountedAttempt[],
  nowMs: number,
  settings: IsolationSettings,
): CircuitUpdate | undefined => {
  const state = circuitState(webhook, nowMs, settings);
  if (settings.failureThreshold === 0 || state.kind !== 'closed') return undefined;
  const judged = attempts
    .map((attempt) => ({ ...attempt, verdict: verdictOf(attempt.result) }))
    .filter(({ verdict }) => verdict !== 'neutral')
    .sort((a, b) => a.finishedAtMs - b.finishedAtMs);
  const lastAlive = judged.findLastIndex(({ verdict }) => verdict === 'alive');
  const trailing = judged.slice(lastAlive + 1);
  const lastFailure = trailing.at(-1);
  const added: Run = {
    failures: trailing.length,
    timeouts: trailing.filter(({ result }) => result.error_class === 'timeout').length,
  };
  const base: Run = lastAlive >= 0 ? { failures: 0, timeouts: 0 } : state.run;
  const run: Run = {
    failures: base.failures + added.failures,
    timeouts: base.timeouts + added.timeouts,
  };
  const opening = {
    at: new Date(nowMs).toISOString(),
    retryAt: new Date(nowMs + cooldownMs(0, settings)).toISOString(),
    lastFailure: lastFailure ? describeFailure(lastFailure.result) : '',
  };
  if (lastFailure && runOpens(run, settings)) return { kind: 'open', ...opening, run };
  if (lastAlive >= 0) {
    const same = run.failures === state.run.failures && run.timeouts === state.run.timeouts;
    return same ? undefined : { kind: 'set-failures', run };
  }
  return lastFailure
    ? {
        kind: 'add-failures',
        ...opening,
        run: added,
        thresholds: { failures: settings.failureThreshold, timeouts: settings.timeoutThreshold },
      }
    : undefined;
};

/** A probe's answer: any answer below 500 closes the circuit; a failure leaves the claim's next wait. */
export const afterProbe = (
  result: Pick<SendResult, 'status_code' | 'error_class'>,
  durationMs: number,
  finishedAtMs: number,
  settings: IsolationSettings,
): CircuitUpdate | undefined =>
  verdictOf(result) === 'alive'
    ? {
        kind: 'close',
        at: new Date(finishedAtMs).toISOString(),
        lane:
          settings.overflowLane && !answeredFast(durationMs, settings) ? 'overflow' : 'standard',
      }
    : undefined;

const answeredFast = (durationMs: number, settings: IsolationSettings) =>
  durationMs <= settings.slowAfterMs / 2;

/** The lane a webhook's next job takes. */
/**
 * The lane a webhook's next job takes. A new receiver (no lane stored yet)
 * starts in the standard lane, on short patience (patienceMs).
 */
export const laneOf = (
  webhook: Pick<CircuitWebhook, 'lane' | 'circuit_opened_at'>,
  settings: Pick<IsolationSettings, 'overflowLane' | 'failureThreshold'>,
): Lane => {
  if (!settings.overflowLane) return 'standard';
  if (webhook.circuit_opened_at && settings.failureThreshold > 0) return 'overflow';
  return webhook.lane === 'overflow' ? 'overflow' : 'standard';
};

/**
 * How long a standard-lane send may wait unanswered before its receiver
 * moves to the overflow lane: `slowAfterMs` once it has answered fast, a
 * quarter of it while it never has, so a batch of new dead receivers holds
 * the standard lane for a fraction of a second, not for their timeout.
 */
export const patienceMs = (
  webhook: Pick<CircuitWebhook, 'lane'>,
  settings: Pick<IsolationSettings, 'slowAfterMs'>,
): number => (webhook.lane === 'standard' ? settings.slowAfterMs : settings.slowAfterMs / 4);

/**
 * A lane change an answer calls for: a fast answer (at most half of
 * `slowAfterMs`) makes a receiver proven in the standard lane; one slower
 * than its patience moves it to the overflow lane (a send still unanswered
 * then does the same, before its answer: slowSendMark).
 */
export const laneAfterAnswer = (
  webhook: Pick<CircuitWebhook, 'lane'>,
  result: Pick<SendResult, 'status_code' | 'error_class'>,
  durationMs: number,
  finishedAtMs: number,
  settings: IsolationSettings,
): CircuitUpdate | undefined => {
  if (!settings.overflowLane || verdictOf(result) !== 'alive') return undefined;
  const at = new Date(finishedAtMs).toISOString();
  if (webhook.lane !== 'standard' && answeredFast(durationMs, settings)) {
    return { kind: 'lane', at, lane: 'standard' };
  }
  if (webhook.lane !== 'overflow' && durationMs > patienceMs(webhook, settings)) {
    return { kind: 'lane', at, lane: 'overflow' };
  }
  return undefined;
};

/** A send of a standard-lane receiver still unanswered after its patience moves it to the overflow lane. */
export const slowSendMark = (lane: Lane, atMs: number): CircuitUpdate | undefined =>
  lane === 'standard'
    ? { kind: 'lane', at: new Date(atMs).toISOString(), lane: 'overflow' }
    : undefined;

/** The stored state once a write has been made: what the rest of the batch goes by. */
export const withUpdate = <W extends CircuitWebhook>(webhook: W, update: CircuitUpdate): W => {
  switch (update.kind) {
    case 'open':
      return {
        ...webhook,
        circuit_opened_at: update.at,
        circuit_retry_at: update.retryAt,
        circuit_reopens: 0,
        circuit_failures: update.run.failures,
        circuit_timeouts: update.run.timeouts,
        circuit_last_failure: update.lastFailure,
        circuit_probe_at: null,
      };
    case 'add-failures': {
      const stored = runOf(webhook);
      const run = {
        failures: stored.failures + update.run.failures,
        timeouts: stored.timeouts + update.run.timeouts,
      };
      const { failures, timeouts } = update.thresholds;
      return runOpens(run, { failureThreshold: failures, timeoutThreshold: timeouts })
        ? withUpdate(webhook, { ...update, kind: 'open', run })
        : {
            ...webhook,
            circuit_failures: run.failures,
            circuit_timeouts: run.timeouts,
            circuit_last_failure: update.lastFailure,
          };
    }
    case 'set-failures':
      return {
        ...webhook,
        circuit_failures: update.run.failures,
        circuit_timeouts: update.run.timeouts,
      };
    case 'close':
      return {
        ...webhook,
        circuit_opened_at: null,
        circuit_retry_at: null,
        circuit_reopens: 0,
        circuit_probe_at: null,
        circuit_failures: 0,
        circuit_timeouts: 0,
        circuit_last_failure: null,
        lane: update.lane,
      };
    case 'lane':
      return { ...webhook, lane: update.lane };
  }
};

/** The stored state once a probe's claim is won. */
export const withProbeClaim = <W extends CircuitWebhook>(webhook: W, claim: ProbeClaim): W => ({
  ...webhook,
  circuit_retry_at: claim.retryAt,
  circuit_probe_at: claim.at,
  circuit_reopens: claim.reopens,
});

const timestamp = v.nullable(v.pipe(v.string(), v.isoTimestamp()));

/** The breaker and lane in GET /webhooks/{id}/health (`circuit`). */
export const circuitViewSchema = v.strictObject({
  /** `half_open`: the next job probes the receiver. */
  state: v.picklist(['closed', 'open', 'half_open']),
  /** Counted failures in a row while closed; null while open. */
  consecutive_failures: v.nullable(v.number()),
  /** How many of them timed out. */
  consecutive_timeouts: v.nullable(v.number()),
  opened_at: timestamp,
  next_probe_at: timestamp,
  probe_in_flight: v.boolean(),
  last_failure: v.nullable(v.string()),
  /** Which delivery lane its jobs take (docs/architecture.md, "Isolation"). */
  lane: v.picklist(['standard', 'overflow']),
  lane_since: timestamp,
});

export type CircuitView = v.InferOutput<typeof circuitViewSchema>;

/**
 * The breaker and lane as the health route shows them (no settings needed:
 * all of it is in the stored fields and the clock).
 */
export const circuitView = (
  webhook: CircuitWebhook & Pick<WebhookRecord, 'lane_since'>,
  nowMs: number,
): CircuitView => {
  const openedAt = webhook.circuit_opened_at ?? null;
  const retryAtMs = webhook.circuit_retry_at ? Date.parse(webhook.circuit_retry_at) : undefined;
  const probeAtMs = webhook.circuit_probe_at ? Date.parse(webhook.circuit_probe_at) : undefined;
  const probing =
    openedAt !== null && probeAtMs !== undefined && nowMs < probeAtMs + probeLeaseMs(webhook);
  const state = !openedAt
    ? 'closed'
    : retryAtMs !== undefined && nowMs < retryAtMs
      ? 'open'
      : 'half_open';
  return {
    state,
    consecutive_failures: openedAt ? null : (webhook.circuit_failures ?? 0),
    consecutive_timeouts: openedAt ? null : (webhook.circuit_timeouts ?? 0),
    opened_at: openedAt,
    next_probe_at: openedAt ? (webhook.circuit_retry_at ?? null) : null,
    probe_in_flight: probing,
    last_failure: openedAt ? (webhook.circuit_last_failure ?? null) : null,
    lane: webhook.lane !== 'overflow' && !openedAt ? 'standard' : 'overflow',
    lane_since: webhook.lane_since ?? null,
  };
};
