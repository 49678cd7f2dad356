import { describe, expect, it } from 'vitest';
import {
  deliveryIdBounds,
  deliveryIdFor,
  deliveryIdTime,
  newDeliveryId,
  stableUuid,
} from './ids.ts';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('delivery ids', () => {
  it('derives the same id from the same event, webhook and ingestion time', () => {
    const first = deliveryIdFor('acme', 'evt-1', 'wh-1', 1_700_000_000_000);
    expect(deliveryIdFor('acme', 'evt-1', 'wh-1', 1_700_000_000_000)).toBe(first);
    expect(first).toMatch(UUID_V7);
  });

  it('differs per webhook, per event and per tenant', () => {
    const ids = new Set([
      deliveryIdFor('acme', 'evt-1', 'wh-1', 1),
      deliveryIdFor('acme', 'evt-1', 'wh-2', 1),
      deliveryIdFor('acme', 'evt-2', 'wh-1', 1),
      deliveryIdFor('other', 'evt-1', 'wh-1', 1),
    ]);
    expect(ids.size).toBe(4);
  });

  it('sorts by time and carries it', () => {
    const earlier = newDeliveryId(1_700_000_000_000);
    const later = deliveryIdFor('acme', 'evt', 'wh', 1_700_000_000_001);
    expect(earlier < later).toBe(true);
    expect(deliveryIdTime(later)).toBe(1_700_000_000_001);
    expect(newDeliveryId(5)).toMatch(UUID_V7);
  });

  it('bounds every id of a millisecond', () => {
    const { first, last } = deliveryIdBounds(1_700_000_000_000);
    const id = newDeliveryId(1_700_000_000_000);
    expect(first <= id && id <= last).toBe(true);
    expect(deliveryIdBounds(1_700_000_000_001).first > last).toBe(true);
  });
});

describe('stable ids', () => {
  it('are UUIDs that depend on their seed alone', () => {
    expect(stableUuid('message-1')).toBe(stableUuid('message-1'));
    expect(stableUuid('message-1')).not.toBe(stableUuid('message-2'));
    expect(stableUuid('message-1')).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });
});
