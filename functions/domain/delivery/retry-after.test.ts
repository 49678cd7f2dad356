import { describe, expect, it } from 'vitest';
import { parseRetryAfter } from './retry-after.ts';

describe('parseRetryAfter', () => {
  const now = new Date('2026-03-01T12:00:00Z');

  it.each([
    ['120', 120_000],
    [' 5 ', 5000],
    ['0', 0],
    ['Sun, 01 Mar 2026 12:01:30 GMT', 90_000],
    ['Sunday, 01-Mar-26 12:00:10 GMT', 10_000],
    ['Sun Mar  1 12:00:20 2026', 20_000],
    ['Sat, 28 Feb 2026 12:00:00 GMT', 0],
  ])('reads %j as %i ms', (value, ms) => {
    expect(parseRetryAfter(value, now)).toBe(ms);
  });

  it.each([undefined, '', 'soon', '-5', '1.5', '2026-03-01T12:01:00Z', 'Sun, 99 Foo 2026'])(
    'ignores %j',
    (value) => {
      expect(parseRetryAfter(value, now)).toBeUndefined();
    },
  );
});
