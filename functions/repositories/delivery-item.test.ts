import { describe, expect, it } from 'vitest';
import { itemSize } from '../../bench/dynamodb-expressions.ts';
import {
  type AttemptRecord,
  type DeliveryRecord,
  newDeliveryRecord,
  withOutcome,
} from '../domain/delivery/record.ts';
import { fromDeliveryItem, toDeliveryItem } from './delivery-item.ts';
import { UnreadableRecordError } from './records.ts';

const NOW = new Date('2026-03-01T12:00:00.000Z');
const RETENTION = 30 * 86_400_000;
const WEBHOOK_ID = '6f1f5a4e-2b7c-4d0e-9a51-3c2d1e0f9a8b';
const DELIVERY_ID = '019a4d2e-7c00-7b3e-8f21-5d6c7b8a9e0f';
const EVENT_ID = '4b8e2c1d-9f3a-4e6b-8c7d-1a2b3c4d5e6f';

const aRecord = (): DeliveryRecord =>
  newDeliveryRecord({
    deliveryId: DELIVERY_ID,
    webhook: { webhook_id: WEBHOOK_ID, tenant: 'acme' },
    event: {
      event_id: EVENT_ID,
      event_type: 'ticket.created',
      tenant_id: 'acme',
      occurred_at: '2026-03-01T11:59:59.000Z',
      entity_type: 'ticket',
      data: { id: 't-1', title: 'Printer on fire' },
    },
    now: NOW,
    retentionMs: RETENTION,
    claim: { token: 'claim-1', messageId: 'b9a0c1d2-e3f4-4a5b-8c6d-7e8f9a0b1c2d' },
  });

/** An attempt as the sender records one: every header of the contract, signatures included. */
const anAttempt = (attempt: number, status: number | null): AttemptRecord => ({
  attempt,
  started_at: NOW.toISOString(),
  duration_ms: 12,
  request: {
    url: 'https://hooks.example.com/hookline',
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      'User-Agent': 'Hookline-Webhooks/1.0',
      'X-Alga-Webhook-Id': WEBHOOK_ID,
      'X-Alga-Event-Id': EVENT_ID,
      'X-Alga-Event-Type': 'ticket.created',
      'X-Alga-Delivery-Id': DELIVERY_ID,
      'X-Alga-Delivery-Attempt': String(attempt),
      'X-Alga-Signature': `t=1772366400,v1=${'ab12'.repeat(16)}`,
      'webhook-id': DELIVERY_ID,
      'webhook-timestamp': '1772366400',
      'webhook-signature': `v1,${'Zm9v'.repeat(11)}`,
    },
  },
  status_code: status,
  response_headers: {
    'content-type': 'text/plain',
    date: 'Sun, 01 Mar 2026 12:00:00 GMT',
    connection: 'keep-alive',
    'keep-alive': 'timeout=5',
    'transfer-encoding': 'chunked',
  },
  response_body: status === 200 ? 'ok' : 'unavailable',
  ...(status === null ? { error_class: 'timeout', error_message: 'cut off' } : {}),
});

/** Null and absent mean the same to a record (its schema's `nullish`); compared without either. */
const present = (record: DeliveryRecord): unknown =>
  JSON.parse(JSON.stringify(record, (_, value) => (value === null ? undefined : value)));

const at = (offsetMs: number) => new Date(NOW.getTime() + offsetMs).toISOString();

describe('a delivery item', () => {
  it('reads back as the record it was written from, at every stage', () => {
    // Prepare
    const claimed = aRecord();
    const retrying = withOutcome(
      claimed,
      { ...anAttempt(1, 503), next_retry_at: at(60_000) },
      { status: 'retrying', next_retry_at: at(60_000), updated_at: at(12) },
      RETENTION,
    );
    const abandoned = withOutcome(
      { ...retrying, attempt_count: 2 },
      anAttempt(2, null),
      {
        status: 'abandoned',
        final_reason: 'gave up',
        completed_at: at(61_000),
        updated_at: at(61_000),
      },
      RETENTION,
    );
    const restarted: DeliveryRecord = { ...abandoned, status: 'pending', chain_start: 2 };

    // Act
    const read = [claimed, retrying, abandoned, restarted].map((record) =>
      fromDeliveryItem(toDeliveryItem(record)),
    );

    // Assess
    expect(read.map(present)).toEqual([claimed, retrying, abandoned, restarted].map(present));
  });

  it('stores nothing twice, no defaults, and the attempts packed', () => {
    // Prepare
    const record = withOutcome(
      aRecord(),
      anAttempt(1, 200),
      { status: 'delivered', completed_at: at(12), updated_at: at(12) },
      RETENTION,
    );

    // Act
    const item = toDeliveryItem(record);

    // Assess
    expect(Object.keys(item).sort()).toEqual([
      'PK',
      'SK',
      'attempt_count',
      'attempts',
      'claimed_by',
      'created_at',
      'event',
      'expires_at',
      'status',
      'tenant',
      'updated_at',
    ]);
    expect(item.attempts).toEqual([
      {
        n: 1,
        at: NOW.toISOString(),
        ms: 12,
        url: 'https://hooks.example.com/hookline',
        h: {
          'Content-Type': 'application/json',
          'User-Agent': 'Hookline-Webhooks/1.0',
          'X-Alga-Signature': `t=1772366400,v1=${'ab12'.repeat(16)}`,
          'webhook-signature': `v1,${'Zm9v'.repeat(11)}`,
        },
        s: 200,
        rh: anAttempt(1, 200).response_headers,
        rb: 'ok',
      },
    ]);
    // One write unit per write: a delivered record with its attempt stays under 1 KB.
    expect(itemSize(item)).toBeLessThan(1000);
  });

  it('reads items written before the compact layout', () => {
    // Prepare
    const record = withOutcome(
      aRecord(),
      { ...anAttempt(1, 500), next_retry_at: at(1000) },
      { status: 'retrying', next_retry_at: at(1000), updated_at: at(12) },
      RETENTION,
    );
    const old = {
      ...record,
      PK: `WEBHOOK#${WEBHOOK_ID}`,
      SK: `DELIVERY#${DELIVERY_ID}`,
      follow_up: 2,
      in_flight: undefined,
    };

    // Act
    const read = fromDeliveryItem(old);

    // Assess
    expect(present(read)).toEqual(present(record));
  });

  it('keeps headers it would rebuild when they were not as rebuilt, and their order', () => {
    // Prepare: a cut-off attempt has no headers; one here lost some and changed another.
    const { request } = anAttempt(2, 500);
    const kept = Object.fromEntries(
      Object.entries({ ...request.headers, 'X-Alga-Delivery-Attempt': '7' }).filter(
        ([name]) => name !== 'X-Alga-Event-Id' && name !== 'webhook-timestamp',
      ),
    );
    const record = withOutcome(
      { ...aRecord(), attempt_count: 3 },
      { ...anAttempt(3, null), request: { ...request, method: 'PUT', headers: kept } },
      { status: 'failed', final_reason: 'x', completed_at: at(5), updated_at: at(9) },
      RETENTION,
    );
    const cutOff = { ...anAttempt(1, null), request: { ...request, headers: {} } };
    const withCutOff = { ...record, attempts: [cutOff, ...record.attempts] };

    // Act
    const read = fromDeliveryItem(toDeliveryItem(withCutOff));

    // Assess
    expect(present(read)).toEqual(present(withCutOff));
    expect(Object.keys(read.attempts[1]?.request.headers ?? {})).toEqual(Object.keys(kept));
  });

  it('puts rebuilt headers back in the order they were sent', () => {
    // Prepare
    const record = withOutcome(
      aRecord(),
      anAttempt(1, 200),
      { status: 'delivered', updated_at: at(1) },
      RETENTION,
    );

    // Act
    const read = fromDeliveryItem(toDeliveryItem(record));

    // Assess
    expect(Object.keys(read.attempts[0]?.request.headers ?? {})).toEqual(
      Object.keys(anAttempt(1, 200).request.headers),
    );
  });

  it('is unreadable, naming the field, when an attempt does not read', () => {
    // Prepare
    const item = toDeliveryItem(
      withOutcome(
        aRecord(),
        anAttempt(1, 200),
        { status: 'delivered', updated_at: at(1) },
        RETENTION,
      ),
    );
    const damaged = { ...item, attempts: [{ n: 'one' }] };

    // Act
    const read = () => fromDeliveryItem(damaged);

    // Assess
    expect(read).toThrow(UnreadableRecordError);
    expect(read).toThrow(/attempts\.0/);
  });
});
