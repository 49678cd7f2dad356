import { describe, expect, it } from 'vitest';
import { admit } from './rate-limit.ts';

const NOW = 1_772_366_400_000;
/** 60 a minute: one send a second, bursts of 3. */
const limit = { requests_per_minute: 60, burst_limit: 3 };

describe('admit', () => {
  it('lets a full burst through at once on a fresh webhook', () => {
    // Act
    const result = admit(undefined, NOW, limit, 3);

    // Assess
    expect(result).toEqual({ admitted: 3, tat: NOW + 3000, waitMs: 0 });
  });

  it('admits no more than the burst when more are requested, and says when the next may go', () => {
    // Act
    const result = admit(undefined, NOW, limit, 10);

    // Assess
    expect(result).toEqual({ admitted: 3, tat: NOW + 3000, waitMs: 1000 });
  });

  it('admits nothing while the burst is used up', () => {
    // Prepare
    const { tat } = admit(undefined, NOW, limit, 3);

    // Act
    const result = admit({ tat }, NOW + 400, limit, 1);

    // Assess
    expect(result).toEqual({ admitted: 0, tat, waitMs: 600 });
  });

  it('admits zero requested without changing the schedule', () => {
    expect(admit({ tat: NOW + 500 }, NOW, limit, 0)).toEqual({
      admitted: 0,
      tat: NOW + 500,
      waitMs: 0,
    });
  });

  it('settles to the steady rate after the burst', () => {
    // Prepare
    let state = admit(undefined, NOW, limit, 3);
    const admittedPerSecond: number[] = [];

    // Act: a sender that always wants more, asking every 250 ms for 10 s.
    for (let t = NOW + 250; t <= NOW + 10_000; t += 250) {
      state = admit(state, t, limit, 5);
      admittedPerSecond.push(state.admitted);
    }

    // Assess
    expect(admittedPerSecond.reduce((sum, n) => sum + n, 0)).toBe(10);
    expect(admittedPerSecond.filter((n) => n > 1)).toEqual([]);
  });

  it('follows the waits it gives: each send goes exactly when promised', () => {
    // Prepare
    let state = admit(undefined, NOW, limit, 100);
    let now = NOW;
    let sent = state.admitted;

    // Act
    while (state.waitMs > 0 && now < NOW + 5000) {
      now += state.waitMs;
      state = admit(state, now, limit, 100 - sent);
      sent += state.admitted;
    }

    // Assess: 3 at once, then one a second for 5 s.
    expect(sent).toBe(8);
  });

  it('recovers a full burst after being idle, but never more', () => {
    // Prepare
    const { tat } = admit(undefined, NOW, limit, 3);

    // Act
    const afterIdle = admit({ tat }, NOW + 3_600_000, limit, 10);

    // Assess
    expect(afterIdle.admitted).toBe(3);
  });

  it('recovers one send per interval after a short pause', () => {
    // Prepare
    const { tat } = admit(undefined, NOW, limit, 3);

    // Act
    const afterTwoSeconds = admit({ tat }, NOW + 2000, limit, 10);

    // Assess
    expect(afterTwoSeconds).toEqual({ admitted: 2, tat: NOW + 5000, waitMs: 1000 });
  });

  it('sends one at a time with a burst of 1', () => {
    // Prepare
    const strict = { requests_per_minute: 6, burst_limit: 1 };

    // Act
    const first = admit(undefined, NOW, strict, 2);
    const second = admit(first, NOW + 9999, strict, 1);
    const third = admit(first, NOW + 10_000, strict, 1);

    // Assess
    expect(first).toEqual({ admitted: 1, tat: NOW + 10_000, waitMs: 10_000 });
    expect(second).toEqual({ admitted: 0, tat: NOW + 10_000, waitMs: 1 });
    expect(third.admitted).toBe(1);
  });

  it('never exceeds a rate that does not divide a minute evenly', () => {
    // Prepare: 7 a minute is one every 8571.4 ms; whole-ms intervals round that up.
    const odd = { requests_per_minute: 7, burst_limit: 1 };
    let state = admit(undefined, NOW, odd, 1);
    let sent = state.admitted;

    // Act
    for (let t = NOW + 1; t < NOW + 60_000; t += 1) {
      state = admit(state, t, odd, 1);
      sent += state.admitted;
    }

    // Assess
    expect(sent).toBe(7);
  });
});
