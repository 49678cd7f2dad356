import { createHash, randomBytes } from 'node:crypto';

/**
 * Delivery ids are UUIDs in the version 7 layout: the first 48 bits are a
 * millisecond time, so the ids of one webhook's deliveries sort by time and
 * the history is read newest first straight off the table's sort key.
 *
 * The fan-out derives the rest from (tenant, event id, webhook id), so the
 * same event reaching the fan-out twice produces the same delivery id, and
 * the delivery's first write (conditional on the id being new) lets only one
 * of them through. The time is the event's first ingestion, which the
 * event's de-duplication item keeps.
 */

const formatUuid = (bytes: Buffer): string => {
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
};

const uuidV7 = (timeMs: number, rest: Buffer): string => {
  const bytes = Buffer.alloc(16);
  bytes.writeUIntBE(timeMs, 0, 6);
  rest.copy(bytes, 6, 0, 10);
  bytes[6] = 0x70 | ((bytes[6] ?? 0) & 0x0f);
  bytes[8] = 0x80 | ((bytes[8] ?? 0) & 0x3f);
  return formatUuid(bytes);
};

export const deliveryIdFor = (
  tenant: string,
  eventId: string,
  webhookId: string,
  ingestedAtMs: number,
): string =>
  uuidV7(ingestedAtMs, createHash('sha256').update(`${tenant}\0${eventId}\0${webhookId}`).digest());

/** A fresh time-ordered id (test deliveries, which have no event to derive one from). */
export const newDeliveryId = (nowMs: number): string => uuidV7(nowMs, randomBytes(10));

/** The smallest and largest delivery ids of a millisecond: bounds for time-range queries. */
export const deliveryIdBounds = (timeMs: number): { first: string; last: string } => ({
  first: uuidV7(timeMs, Buffer.alloc(10, 0x00)),
  last: uuidV7(timeMs, Buffer.alloc(10, 0xff)),
});

/** The time a delivery id carries. */
export const deliveryIdTime = (deliveryId: string): number =>
  Number.parseInt(deliveryId.replaceAll('-', '').slice(0, 12), 16);

/**
 * A UUID (version 8 layout) derived from `seed`: the same seed always gives
 * the same id. The fan-out names an event that came without an id after its
 * queue message, so the message delivered twice is still one event.
 */
export const stableUuid = (seed: string): string => {
  const bytes = createHash('sha256').update(seed).digest().subarray(0, 16);
  bytes[6] = 0x80 | ((bytes[6] ?? 0) & 0x0f);
  bytes[8] = 0x80 | ((bytes[8] ?? 0) & 0x3f);
  return formatUuid(Buffer.from(bytes));
};
