import { MAX_RETRY_DELAY_MS, type RetryConfig } from '../webhooks/schema.ts';
import type { ErrorClass } from './model.ts';

/**
 * The retry policy: how long to wait after a failed attempt, and whether to
 * try again at all. Pure; `random` is injected so schedules are testable.
 */

/** ±20 %, as Svix does: spreads retries of one outage so they do not arrive together. */
const JITTER = 0.2;

/**
 * The wait before attempt `failedAttempt + 1`. The computed step is capped
 * at max_delay (custom schedules: at 24 h, the explicit list wins over
 * max_delay), then jittered; jitter never pushes a wait past that cap.
 */
export const retryDelayMs = (
  config: RetryConfig,
  failedAttempt: number,
  random: () => number,
): number => {
  const n = Math.max(1, Math.floor(failedAttempt));
  const { step, cap } = baseStep(config, n);
  const jitter = 1 + (2 * clamp(random(), 0, 1) - 1) * JITTER;
  return Math.round(clamp(Math.min(step, cap) * jitter, 0, cap));
};

const baseStep = (config: RetryConfig, n: number): { step: number; cap: number } => {
  const capped = Math.min(config.max_delay, MAX_RETRY_DELAY_MS);
  switch (config.strategy) {
    case 'exponential_backoff':
      return { step: config.initial_delay * config.backoff_multiplier ** (n - 1), cap: capped };
    case 'linear_backoff':
      return { step: config.initial_delay * n, cap: capped };
    case 'fixed_interval':
      return { step: config.initial_delay, cap: capped };
    case 'custom': {
      const delays = config.delays ?? [config.initial_delay];
      const step = delays[Math.min(n, delays.length) - 1] ?? config.initial_delay;
      return { step, cap: MAX_RETRY_DELAY_MS };
    }
  }
};

/**
 * The wait after a 429 or 503 that carried Retry-After: at least what the
 * receiver asked and at least the schedule's own step, so neither is
 * hammered; at most 24 h, so a wild value cannot park a delivery for ever.
 * Unlike Svix (1-2x the step) a long ask is honoured in full: a receiver in
 * maintenance for an hour would otherwise burn every attempt against it.
 */
export const retryAfterDelayMs = (
  retryAfterMs: number | undefined,
  scheduledMs: number,
): number => {
  const asked =
    retryAfterMs !== undefined && Number.isFinite(retryAfterMs) ? Math.ceil(retryAfterMs) : 0;
  return clamp(Math.max(asked, scheduledMs), 0, MAX_RETRY_DELAY_MS);
};

export type NextStep =
  | { kind: 'delivered' }
  | { kind: 'retry'; delayMs: number }
  | { kind: 'abandon'; reason: string }
  | { kind: 'fail'; reason: string; disableWebhook: boolean };

export interface AttemptOutcome {
  config: RetryConfig;
  /** 1-based, counted within the current attempt chain (a manual retry starts a new one). */
  attempt: number;
  statusCode?: number | undefined;
  errorClass?: ErrorClass | undefined;
  retryAfterMs?: number | undefined;
  random: () => number;
}

/** Failure classes that another attempt cannot fix. */
const PERMANENT_FAILURES: Partial<Record<ErrorClass, string>> = {
  ssrf: 'the target address is not allowed (private, loopback or metadata address)',
  config: "the webhook's configuration made the request impossible",
};

/** Receivers use these to ask for a pause; Retry-After says how long. */
const BACK_OFF_STATUSES: ReadonlySet<number> = new Set([429, 503]);

export const nextStep = (outcome: AttemptOutcome): NextStep => {
  const { config, attempt, statusCode, errorClass, retryAfterMs, random } = outcome;
  if (statusCode !== undefined && statusCode >= 200 && statusCode < 300) {
    return { kind: 'delivered' };
  }
  if (statusCode === 410) {
    return {
      kind: 'fail',
      reason: 'the receiver answered 410 Gone; the webhook is disabled',
      disableWebhook: true,
    };
  }
  const permanent = errorClass === undefined ? undefined : PERMANENT_FAILURES[errorClass];
  if (permanent !== undefined) {
    return { kind: 'fail', reason: `${permanent}; not retried`, disableWebhook: false };
  }
  if (attempt >= config.max_attempts) {
    return {
      kind: 'abandon',
      reason: `gave up after ${plural(attempt, 'attempt')} (last: ${describeFailure(statusCode, errorClass)})`,
    };
  }
  const scheduled = retryDelayMs(config, attempt, random);
  const delayMs =
    statusCode !== undefined && BACK_OFF_STATUSES.has(statusCode)
      ? retryAfterDelayMs(retryAfterMs, scheduled)
      : scheduled;
  return { kind: 'retry', delayMs };
};

const describeFailure = (statusCode?: number, errorClass?: ErrorClass): string => {
  if (statusCode !== undefined) return `HTTP ${statusCode}`;
  if (errorClass !== undefined) return `${errorClass} error`;
  return 'no answer';
};

const plural = (count: number, noun: string): string => `${count} ${noun}${count === 1 ? '' : 's'}`;

const clamp = (value: number, min: number, max: number): number =>
  Math.min(max, Math.max(min, value));
