import { describe, expect, it } from 'vitest';
import { DEFAULT_RATE_LIMIT, DEFAULT_RETRY_CONFIG } from '../webhooks/schema.ts';
import { batchMetrics, isQuiet } from './batch-metrics.ts';
import {
  afterAttempt,
  type DecisionWebhook,
  type DeliveryObservation,
  type DeliveryPolicy,
  type Effect,
  endDisabled,
  followUpsOf,
} from './decisions.ts';
import { deliveryIdFor } from './ids.ts';
import { failedSend, type SendResult } from './model.ts';
import { type DeliveryRecord, newDeliveryRecord } from './record.ts';

/**
 * What each decision says was observed (the batch's metrics and the
 * analytics), and what a test delivery is left out of: the counters, the
 * analytics, and switching its webhook off.
 */

const ACCEPTED_MS = Date.parse('2026-03-01T11:59:58.000Z');
const NOW = new Date('2026-03-01T12:00:00.000Z');
const FINISHED = new Date(NOW.getTime() + 42);
const policy: DeliveryPolicy = {
  retentionMs: 30 * 24 * 3_600_000,
  staleAttemptMs: 90_000,
  autoDisableAfterMs: 24 * 3_600_000,
};
const noJitter = () => 0.5;
const WEBHOOK_ID = '0195f1e2-0000-7000-8000-000000000001';
const DELIVERY_ID = deliveryIdFor('acme', 'e-1', WEBHOOK_ID, ACCEPTED_MS);

const webhook: DecisionWebhook = {
  webhook_id: WEBHOOK_ID,
  tenant: 'acme',
  url: 'https://receiver.example/hook',
  method: 'POST',
  retry_config: { ...DEFAULT_RETRY_CONFIG, max_attempts: 2 },
  is_active: true,
  rate_limit: { ...DEFAULT_RATE_LIMIT },
};

const claimed = (attempt: number, overrides: Partial<DeliveryRecord> = {}): DeliveryRecord => ({
  ...newDeliveryRecord({
    deliveryId: DELIVERY_ID,
    webhook,
    event: {
      event_id: 'e-1',
      event_type: 'invoice.paid',
      tenant_id: 'acme',
      occurred_at: '2026-03-01T11:59:57.000Z',
      entity_type: 'invoice',
      data: {},
    },
    now: NOW,
    retentionMs: policy.retentionMs,
    claim: { token: 'c', messageId: 'm' },
  }),
  attempt_count: attempt,
  in_flight: { attempt, started_at: NOW.toISOString(), claim: 'c' },
  ...overrides,
});

const sent = (status: number, durationMs = 41.7): SendResult => ({
  ok: status >= 200 && status < 300,
  status_code: status,
  response_headers: {},
  response_body: '',
  duration_ms: durationMs,
  ...(status >= 200 && status < 300 ? {} : { error_class: 'http' as const }),
});

const attemptOf = (attempt: number, result: SendResult) => ({
  attempt: {
    attempt,
    started_at: NOW.toISOString(),
    duration_ms: result.duration_ms,
    request: { url: webhook.url, method: 'POST', headers: {} },
    status_code: result.status_code,
    response_headers: {},
    response_body: '',
    error_class: result.error_class,
  },
  result,
});

const observations = (effects: readonly Effect[]): (DeliveryObservation & { test: boolean })[] =>
  effects.flatMap((effect) =>
    effect.type === 'observe' ? [{ ...effect.observation, test: effect.test }] : [],
  );
const typesOf = (effects: readonly Effect[]) => effects.map((effect) => effect.type).sort();

describe('observations', () => {
  it('a delivered attempt: its duration, its end, and the lag from the event’s acceptance', () => {
    // Act
    const decision = afterAttempt(
      claimed(1),
      attemptOf(1, sent(200)),
      webhook,
      FINISHED,
      noJitter,
      policy,
    );

    // Assess
    expect(observations(decision.effects)).toEqual([
      {
        at: FINISHED.toISOString(),
        eventType: 'invoice.paid',
        attempt: { ok: true, durationMs: 41.7 },
        final: 'delivered',
        errorClass: undefined,
        lagMs: FINISHED.getTime() - ACCEPTED_MS,
        test: false,
      },
    ]);
  });

  it('a retried attempt: no end yet; the last one: abandoned, counted failed', () => {
    // Act
    const retried = afterAttempt(
      claimed(1),
      attemptOf(1, sent(500)),
      webhook,
      FINISHED,
      noJitter,
      policy,
    );
    const abandoned = afterAttempt(
      claimed(2),
      attemptOf(2, failedSend('timeout', 'no answer')),
      webhook,
      FINISHED,
      noJitter,
      policy,
    );

    // Assess
    expect(observations(retried.effects)).toEqual([
      expect.objectContaining({ attempt: { ok: false, durationMs: 41.7 }, errorClass: 'http' }),
    ]);
    expect(observations(retried.effects)[0]?.final).toBeUndefined();
    expect(observations(abandoned.effects)).toEqual([
      expect.objectContaining({ final: 'abandoned', errorClass: 'timeout', lagMs: undefined }),
    ]);
    const count = abandoned.effects.find((effect) => effect.type === 'count');
    expect(count?.type === 'count' && count.tally.final).toBe('failed');
  });

  it('a manual retry’s delivery has no end-to-end lag: a person chose when', () => {
    // Act
    const decision = afterAttempt(
      claimed(5, { chain_start: 4 }),
      attemptOf(5, sent(200)),
      webhook,
      FINISHED,
      noJitter,
      policy,
    );

    // Assess
    expect(observations(decision.effects)[0]).toMatchObject({
      final: 'delivered',
      lagMs: undefined,
    });
  });

  it('a disabled webhook’s delivery: failed, without an attempt', () => {
    expect(observations(endDisabled(claimed(2), NOW, policy).effects)).toEqual([
      { at: NOW.toISOString(), eventType: 'invoice.paid', final: 'failed', test: false },
    ]);
  });
});

describe('a test delivery', () => {
  const test = { is_test: true };

  it('is observed for the metrics, and counted nowhere', () => {
    // Act
    const decision = afterAttempt(
      claimed(1, test),
      attemptOf(1, sent(200)),
      webhook,
      FINISHED,
      noJitter,
      policy,
    );

    // Assess
    expect(typesOf(decision.effects)).toEqual(['observe']);
    expect(observations(decision.effects)[0]?.test).toBe(true);
    expect(typesOf(endDisabled(claimed(1, test), NOW, policy).effects)).toEqual(['observe']);
  });

  it('never switches its webhook off, not even on 410 Gone, and still stops there', () => {
    // Act
    const decision = afterAttempt(
      claimed(1, test),
      attemptOf(1, sent(410)),
      webhook,
      FINISHED,
      noJitter,
      policy,
    );

    // Assess
    expect(decision.write?.record.status).toBe('failed');
    expect(typesOf(decision.effects)).toEqual(['observe']);
    const record = decision.write?.record;
    expect(record && followUpsOf(record)).toEqual([]);
    const real = afterAttempt(claimed(1), attemptOf(1, sent(410)), webhook, FINISHED, noJitter, {
      ...policy,
    }).write?.record;
    expect(real && typesOf(followUpsOf(real))).toEqual(['disable-webhook']);
  });
});

describe('a batch’s metrics', () => {
  it('count outcomes, results, error classes, latencies, lags, waits and switch-offs', () => {
    // Prepare
    const at = NOW.toISOString();
    const seen: DeliveryObservation[] = [
      {
        at,
        eventType: 'a',
        attempt: { ok: true, durationMs: 10 },
        final: 'delivered',
        lagMs: 900,
      },
      { at, eventType: 'a', attempt: { ok: false, durationMs: 30 }, errorClass: 'timeout' },
      {
        at,
        eventType: 'a',
        attempt: { ok: false, durationMs: 5 },
        errorClass: 'http',
        final: 'abandoned',
      },
      { at, eventType: 'a', final: 'failed' },
    ];

    // Act
    const metrics = batchMetrics(seen, 2, 1);

    // Assess
    expect(metrics).toEqual({
      deliveries: { delivered: 1, failed: 1, abandoned: 1 },
      attempts: { success: 1, failure: 2 },
      attemptErrors: new Map([
        ['timeout', 1],
        ['http', 1],
      ]),
      latencyMs: [10, 30, 5],
      endToEndLagMs: [900],
      rateLimitWaits: 2,
      webhooksAutoDisabled: 1,
    });
    expect(isQuiet(metrics)).toBe(false);
    expect(isQuiet(batchMetrics([], 0, 0))).toBe(true);
  });
});
