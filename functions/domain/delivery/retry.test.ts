import { describe, expect, it } from 'vitest';
import { DEFAULT_RETRY_CONFIG, MAX_RETRY_DELAY_MS, type RetryConfig } from '../webhooks/schema.ts';
import { nextStep, retryAfterDelayMs, retryDelayMs } from './retry.ts';

const aConfig = (overrides: Partial<RetryConfig> = {}): RetryConfig => ({
  ...DEFAULT_RETRY_CONFIG,
  ...overrides,
});

/** random() of 0.5 means no jitter; 0 the shortest wait (-20 %); just under 1 the longest. */
const noJitter = () => 0.5;
const shortest = () => 0;
const longest = () => 0.999_999_999;

describe('retryDelayMs', () => {
  it.each<[Partial<RetryConfig>, number[]]>([
    [{ strategy: 'exponential_backoff' }, [1000, 2000, 4000, 8000]],
    [{ strategy: 'exponential_backoff', backoff_multiplier: 3 }, [1000, 3000, 9000, 27_000]],
    [{ strategy: 'linear_backoff', initial_delay: 5000 }, [5000, 10_000, 15_000, 20_000]],
    [{ strategy: 'fixed_interval', initial_delay: 7000 }, [7000, 7000, 7000, 7000]],
    [{ strategy: 'custom', delays: [0, 5000, 300_000] }, [0, 5000, 300_000, 300_000]],
  ])('%j waits %j after attempts 1-4', (overrides, expected) => {
    // Prepare
    const config = aConfig(overrides);

    // Act
    const delays = [1, 2, 3, 4].map((attempt) => retryDelayMs(config, attempt, noJitter));

    // Assess
    expect(delays).toEqual(expected);
  });

  it('caps the backoff strategies at max_delay', () => {
    // Prepare
    const exponential = aConfig({ max_delay: 10_000, backoff_multiplier: 10 });
    const linear = aConfig({ strategy: 'linear_backoff', initial_delay: 4000, max_delay: 10_000 });

    // Act
    const delays = [retryDelayMs(exponential, 9, noJitter), retryDelayMs(linear, 9, noJitter)];

    // Assess
    expect(delays).toEqual([10_000, 10_000]);
  });

  it('lets a custom schedule exceed max_delay, up to 24 h', () => {
    // Prepare
    const config = aConfig({ strategy: 'custom', max_delay: 1000, delays: [36_000_000] });

    // Act
    const delay = retryDelayMs(config, 1, noJitter);

    // Assess
    expect(delay).toBe(36_000_000);
  });

  it('jitters by ±20 %', () => {
    // Prepare
    const config = aConfig({ initial_delay: 10_000, max_delay: 100_000 });

    // Act
    const range = [retryDelayMs(config, 1, shortest), retryDelayMs(config, 1, longest)];

    // Assess
    expect(range).toEqual([8000, 12_000]);
  });

  it('never jitters past the cap', () => {
    // Prepare
    const capped = aConfig({ max_delay: 10_000, initial_delay: 10_000 });
    const custom = aConfig({ strategy: 'custom', delays: [MAX_RETRY_DELAY_MS] });

    // Act
    const delays = [retryDelayMs(capped, 3, longest), retryDelayMs(custom, 1, longest)];

    // Assess
    expect(delays).toEqual([10_000, MAX_RETRY_DELAY_MS]);
  });

  it('stays within bounds and whole for any random value, even a misbehaving one', () => {
    // Prepare
    const config = aConfig({ initial_delay: 1234 });
    const randoms = [-1, 0, 0.1, 0.5, 0.9, 1, 2];

    // Act
    const delays = randoms.map((value) => retryDelayMs(config, 2, () => value));

    // Assess
    for (const delay of delays) {
      expect(Number.isInteger(delay)).toBe(true);
      expect(delay).toBeGreaterThanOrEqual(Math.round(2468 * 0.8));
      expect(delay).toBeLessThanOrEqual(Math.round(2468 * 1.2));
    }
  });
});

describe('retryAfterDelayMs', () => {
  it.each([
    [undefined, 2000, 2000],
    [30_000, 2000, 30_000],
    [500, 2000, 2000],
    [1500.2, 1000, 1501],
    [7 * MAX_RETRY_DELAY_MS, 2000, MAX_RETRY_DELAY_MS],
    [Number.NaN, 2000, 2000],
    [-5000, 2000, 2000],
  ])('Retry-After %s ms with a scheduled %s ms waits %s ms', (retryAfter, scheduled, expected) => {
    expect(retryAfterDelayMs(retryAfter, scheduled)).toBe(expected);
  });
});

describe('nextStep', () => {
  const base = { config: aConfig(), attempt: 1, random: noJitter };

  it.each([200, 201, 204, 299])('counts %s as delivered', (statusCode) => {
    expect(nextStep({ ...base, statusCode })).toEqual({ kind: 'delivered' });
  });

  it('fails on 410 Gone and disables the webhook, even with attempts left', () => {
    expect(nextStep({ ...base, statusCode: 410 })).toEqual({
      kind: 'fail',
      reason: 'the receiver answered 410 Gone; the webhook is disabled',
      disableWebhook: true,
    });
  });

  it.each(['ssrf', 'config'] as const)('fails without retrying on a %s error', (errorClass) => {
    // Act
    const step = nextStep({ ...base, errorClass });

    // Assess
    expect(step).toMatchObject({ kind: 'fail', disableWebhook: false });
    expect(step.kind === 'fail' && step.reason).toMatch(/; not retried$/);
  });

  it.each([
    [{ statusCode: 500 }, 1000],
    [{ statusCode: 302 }, 1000],
    [{ statusCode: 404 }, 1000],
    [{ errorClass: 'timeout' }, 1000],
    [{ errorClass: 'dns' }, 1000],
    [{ statusCode: 500, attempt: 2 }, 2000],
  ] as const)('retries %j after %s ms', (outcome, delayMs) => {
    expect(nextStep({ ...base, ...outcome })).toEqual({ kind: 'retry', delayMs });
  });

  it.each([429, 503])('honours Retry-After on %s', (statusCode) => {
    expect(nextStep({ ...base, statusCode, retryAfterMs: 120_000 })).toEqual({
      kind: 'retry',
      delayMs: 120_000,
    });
  });

  it('ignores Retry-After on other statuses', () => {
    expect(nextStep({ ...base, statusCode: 500, retryAfterMs: 120_000 })).toEqual({
      kind: 'retry',
      delayMs: 1000,
    });
  });

  it('abandons once max_attempts attempts have failed', () => {
    // Prepare
    const config = aConfig({ max_attempts: 3 });

    // Act
    const steps = [
      nextStep({ ...base, config, attempt: 2, statusCode: 500 }).kind,
      nextStep({ ...base, config, attempt: 3, statusCode: 503 }),
      nextStep({ ...base, config, attempt: 3, errorClass: 'connect' }),
      nextStep({ ...base, config: aConfig({ max_attempts: 1 }) }),
    ];

    // Assess
    expect(steps).toEqual([
      'retry',
      { kind: 'abandon', reason: 'gave up after 3 attempts (last: HTTP 503)' },
      { kind: 'abandon', reason: 'gave up after 3 attempts (last: connect error)' },
      { kind: 'abandon', reason: 'gave up after 1 attempt (last: no answer)' },
    ]);
  });
});
