import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { parseInstant, uuidString } from './fields.ts';

describe('parseInstant', () => {
  it.each([
    ['2026-11-26', '2026-11-26T00:00:00.000Z'],
    ['2026-11-26T10:00', '2026-11-26T10:00:00.000Z'],
    ['2026-11-26T10:00:05', '2026-11-26T10:00:05.000Z'],
    ['2026-11-26T10:00:05.123456Z', '2026-11-26T10:00:05.123Z'],
    ['2026-11-26T10:00:00+02:00', '2026-11-26T08:00:00.000Z'],
    ['2026-11-26T10:00:00-0530', '2026-11-26T15:30:00.000Z'],
    ['2024-02-29', '2024-02-29T00:00:00.000Z'],
    ['0001-01-01', '0001-01-01T00:00:00.000Z'],
  ])('reads %s as %s, a missing zone as UTC', (value, iso) => {
    const parsed = parseInstant(value);
    expect(parsed instanceof Date ? parsed.toISOString() : parsed).toBe(iso);
  });

  it.each([
    ['yesterday', 'must be an ISO-8601 date or date-time'],
    ['2026-1-1', 'must be an ISO-8601 date or date-time'],
    ['2024-02-30', 'must be a real calendar date and time'],
    ['2023-02-29', 'must be a real calendar date and time'],
    ['2026-13-01', 'must be a real calendar date and time'],
    ['2026-11-26T24:00', 'must be a real calendar date and time'],
    ['2026-11-26T10:60', 'must be a real calendar date and time'],
    ['2026-11-26T10:00+25:00', 'must be a real calendar date and time'],
    ['0000-01-01', 'must be a real calendar date and time'],
    ['9999-12-31T23:00-05:00', 'must fall between the years 0001 and 9999'],
  ])('refuses %s: %s', (value, message) => {
    expect(parseInstant(value)).toBe(message);
  });

  it('does not depend on the time zone of the machine', () => {
    const zone = process.env.TZ;
    process.env.TZ = 'America/New_York';
    try {
      expect(new Date(2026, 0, 1).getTimezoneOffset()).toBe(300);
      const parsed = parseInstant('2026-11-26T10:00');
      expect(parsed instanceof Date ? parsed.toISOString() : parsed).toBe(
        '2026-11-26T10:00:00.000Z',
      );
    } finally {
      if (zone === undefined) delete process.env.TZ;
      else process.env.TZ = zone;
    }
  });
});

describe('uuidString', () => {
  it('reads a UUID in either case and gives it in lower case', () => {
    const upper = 'A0B1C2D3-E4F5-4A6B-8C7D-9E0F1A2B3C4D';
    expect(v.parse(uuidString, upper)).toBe(upper.toLowerCase());
  });

  it('refuses what is not a UUID', () => {
    expect(v.safeParse(uuidString, 'A0B1C2D3').issues?.[0]?.message).toBe('must be a UUID');
  });
});
