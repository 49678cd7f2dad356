import { describe, expect, it } from 'vitest';
import { DEFAULT_RATE_LIMIT, DEFAULT_RETRY_CONFIG, type RetryConfig } from '../webhooks/schema.ts';
import {
  admit,
  afterAttempt,
  autoDisableReason,
  type DecisionWebhook,
  type DeliveryPolicy,
  type Effect,
  endDisabled,
  followUpsOf,
  notYetDue,
  placeInSlot,
  refusedClaim,
  summarize,
} from './decisions.ts';
import type { DeliveryJob } from './jobs.ts';
import { type ErrorClass, failedSend, type SendResult } from './model.ts';
import {
  type AttemptRecord,
  type DeliveryRecord,
  newDeliveryRecord,
  withOutcome,
} from './record.ts';

/**
 * Every transition of a delivery, as data in and data out: no emulator, no
 * clock, no network. Randomness is 0.5 (no jitter) unless a row says.
 */

const NOW = new Date('2026-03-01T12:00:00.000Z');
const NOW_MS = NOW.getTime();
const SECOND = 1000;
const policy: DeliveryPolicy = {
  retentionMs: 30 * 24 * 3_600_000,
  staleAttemptMs: 90_000,
  autoDisableAfterMs: 24 * 3_600_000,
};
const noJitter = () => 0.5;

const WEBHOOK_ID = '0195f1e2-0000-7000-8000-000000000001';
const DELIVERY_ID = '0195f1e2-0000-7000-8000-0000000000d1';

const aWebhook = (overrides: Partial<DecisionWebhook> = {}): DecisionWebhook => ({
  webhook_id: WEBHOOK_ID,
  tenant: 'acme',
  url: 'https://receiver.example/hook',
  method: 'POST',
  retry_config: { ...DEFAULT_RETRY_CONFIG },
  is_active: true,
  rate_limit: { ...DEFAULT_RATE_LIMIT },
  ...overrides,
});

const aJob = (overrides: Partial<DeliveryJob> = {}): DeliveryJob => ({
  delivery_id: DELIVERY_ID,
  tenant: 'acme',
  webhook_id: WEBHOOK_ID,
  attempt: 1,
  event: {
    event_id: 'e-1',
    event_type: 'ticket.created',
    tenant_id: 'acme',
    occurred_at: '2026-03-01T11:59:59.000Z',
    entity_type: 'ticket',
    data: { id: 't-1' },
  },
  ...overrides,
});

/** The record of a delivery with attempt `attempt` claimed by message `m-<attempt>`. */
const claimed = (attempt = 1, overrides: Partial<DeliveryRecord> = {}): DeliveryRecord => ({
  ...newDeliveryRecord({
    deliveryId: DELIVERY_ID,
    webhook: aWebhook(),
    event: aJob().event,
    now: NOW,
    retentionMs: policy.retentionMs,
    claim: { token: `claim-${attempt}`, messageId: `m-${attempt}` },
  }),
  attempt_count: attempt,
  in_flight: { attempt, started_at: NOW.toISOString(), claim: `claim-${attempt}` },
  attempts: Array.from({ length: attempt - 1 }, (_, index) => anAttempt(index + 1, 500)),
  ...overrides,
});

/** Attempt `attempt` in flight since `ageMs` ago under claim `claim`. */
const inFlight = (claim: string, ageMs: number, attempt = 1) => ({
  attempt,
  started_at: new Date(NOW_MS - ageMs).toISOString(),
  claim,
});

const anAttempt = (attempt: number, status?: number, errorClass?: ErrorClass): AttemptRecord => ({
  attempt,
  started_at: NOW.toISOString(),
  duration_ms: 20,
  request: { url: 'https://receiver.example/hook', method: 'POST', headers: {} },
  status_code: status,
  response_headers: {},
  response_body: '',
  error_class: errorClass,
});

const sent = (status: number, headers: Record<string, string> = {}): SendResult => ({
  ok: status >= 200 && status < 300,
  status_code: status,
  response_headers: headers,
  response_body: '',
  duration_ms: 20,
  ...(status >= 200 && status < 300 ? {} : { error_class: 'http' as const }),
});

/** An attempt's outcome as performAttempt gives it. */
const outcome = (attempt: number, result: SendResult) => ({
  attempt: {
    ...anAttempt(attempt, result.status_code, result.error_class),
    error_message: result.error_message,
  },
  result,
});

/** The effects that move a delivery on; observations (metrics, analytics) are tested in observations.test.ts. */
const types = (effects: readonly Effect[]) =>
  effects
    .filter((effect) => effect.type !== 'observe')
    .map((effect) => effect.type)
    .sort();

describe('admission', () => {
  it.each<[string, Partial<DeliveryJob>, number | undefined]>([
    ['no wait', {}, undefined],
    ['a wait that ends within the second', { not_before: NOW_MS + 900 }, undefined],
    ['a chained long wait', { not_before: NOW_MS + 3_600_000 }, NOW_MS + 3_600_000],
    ['a rate slot 5 s ahead', { not_before: NOW_MS + 5000, rate_slot: true }, NOW_MS + 5000],
  ])('%s: back on the queue until due, unchanged', (_, overrides, dueAtMs) => {
    // Act
    const decision = notYetDue(aJob(overrides), NOW_MS);

    // Assess
    expect(decision?.effects).toEqual(
      dueAtMs === undefined ? undefined : [{ type: 'enqueue', job: aJob(overrides), dueAtMs }],
    );
  });

  const limited = aWebhook({
    rate_limit: { enabled: true, requests_per_minute: 60, burst_limit: 2 },
  });
  it.each<[string, DecisionWebhook | 'unreadable' | undefined, Partial<DeliveryJob>, string]>([
    ['an unreadable webhook', 'unreadable', {}, 'redeliver'],
    ['a deleted webhook', undefined, {}, 'drop'],
    ["another tenant's webhook", aWebhook({ tenant: 'other' }), {}, 'drop'],
    ['a rate-limited webhook', limited, {}, 'limit'],
    ['a rate-limited, disabled webhook', { ...limited, is_active: false }, {}, 'run'],
    ['a job holding its rate slot', limited, { rate_slot: true, not_before: NOW_MS + 500 }, 'run'],
    ['a plain webhook', aWebhook(), { not_before: NOW_MS - 5 }, 'run'],
  ])('%s: %s', (_, webhook, overrides, kind) => {
    // Act
    const admission = admit(aJob(overrides), webhook, NOW_MS);

    // Assess
    expect(admission.kind).toBe(kind);
    if (admission.kind === 'run') {
      expect(admission.job).toEqual(aJob());
      expect(admission.startAtMs).toBe(overrides.rate_slot ? overrides.not_before : NOW_MS);
    }
  });

  it.each<[string, number, string, number]>([
    ['a slot now', NOW_MS, 'run', NOW_MS],
    ['a slot within the second', NOW_MS + 1000, 'run', NOW_MS + 1000],
    ['a later slot', NOW_MS + 1001, 'wait', NOW_MS + 1001],
  ])('%s: %s at it, never spending an attempt', (_, slot, kind, at) => {
    // Act
    const placed = placeInSlot(aJob({ attempt: 4 }), slot, NOW_MS);

    // Assess
    expect(placed.kind).toBe(kind);
    if (placed.kind === 'run') expect([placed.job.attempt, placed.startAtMs]).toEqual([4, at]);
    else {
      expect(placed.decision.effects).toEqual([
        { type: 'enqueue', job: aJob({ attempt: 4, rate_slot: true }), dueAtMs: at },
        { type: 'rate-limit-wait' },
      ]);
    }
  });
});

describe('after an attempt', () => {
  const at = new Date(NOW_MS + 20);
  const atIso = at.toISOString();

  it.each<[string, SendResult, string, string[]]>([
    ['200', sent(200), 'delivered', ['count']],
    ['204', sent(204), 'delivered', ['count']],
    ['299', sent(299), 'delivered', ['count']],
    ['301: redirects are not followed', sent(301), 'retrying', ['count', 'enqueue']],
    ['400', sent(400), 'retrying', ['count', 'enqueue']],
    ['404', sent(404), 'retrying', ['count', 'enqueue']],
    ['429', sent(429), 'retrying', ['count', 'enqueue']],
    ['500', sent(500), 'retrying', ['count', 'enqueue']],
    ['503', sent(503), 'retrying', ['count', 'enqueue']],
    ['410 Gone', sent(410), 'failed', ['count', 'disable-webhook']],
    ['dns', failedSend('dns', 'ENOTFOUND'), 'retrying', ['count', 'enqueue']],
    ['connect', failedSend('connect', 'ECONNREFUSED'), 'retrying', ['count', 'enqueue']],
    ['tls', failedSend('tls', 'bad certificate'), 'retrying', ['count', 'enqueue']],
    ['timeout', failedSend('timeout', 'no answer in 10 s'), 'retrying', ['count', 'enqueue']],
    [
      'invalid_response',
      failedSend('invalid_response', 'not HTTP'),
      'retrying',
      ['count', 'enqueue'],
    ],
    ['ssrf', failedSend('ssrf', 'private address'), 'failed', ['count']],
    ['config', failedSend('config', 'template failed'), 'failed', ['count']],
  ])('attempt 1 answered %s: %s, then %j', (_, result, status, effects) => {
    // Act
    const decision = afterAttempt(claimed(1), outcome(1, result), aWebhook(), at, noJitter, policy);

    // Assess
    const record = decision.write?.record;
    expect(record?.status).toBe(status);
    expect(record?.attempts).toHaveLength(1);
    expect(record?.in_flight).toBeUndefined();
    expect(record?.updated_at).toBe(atIso);
    expect(record?.completed_at).toBe(status === 'retrying' ? null : atIso);
    expect(types(decision.effects)).toEqual(effects);
    const count = decision.effects.find((effect) => effect.type === 'count');
    expect(count?.type === 'count' && count.tally).toEqual({
      at: atIso,
      ok: result.ok,
      attempted: true,
      ...(status === 'retrying' ? {} : { final: status === 'delivered' ? 'delivered' : 'failed' }),
    });
  });

  it('schedules the next attempt after the retry delay, from the end of this one', () => {
    // Act: the defaults wait 1 s after the first failure.
    const decision = afterAttempt(
      claimed(1),
      outcome(1, sent(500)),
      aWebhook(),
      at,
      noJitter,
      policy,
    );

    // Assess
    const dueAtMs = at.getTime() + SECOND;
    const nextRetryAt = new Date(dueAtMs).toISOString();
    expect(decision.effects).toContainEqual({
      type: 'enqueue',
      job: aJob({ attempt: 2 }),
      dueAtMs,
    });
    expect(decision.write?.record.next_retry_at).toBe(nextRetryAt);
    expect(decision.write?.record.attempts[0]?.next_retry_at).toBe(nextRetryAt);
  });

  it('honours Retry-After on 429 and 503', () => {
    // Act
    const decision = afterAttempt(
      claimed(1),
      outcome(1, sent(429, { 'retry-after': '120' })),
      aWebhook(),
      at,
      noJitter,
      policy,
    );

    // Assess
    expect(decision.effects).toContainEqual(
      expect.objectContaining({ type: 'enqueue', dueAtMs: at.getTime() + 120 * SECOND }),
    );
  });

  it.each<[string, number, number, Partial<RetryConfig>, string | undefined]>([
    ['the last of max_attempts', 3, 0, {}, 'gave up after 3 attempts (last: HTTP 500)'],
    ['below max_attempts', 2, 0, {}, undefined],
    ['a manual chain counts afresh', 5, 4, {}, undefined],
    ['the last of a manual chain', 7, 4, {}, 'gave up after 3 attempts (last: HTTP 500)'],
    [
      'the 20th attempt, whatever the chain allows',
      20,
      15,
      { max_attempts: 10 },
      'gave up after 20 attempts, the most a delivery may have',
    ],
  ])(
    '%s (attempt %i, chain from %i): abandoned with %j',
    (_, attempt, chainStart, config, reason) => {
      // Prepare
      const record = claimed(attempt, { chain_start: chainStart });
      const webhook = aWebhook({ retry_config: { ...DEFAULT_RETRY_CONFIG, ...config } });

      // Act
      const decision = afterAttempt(
        record,
        outcome(attempt, sent(500)),
        webhook,
        at,
        noJitter,
        policy,
      );

      // Assess
      if (reason === undefined) {
        expect(decision.write?.record.status).toBe('retrying');
        return;
      }
      expect(decision.write?.record).toMatchObject({
        status: 'abandoned',
        final_reason: reason,
        dead_lettered: true,
      });
      expect(decision.effects).toContainEqual({
        type: 'dead-letter',
        job: aJob({ attempt }),
        reason,
      });
      expect(types(decision.effects)).toEqual(['count', 'dead-letter']);
    },
  );

  it('switches the webhook off on 410, with the attempt’s time', () => {
    // Act
    const decision = afterAttempt(
      claimed(1),
      outcome(1, sent(410)),
      aWebhook(),
      at,
      noJitter,
      policy,
    );

    // Assess
    expect(decision.effects).toContainEqual({
      type: 'disable-webhook',
      tenant: 'acme',
      webhookId: WEBHOOK_ID,
      at: atIso,
      reason: 'The receiver answered 410 Gone',
    });
  });

  it('keeps the history for the retention period after the attempt', () => {
    // Act
    const decision = afterAttempt(
      claimed(1),
      outcome(1, sent(200)),
      aWebhook(),
      at,
      noJitter,
      policy,
    );

    // Assess
    expect(decision.write?.record.expires_at).toBe(
      Math.floor((at.getTime() + policy.retentionMs) / 1000),
    );
  });

  it('ends the delivery of a disabled webhook without sending, counted as failed', () => {
    // Act
    const decision = endDisabled(claimed(2), NOW, policy);

    // Assess
    expect(decision.write?.record).toMatchObject({
      status: 'failed',
      final_reason: 'The webhook is disabled',
      attempt_count: 2,
      attempts: [anAttempt(1, 500)],
    });
    expect(decision.effects).toEqual([
      {
        type: 'count',
        tenant: 'acme',
        webhookId: WEBHOOK_ID,
        tally: { at: NOW.toISOString(), ok: false, attempted: false, final: 'failed' },
      },
      {
        type: 'observe',
        tenant: 'acme',
        webhookId: WEBHOOK_ID,
        test: false,
        observation: { at: NOW.toISOString(), eventType: 'ticket.created', final: 'failed' },
      },
    ]);
  });
});

describe('a refused claim', () => {
  const context = (overrides: { claim?: string; messageId?: string; now?: Date } = {}) => ({
    claim: 'mine',
    messageId: 'm-1',
    webhook: aWebhook(),
    now: NOW,
    random: noJitter,
    policy,
    ...overrides,
  });
  const recorded = (status: DeliveryRecord['status'], attempt: AttemptRecord, by = 'm-1') => {
    const done = withOutcome(
      claimed(attempt.attempt),
      status === 'retrying' ? { ...attempt, next_retry_at: '2026-03-01T12:01:00.000Z' } : attempt,
      {
        status,
        updated_at: NOW.toISOString(),
        ...(status === 'retrying'
          ? { next_retry_at: '2026-03-01T12:01:00.000Z' }
          : { completed_at: NOW.toISOString(), final_reason: 'why' }),
      },
      policy.retentionMs,
    );
    return { ...done, claimed_by: by };
  };

  it.each<[string, DeliveryRecord | undefined, Partial<DeliveryJob>, string, string[]]>([
    ['no record (expired)', undefined, {}, 'decided', []],
    [
      'our own claim, its answer lost',
      claimed(1, { in_flight: inFlight('mine', 0) }),
      {},
      'proceed',
      [],
    ],
    [
      'a fresh claim of another worker',
      claimed(1, { in_flight: inFlight('theirs', 89_999) }),
      {},
      'redeliver',
      [],
    ],
    [
      'an attempt never claimed',
      recorded('retrying', anAttempt(1, 500)),
      { attempt: 3 },
      'decided',
      [],
    ],
    [
      'retrying, claimed by this message: the next job again',
      recorded('retrying', anAttempt(1, 500)),
      {},
      'decided',
      ['enqueue'],
    ],
    [
      'retrying, claimed by another message: a duplicate, nothing',
      recorded('retrying', anAttempt(1, 500), 'm-other'),
      {},
      'decided',
      [],
    ],
    ['delivered', recorded('delivered', anAttempt(1, 200)), {}, 'decided', []],
    [
      'abandoned: the dead-letter copy again',
      recorded('abandoned', anAttempt(1, 500)),
      {},
      'decided',
      ['dead-letter'],
    ],
    [
      'abandoned, claimed by another message',
      recorded('abandoned', anAttempt(1, 500), 'm-other'),
      {},
      'decided',
      [],
    ],
    [
      'failed on 410: switched off again',
      recorded('failed', anAttempt(1, 410)),
      {},
      'decided',
      ['disable-webhook'],
    ],
    ['failed on ssrf', recorded('failed', anAttempt(1, undefined, 'ssrf')), {}, 'decided', []],
  ])('%s', (_, existing, job, kind, effects) => {
    // Act
    const refusal = refusedClaim(aJob(job), existing, context());

    // Assess
    expect(refusal.kind).toBe(kind);
    if (refusal.kind === 'decided') {
      expect(refusal.decision.write).toBeUndefined();
      expect(types(refusal.decision.effects)).toEqual(effects);
    }
  });

  it('takes over a stale attempt: recorded as cut off, on condition, and the delivery goes on', () => {
    // Prepare
    const existing = claimed(2, { in_flight: inFlight('dead', 90_000, 2) });

    // Act
    const refusal = refusedClaim(aJob({ attempt: 2 }), existing, context({ messageId: 'm-9' }));

    // Assess
    if (refusal.kind !== 'decided') throw new Error(`expected a decision, got ${refusal.kind}`);
    const write = refusal.decision.write;
    expect(write?.takesOver).toBe('dead');
    expect(write?.record.claimed_by).toBe('m-9');
    expect(write?.record.attempts.at(-1)).toMatchObject({
      attempt: 2,
      error_class: 'timeout',
      error_message: 'The attempt was cut off before its result was recorded',
      status_code: null,
    });
    expect(refusal.decision.effects).toContainEqual(
      expect.objectContaining({ type: 'enqueue', job: aJob({ attempt: 3 }) }),
    );
  });

  it('takes over a stale last attempt by abandoning the delivery', () => {
    // Prepare
    const existing = claimed(3, { in_flight: inFlight('dead', 600_000, 3) });

    // Act
    const refusal = refusedClaim(aJob({ attempt: 3 }), existing, context());

    // Assess
    expect(refusal.kind === 'decided' && types(refusal.decision.effects)).toEqual([
      'count',
      'dead-letter',
    ]);
  });
});

describe('what follows a recorded attempt, read back from its record', () => {
  it.each<[DeliveryRecord['status'], string[]]>([
    ['pending', []],
    ['retrying', ['enqueue']],
    ['delivered', []],
    ['failed', []],
    ['abandoned', ['dead-letter']],
  ])('%s: %j', (status, effects) => {
    // Prepare
    const record: DeliveryRecord = {
      ...claimed(1, { in_flight: null }),
      status,
      attempts: [anAttempt(1, 500)],
      next_retry_at: status === 'retrying' ? '2026-03-01T12:01:00.000Z' : null,
    };

    // Act
    const followUps = followUpsOf(record);

    // Assess
    expect(types(followUps)).toEqual(effects);
  });
});

describe('counters', () => {
  const tally = (at: number, ok: boolean, final?: 'delivered' | 'failed', attempted = true) => ({
    at: new Date(NOW_MS + at).toISOString(),
    ok,
    attempted,
    ...(final ? { final } : {}),
  });

  it.each<[string, ReturnType<typeof tally>[], Record<string, unknown>]>([
    [
      'a success after failures ends the run',
      [tally(1, false), tally(2, true, 'delivered'), tally(0, false, 'failed')],
      { delivered: 1, failed: 1, failingSince: undefined, recovered: true },
    ],
    [
      'failures after a success start a run at the first',
      [tally(2, false), tally(1, true, 'delivered'), tally(3, false, 'failed')],
      {
        delivered: 1,
        failed: 1,
        failingSince: new Date(NOW_MS + 2).toISOString(),
        recovered: false,
      },
    ],
    [
      'deliveries ended unsent move no times',
      [tally(1, false, 'failed', false)],
      { failed: 1, lastAttemptAt: undefined, failingSince: undefined, recovered: false },
    ],
  ])('%s', (_, tallies, expected) => {
    // Act
    const stats = summarize(tallies);

    // Assess
    expect(stats).toMatchObject(expected);
  });

  it.each<[string, { failingSince?: string; isActive: boolean } | undefined, boolean]>([
    ['failing for 24 h', { failingSince: '2026-02-28T12:00:00.000Z', isActive: true }, true],
    [
      'failing for a moment less',
      { failingSince: '2026-02-28T12:00:00.001Z', isActive: true },
      false,
    ],
    ['already off', { failingSince: '2026-02-01T00:00:00.000Z', isActive: false }, false],
    ['not failing', { isActive: true }, false],
    ['deleted', undefined, false],
  ])('auto-disable a webhook %s: %s', (_, state, disable) => {
    // Act
    const reason = autoDisableReason(state, NOW_MS, policy);

    // Assess
    expect(reason !== undefined).toBe(disable);
  });
});
