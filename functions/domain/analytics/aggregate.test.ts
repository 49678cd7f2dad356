import { describe, expect, it } from 'vitest';
import {
  aggregateExpiresAt,
  deltasOf,
  emptyAggregate,
  hourOf,
  isEmpty,
  merge,
  type Observation,
} from './aggregate.ts';
import { bucketOf } from './histogram.ts';

const observed = (webhookId: string, observation: Observation, tenant = 'acme') => ({
  tenant,
  webhookId,
  observation,
});

describe('a batch’s deltas', () => {
  it('are one per webhook and hour, and one per tenant and hour, either side of the hour', () => {
    // Prepare: three steps of two webhooks, across 11:00.
    const batch = [
      observed('w1', {
        at: '2026-03-01T10:59:59.999Z',
        eventType: 'ticket.created',
        attempt: { ok: false, durationMs: 120.3 },
      }),
      observed('w1', {
        at: '2026-03-01T11:00:00.000Z',
        eventType: 'ticket.created',
        attempt: { ok: true, durationMs: 80.1 },
        final: 'delivered',
      }),
      observed('w2', {
        at: '2026-03-01T11:30:00.000Z',
        eventType: 'invoice.paid',
        final: 'failed',
      }),
    ];

    // Act
    const deltas = deltasOf(batch);

    // Assess
    const keys = deltas.map(({ scope, hour }) => `${scope.webhookId ?? '*'} ${hour}`).sort();
    expect(keys).toEqual([
      '* 2026-03-01T10',
      '* 2026-03-01T11',
      'w1 2026-03-01T10',
      'w1 2026-03-01T11',
      'w2 2026-03-01T11',
    ]);
    const tenantAt11 = deltas.find(
      ({ scope, hour }) => scope.webhookId === undefined && hour === '2026-03-01T11',
    )?.aggregate;
    expect(tenantAt11).toEqual({
      deliveries: { delivered: 1, failed: 1, abandoned: 0 },
      byEventType: new Map([
        ['ticket.created', 1],
        ['invoice.paid', 1],
      ]),
      attempts: { ok: 1, failed: 0 },
      responseMsSum: 80.1,
      histogram: new Map([[bucketOf(80.1), 1]]),
      lastAttemptAt: '2026-03-01T11:00:00.000Z',
      lastSuccessAt: '2026-03-01T11:00:00.000Z',
      lastFailureAt: undefined,
    });
  });

  it('keep two tenants apart', () => {
    const deltas = deltasOf([
      observed('w1', { at: '2026-03-01T10:00:00.000Z', eventType: 'a', final: 'failed' }, 't1'),
      observed('w2', { at: '2026-03-01T10:00:00.000Z', eventType: 'a', final: 'failed' }, 't2'),
    ]);
    expect(deltas.filter(({ scope }) => scope.webhookId === undefined)).toHaveLength(2);
  });
});

describe('merging aggregates', () => {
  it('adds counts exactly, to the tenth of a millisecond, and keeps the latest times', () => {
    // Prepare
    const a = emptyAggregate();
    const b = emptyAggregate();
    a.responseMsSum = 0.1;
    b.responseMsSum = 0.2;
    a.lastAttemptAt = '2026-03-01T10:00:00.000Z';
    b.lastAttemptAt = '2026-03-01T09:00:00.000Z';
    b.lastFailureAt = '2026-03-01T09:00:00.000Z';

    // Act
    merge(a, b);

    // Assess
    expect(a.responseMsSum).toBe(0.3);
    expect(a.lastAttemptAt).toBe('2026-03-01T10:00:00.000Z');
    expect(a.lastFailureAt).toBe('2026-03-01T09:00:00.000Z');
    expect(isEmpty(a)).toBe(true);
  });
});

describe('buckets and expiry', () => {
  it('name the UTC hour an instant falls in', () => {
    expect(hourOf('2026-03-01T23:59:59.999Z')).toBe('2026-03-01T23');
    expect(hourOf('2026-03-02T00:00:00.000Z')).toBe('2026-03-02T00');
  });

  it('expire a day’s items together, the given number of calendar months after the day began', () => {
    expect(aggregateExpiresAt('2026-03-01T12', 13)).toBe(Date.parse('2027-04-01T00:00:00Z') / 1000);
    expect(aggregateExpiresAt('2026-03-01', 13)).toBe(aggregateExpiresAt('2026-03-01T23', 13));
  });
});
