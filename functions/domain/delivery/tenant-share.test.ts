import { describe, expect, it } from 'vitest';
import { eventSlots, SHARE_WAIT_MS, shareCostMs, waitsForSlot } from './tenant-share.ts';

const SHARE = { eventsPerSecond: 100, burst: 50 };
const NOW = 1_000_000;

describe('tenant shares', () => {
  it('costs each event one interval of the share’s clock', () => {
    expect(shareCostMs(SHARE, 1)).toBe(10);
    expect(shareCostMs(SHARE, 250)).toBe(2500);
    expect(shareCostMs({ eventsPerSecond: 3, burst: 1 }, 3)).toBe(1002);
  });

  it('lets an idle tenant’s burst go at once and paces the rest at its rate', () => {
    const slots = eventSlots(53, NOW, NOW, SHARE);
    expect(slots.slice(0, 50).every((slot) => slot === NOW)).toBe(true);
    expect(slots.slice(50)).toEqual([NOW + 10, NOW + 20, NOW + 30]);
  });

  it('starts a busy tenant where its clock stands', () => {
    const start = NOW + 60_000;
    expect(eventSlots(2, start, NOW, SHARE)).toEqual([start - 490, start - 480]);
  });

  it('takes a slot within a second now; a later one waits on the queue', () => {
    expect(waitsForSlot(NOW + SHARE_WAIT_MS, NOW)).toBe(false);
    expect(waitsForSlot(NOW + SHARE_WAIT_MS + 1, NOW)).toBe(true);
  });
});
