import { describe, expect, it } from 'vitest';
import { reserve } from './rate-limit.ts';

const NOW = 1_772_366_400_000;

describe('reserve', () => {
  const limit = { requests_per_minute: 60, burst_limit: 2 };

  it('gives the burst now and the rest one interval apart', () => {
    const { slots, tat } = reserve(undefined, 0, limit, 5);

    expect(slots).toEqual([0, 0, 1000, 2000, 3000]);
    expect(tat).toBe(5000);
  });

  it('puts later arrivals behind the sends already reserved', () => {
    const first = reserve(undefined, 0, limit, 4);
    const later = reserve({ tat: first.tat }, 500, limit, 2);

    expect(later.slots).toEqual([3000, 4000]);
  });

  it('gives an idle webhook one full burst back, no more', () => {
    const { slots } = reserve({ tat: 1000 }, 60_000, limit, 3);

    expect(slots).toEqual([60_000, 60_000, 61_000]);
  });

  it('reserves nothing for nothing and leaves the schedule as it was', () => {
    const { slots, tat } = reserve({ tat: NOW + 5000 }, NOW, limit, 0);

    expect(slots).toEqual([]);
    expect(tat).toBe(NOW + 5000);
  });

  it('sends one at a time with a burst of 1', () => {
    const { slots } = reserve(undefined, NOW, { requests_per_minute: 6, burst_limit: 1 }, 3);

    expect(slots).toEqual([NOW, NOW + 10_000, NOW + 20_000]);
  });

  it('never exceeds a rate that does not divide a minute evenly', () => {
    // Prepare: 7 a minute is one every 8571.4 ms; whole-ms intervals round that up.
    const odd = { requests_per_minute: 7, burst_limit: 1 };

    // Act
    const { slots } = reserve(undefined, NOW, odd, 30);

    // Assess: no window of a minute holds more than 7 sends
    const inWindow = (start: number) =>
      slots.filter((slot) => slot >= start && slot < start + 60_000).length;
    expect(Math.max(...slots.map(inWindow))).toBe(7);
  });
});
