import { describe, expect, it } from 'vitest';
import {
  afterProbe,
  type CircuitWebhook,
  circuitAdmission,
  circuitAfterBatch,
  circuitState,
  circuitView,
  cooldownMs,
  describeFailure,
  type IsolationSettings,
  laneAfterAnswer,
  laneOf,
  PROBE_MARGIN_MS,
  patienceMs,
  slowSendMark,
  verdictOf,
  withProbeClaim,
  withUpdate,
} from './circuit.ts';

const SETTINGS: IsolationSettings = {
  failureThreshold: 3,
  timeoutThreshold: 2,
  openMs: 30_000,
  maxOpenMs: 600_000,
  slowAfterMs: 1000,
  overflowLane: true,
};
const T0 = Date.parse('2026-06-01T12:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();
const noJitter = () => 0;

type Stored = CircuitWebhook & { lane_since?: string | null };

const closed = (changes: Partial<Stored> = {}): Stored => ({
  retry_config: {
    strategy: 'exponential_backoff',
    max_attempts: 3,
    initial_delay: 1000,
    max_delay: 300_000,
    backoff_multiplier: 2,
    timeout: 5000,
  },
  lane: 'standard',
  ...changes,
});
const open = (changes: Partial<Stored> = {}) =>
  closed({
    circuit_opened_at: iso(T0),
    circuit_retry_at: iso(T0 + 30_000),
    circuit_reopens: 0,
    circuit_failures: 3,
    circuit_last_failure: 'timeout: no answer within 5000 ms',
    ...changes,
  });

const timeout = { error_class: 'timeout', error_message: 'no answer within 5000 ms' } as const;
const refused = { error_class: 'connect', error_message: 'ECONNREFUSED' } as const;
const ok = { status_code: 200 } as const;
const at = (result: object, finishedAtMs: number) => ({ result, finishedAtMs });

describe('what an attempt says about its receiver', () => {
  it.each([
    [{ status_code: 200 }, 'alive'],
    [{ status_code: 302 }, 'alive'],
    [{ status_code: 404 }, 'alive'],
    [{ status_code: 429 }, 'alive'],
    [{ status_code: 500 }, 'failure'],
    [{ status_code: 503 }, 'failure'],
    [{ error_class: 'timeout' }, 'failure'],
    [{ error_class: 'connect' }, 'failure'],
    [{ error_class: 'dns' }, 'failure'],
    [{ error_class: 'tls' }, 'failure'],
    [{ error_class: 'invalid_response' }, 'failure'],
    // Never contacted: the service's refusal or the webhook's own settings.
    [{ error_class: 'ssrf' }, 'neutral'],
    [{ error_class: 'config' }, 'neutral'],
  ] as const)('%j is %s', (result, verdict) => {
    expect(verdictOf(result)).toBe(verdict);
  });

  it('describes a failure by its status, or its class and message', () => {
    expect(describeFailure({ status_code: 503 })).toBe('HTTP 503');
    expect(describeFailure(timeout)).toBe('timeout: no answer within 5000 ms');
    expect(
      describeFailure({ error_class: 'connect', error_message: 'x'.repeat(500) }),
    ).toHaveLength(200);
  });
});

const run = (failures: number, timeouts = 0) => ({ failures, timeouts });

describe('closed: counting failures in a row', () => {
  it.each([
    [
      'a success after failures ends the run',
      2,
      [at(timeout, 1), at(ok, 2)],
      { kind: 'set-failures', run: run(0) },
    ],
    [
      'failures after the last success start a new run',
      2,
      [at(ok, 1), at(timeout, 2)],
      { kind: 'set-failures', run: run(1, 1) },
    ],
    [
      'only failures add to the stored run',
      1,
      [at(refused, 1)],
      {
        kind: 'add-failures',
        run: run(1),
        lastFailure: 'connect: ECONNREFUSED',
        // Should other workers' failures bring the run to a threshold first, this count opens it.
        thresholds: { failures: 3, timeouts: 2 },
        at: iso(T0),
        retryAt: iso(T0 + 30_000),
      },
    ],
    ['nothing changes: no write', 0, [at(ok, 1), at(ok, 2)], undefined],
    [
      'answers below 500 are alive, a 4xx included',
      1,
      [at({ status_code: 404 }, 1)],
      { kind: 'set-failures', run: run(0) },
    ],
    [
      'attempts that reached no receiver say nothing',
      1,
      [at({ error_class: 'ssrf' }, 1)],
      undefined,
    ],
  ] as const)('%s', (_, stored, attempts, update) => {
    expect(circuitAfterBatch(closed({ circuit_failures: stored }), attempts, T0, SETTINGS)).toEqual(
      update,
    );
  });

  it('opens when the run reaches the threshold, from the stored run', () => {
    expect(
      circuitAfterBatch(
        closed({ circuit_failures: 2 }),
        [at({ status_code: 503 }, 1)],
        T0,
        SETTINGS,
      ),
    ).toEqual({
      kind: 'open',
      at: iso(T0),
      retryAt: iso(T0 + 30_000),
      run: run(3),
      lastFailure: 'HTTP 503',
    });
  });

  it('opens sooner on timeouts, which hold a sender for the whole timeout', () => {
    expect(
      circuitAfterBatch(
        closed({ circuit_failures: 1, circuit_timeouts: 1 }),
        [at(timeout, 1)],
        T0,
        SETTINGS,
      ),
    ).toMatchObject({ kind: 'open', run: run(2, 2) });
    // Fast failures count only towards the failure threshold.
    expect(
      circuitAfterBatch(closed({ circuit_failures: 1 }), [at(refused, 1)], T0, SETTINGS),
    ).toMatchObject({ kind: 'add-failures', run: run(1) });
  });

  it('opens on a run within one batch, whatever came before it', () => {
    const update = circuitAfterBatch(
      closed({ circuit_failures: 0 }),
      [at(timeout, 4), at(ok, 1), at(refused, 2), at({ status_code: 502 }, 3)],
      T0,
      SETTINGS,
    );
    expect(update).toMatchObject({
      kind: 'open',
      run: run(3, 1),
      lastFailure: 'timeout: no answer within 5000 ms',
    });
  });

  it('does nothing while open (only a probe moves it) or with the breaker off', () => {
    expect(circuitAfterBatch(open(), [at(ok, 1)], T0 + 1000, SETTINGS)).toBeUndefined();
    expect(
      circuitAfterBatch(closed(), [at(timeout, 1), at(timeout, 2), at(timeout, 3)], T0, {
        ...SETTINGS,
        failureThreshold: 0,
      }),
    ).toBeUndefined();
  });
});

describe('the snapshot a batch goes by after its writes', () => {
  it('counts a failure added, and opens when the count reaches a threshold', () => {
    const add = (failures: number, timeouts: number) =>
      ({
        kind: 'add-failures',
        run: run(failures, timeouts),
        lastFailure: 'HTTP 503',
        thresholds: { failures: 3, timeouts: 2 },
        at: iso(T0),
        retryAt: iso(T0 + 30_000),
      }) as const;
    const counted = withUpdate(closed({ circuit_failures: 1 }), add(1, 0));
    expect(counted.circuit_failures).toBe(2);
    expect(counted.circuit_opened_at).toBeUndefined();
    expect(withUpdate(closed({ circuit_failures: 2 }), add(1, 0))).toMatchObject({
      circuit_failures: 3,
      circuit_opened_at: iso(T0),
      circuit_retry_at: iso(T0 + 30_000),
    });
    expect(
      withUpdate(closed({ circuit_failures: 1, circuit_timeouts: 1 }), add(1, 1)),
    ).toMatchObject({ circuit_timeouts: 2, circuit_opened_at: iso(T0) });
  });
});

describe('states', () => {
  it.each([
    [
      'closed without an opening',
      closed({ circuit_failures: 2 }),
      T0,
      { kind: 'closed', run: { failures: 2, timeouts: 0 } },
    ],
    [
      'open before retry_at',
      open(),
      T0 + 29_999,
      { kind: 'open', openedAt: iso(T0), retryAtMs: T0 + 30_000 },
    ],
    ['half-open from retry_at', open(), T0 + 30_000, { kind: 'half-open', openedAt: iso(T0) }],
    [
      'open with a probe out until its lease ends',
      open({ circuit_probe_at: iso(T0 + 1000), circuit_retry_at: iso(T0 + 61_000) }),
      T0 + 2000,
      {
        kind: 'open',
        openedAt: iso(T0),
        retryAtMs: T0 + 61_000,
        probeUntilMs: T0 + 1000 + 5000 + PROBE_MARGIN_MS,
      },
    ],
    [
      'open, its probe over, until the next retry',
      open({ circuit_probe_at: iso(T0 + 1000), circuit_retry_at: iso(T0 + 61_000) }),
      T0 + 20_000,
      { kind: 'open', openedAt: iso(T0), retryAtMs: T0 + 61_000 },
    ],
  ] as const)('%s', (_, webhook, now, state) => {
    expect(circuitState(webhook, now, SETTINGS)).toEqual(state);
  });

  it('is always closed with the breaker off', () => {
    expect(circuitState(open(), T0, { ...SETTINGS, failureThreshold: 0 })).toEqual({
      kind: 'closed',
      run: { failures: 3, timeouts: 0 },
    });
  });
});

describe('admission', () => {
  it('lets every job of a closed circuit go', () => {
    expect(circuitAdmission(closed(), T0, SETTINGS, noJitter)).toEqual({ kind: 'pass' });
  });

  it('holds an open circuit’s jobs until the next probe, spread by jitter, and says why', () => {
    const held = circuitAdmission(open(), T0 + 1000, SETTINGS, () => 0.5);
    expect(held).toEqual({
      kind: 'hold',
      untilMs: T0 + 30_000 + 2500,
      reason: `The receiver's circuit is open since ${iso(T0)} (timeout: no answer within 5000 ms); the next probe goes at ${iso(T0 + 30_000)}`,
    });
  });

  it('holds jobs while a probe is out only until the probe must have answered', () => {
    const probing = open({
      circuit_probe_at: iso(T0 + 30_000),
      circuit_retry_at: iso(T0 + 90_000),
    });
    const held = circuitAdmission(probing, T0 + 31_000, SETTINGS, noJitter);
    expect(held).toMatchObject({ kind: 'hold', untilMs: T0 + 30_000 + 5000 + PROBE_MARGIN_MS });
  });

  it('lets one job probe a half-open circuit, claiming it by retry_at and setting the next wait', () => {
    const now = T0 + 30_000;
    const admission = circuitAdmission(open(), now, SETTINGS, noJitter);
    expect(admission).toMatchObject({
      kind: 'probe',
      claim: {
        seenRetryAt: iso(T0 + 30_000),
        at: iso(now),
        retryAt: iso(now + 60_000),
        reopens: 1,
      },
      othersUntilMs: now + 5000 + PROBE_MARGIN_MS,
    });
  });

  it('waits longer after each failed probe, up to the most', () => {
    expect([0, 1, 2, 3, 4, 5, 6].map((reopens) => cooldownMs(reopens, SETTINGS))).toEqual([
      30_000, 60_000, 120_000, 240_000, 480_000, 600_000, 600_000,
    ]);
    const after = circuitAdmission(open({ circuit_reopens: 5 }), T0 + 30_000, SETTINGS, noJitter);
    expect(after).toMatchObject({ claim: { retryAt: iso(T0 + 30_000 + 600_000), reopens: 6 } });
  });

  it('never lets the next probe start before a slow probe’s lease is over', () => {
    const short = { ...SETTINGS, openMs: 1000, maxOpenMs: 1000 };
    const admission = circuitAdmission(open(), T0 + 30_000, short, noJitter);
    expect(admission).toMatchObject({
      claim: { retryAt: iso(T0 + 30_000 + 5000 + PROBE_MARGIN_MS) },
    });
  });
});

describe('a probe and what follows it', () => {
  it('closes on any answer below 500, in the lane its speed calls for', () => {
    expect(afterProbe(ok, 100, T0, SETTINGS)).toEqual({
      kind: 'close',
      at: iso(T0),
      lane: 'standard',
    });
    expect(afterProbe({ status_code: 404 }, 900, T0, SETTINGS)).toEqual({
      kind: 'close',
      at: iso(T0),
      lane: 'overflow',
    });
  });

  it('writes nothing on a failure: the claim set the next wait', () => {
    expect(afterProbe(timeout, 5000, T0, SETTINGS)).toBeUndefined();
    expect(afterProbe({ status_code: 502 }, 10, T0, SETTINGS)).toBeUndefined();
  });

  it('takes the whole path: closed, open, held, probed, open again, probed, closed', () => {
    let webhook = closed();
    const failures = [at(timeout, 1), at(timeout, 2), at(timeout, 3)];
    const opened = circuitAfterBatch(webhook, failures, T0, SETTINGS);
    if (!opened) throw new Error('expected the circuit to open');
    webhook = withUpdate(webhook, opened);
    expect(laneOf(webhook, SETTINGS)).toBe('overflow');
    expect(circuitAdmission(webhook, T0 + 10_000, SETTINGS, noJitter).kind).toBe('hold');

    const first = circuitAdmission(webhook, T0 + 30_000, SETTINGS, noJitter);
    if (first.kind !== 'probe') throw new Error('expected a probe');
    webhook = withProbeClaim(webhook, first.claim);
    // The probe times out: nothing written; the next waits twice as long.
    expect(afterProbe(timeout, 5000, T0 + 35_000, SETTINGS)).toBeUndefined();
    expect(circuitAdmission(webhook, T0 + 89_999, SETTINGS, noJitter).kind).toBe('hold');

    const second = circuitAdmission(webhook, T0 + 90_000, SETTINGS, noJitter);
    if (second.kind !== 'probe') throw new Error('expected a second probe');
    expect(second.claim).toMatchObject({ seenRetryAt: iso(T0 + 90_000), reopens: 2 });
    webhook = withProbeClaim(webhook, second.claim);
    const close = afterProbe(ok, 40, T0 + 90_040, SETTINGS);
    if (!close) throw new Error('expected the probe to close it');
    webhook = withUpdate(webhook, close);
    expect(circuitState(webhook, T0 + 90_041, SETTINGS)).toEqual({
      kind: 'closed',
      run: { failures: 0, timeouts: 0 },
    });
    expect(laneOf(webhook, SETTINGS)).toBe('standard');
    expect(circuitAdmission(webhook, T0 + 90_041, SETTINGS, noJitter)).toEqual({ kind: 'pass' });
  });
});

describe('lanes', () => {
  it.each([
    ['a new webhook (no lane yet)', closed({ lane: undefined }), 'standard'],
    ['one that answered fast', closed({ lane: 'standard' }), 'standard'],
    ['one marked slow', closed({ lane: 'overflow' }), 'overflow'],
    ['one with an open circuit', open({ lane: 'standard' }), 'overflow'],
  ] as const)('%s takes the %s lane', (_, webhook, lane) => {
    expect(laneOf(webhook, SETTINGS)).toBe(lane);
  });

  it('is always the standard lane without an overflow lane', () => {
    expect(laneOf(open(), { ...SETTINGS, overflowLane: false })).toBe('standard');
  });

  it('gives a receiver never seen answering fast a quarter of the patience', () => {
    expect(patienceMs({ lane: 'standard' }, SETTINGS)).toBe(1000);
    expect(patienceMs({ lane: undefined }, SETTINGS)).toBe(250);
  });

  it.each([
    ['a fast answer proves a new receiver', undefined, ok, 500, 'standard'],
    ['a fast answer brings a slow one back', 'overflow', ok, 500, 'standard'],
    ['a fast 4xx too: it holds nothing', 'overflow', { status_code: 404 }, 10, 'standard'],
    ['between half and all of slowAfterMs changes nothing', 'overflow', ok, 700, undefined],
    ['an answer past the patience demotes', 'standard', ok, 1500, 'overflow'],
    ['a new receiver has less patience', undefined, ok, 600, 'overflow'],
    [
      'a fast failure changes no lane: the breaker counts it',
      'overflow',
      { status_code: 503 },
      5,
      undefined,
    ],
    ['a timeout changes no lane after the fact', 'overflow', timeout, 5000, undefined],
  ] as const)('%s', (_, lane, result, durationMs, next) => {
    const change = laneAfterAnswer({ lane }, result, durationMs, T0, SETTINGS);
    expect(change).toEqual(next ? { kind: 'lane', at: iso(T0), lane: next } : undefined);
  });

  it('marks a standard-lane receiver slow while its send is still out', () => {
    expect(slowSendMark('standard', T0)).toEqual({ kind: 'lane', at: iso(T0), lane: 'overflow' });
    expect(slowSendMark('overflow', T0)).toBeUndefined();
  });
});

describe('the health view', () => {
  it.each([
    [
      'closed',
      closed({ circuit_failures: 2, lane_since: iso(T0) }),
      T0,
      {
        state: 'closed',
        consecutive_failures: 2,
        consecutive_timeouts: 0,
        opened_at: null,
        next_probe_at: null,
        probe_in_flight: false,
        last_failure: null,
        lane: 'standard',
        lane_since: iso(T0),
      },
    ],
    [
      'open',
      open(),
      T0 + 1000,
      {
        state: 'open',
        consecutive_failures: null,
        consecutive_timeouts: null,
        opened_at: iso(T0),
        next_probe_at: iso(T0 + 30_000),
        probe_in_flight: false,
        last_failure: 'timeout: no answer within 5000 ms',
        lane: 'overflow',
        lane_since: null,
      },
    ],
    [
      'half-open',
      open(),
      T0 + 30_000,
      expect.objectContaining({ state: 'half_open', probe_in_flight: false }),
    ],
    [
      'probing',
      open({ circuit_probe_at: iso(T0 + 30_000), circuit_retry_at: iso(T0 + 90_000) }),
      T0 + 31_000,
      expect.objectContaining({
        state: 'open',
        probe_in_flight: true,
        next_probe_at: iso(T0 + 90_000),
      }),
    ],
  ] as const)('%s', (_, webhook, now, view) => {
    expect(circuitView(webhook, now)).toEqual(view);
  });
});
