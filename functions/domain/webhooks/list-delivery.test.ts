import { describe, expect, it } from 'vitest';
import { ValidationError } from '../errors.ts';
import { parseOrThrow } from '../validation.ts';
import { deliveryRate, listQuerySchema, listWebhooks } from './list.ts';
import { type WebhookRecord, webhookConfigSchema } from './schema.ts';
import { newWebhook } from './webhook.ts';

/** The list's filters and sort on what was delivered, as Alga's clients send them. */

const webhook = (
  name: string,
  delivered: { ok: number; failed: number; last?: string } | undefined,
): WebhookRecord => ({
  ...newWebhook(
    't',
    parseOrThrow(webhookConfigSchema, {
      name,
      url: `https://${name}.example/hook`,
      event_types: ['ticket.created'],
    }),
    {
      webhookId: `00000000-0000-4000-8000-${Buffer.from(name).toString('hex').padStart(12, '0')}`,
      now: new Date('2026-01-01T00:00:00Z'),
    },
  ),
  ...(delivered
    ? {
        total_deliveries: delivered.ok + delivered.failed,
        successful_deliveries: delivered.ok,
        failed_deliveries: delivered.failed,
        last_delivery_at: delivered.last ?? '2026-02-01T00:00:00.000Z',
      }
    : {}),
});

const all = [
  webhook('perfect', { ok: 10, failed: 0, last: '2026-02-03T00:00:00.000Z' }),
  webhook('half', { ok: 5, failed: 5, last: '2026-02-02T00:00:00.000Z' }),
  webhook('poor', { ok: 1, failed: 3, last: '2026-02-01T00:00:00.000Z' }),
  webhook('never', undefined),
];

const names = (params: Record<string, string>) =>
  listWebhooks(all, parseOrThrow(listQuerySchema, params)).items.map((item) => item.name);

const problems = (params: Record<string, string>) => {
  try {
    parseOrThrow(listQuerySchema, params);
  } catch (error) {
    if (error instanceof ValidationError) return error.details;
    throw error;
  }
  return [];
};

describe('the delivery rate', () => {
  it('is the successful share of deliveries in percent; none without deliveries', () => {
    expect(all.map(deliveryRate)).toEqual([100, 50, 25, undefined]);
  });

  it.each([
    [{ delivery_rate_min: '50' }, ['half', 'perfect']],
    [{ delivery_rate_max: '50' }, ['half', 'poor']],
    [{ delivery_rate_min: '25', delivery_rate_max: '49.5' }, ['poor']],
    [{ delivery_rate_min: '0' }, ['half', 'perfect', 'poor']],
  ])('filters %j to %j, leaving out webhooks with no deliveries', (params, expected) => {
    expect(names({ ...params, sort: 'name', order: 'asc' })).toEqual(expected);
  });

  it('sorts by success rate either way, webhooks with no deliveries last', () => {
    expect(names({ sort: 'success_rate', order: 'asc' })).toEqual([
      'poor',
      'half',
      'perfect',
      'never',
    ]);
    expect(names({ sort: 'success_rate' })).toEqual(['perfect', 'half', 'poor', 'never']);
  });

  it.each([
    [{ delivery_rate_min: '101' }, 'delivery_rate_min', 'must be a percentage from 0 to 100'],
    [{ delivery_rate_max: '-1' }, 'delivery_rate_max', 'must be a percentage from 0 to 100'],
    [{ delivery_rate_min: 'lots' }, 'delivery_rate_min', 'must be a percentage from 0 to 100'],
    [
      { delivery_rate_min: '60', delivery_rate_max: '40' },
      'delivery_rate_min',
      'must not be above delivery_rate_max',
    ],
  ])('refuses %j', (params, field, message) => {
    expect(problems(params)).toEqual([{ field, message }]);
  });
});

describe('the last delivery', () => {
  it('filters by a range of its time, both ends included, never-delivered left out', () => {
    expect(
      names({
        last_delivery_from: '2026-02-02T00:00:00.000Z',
        last_delivery_to: '2026-02-03',
        sort: 'name',
      }),
    ).toEqual(['perfect', 'half']);
    expect(names({ last_delivery_to: '2026-02-01', sort: 'name' })).toEqual(['poor']);
  });

  it('refuses a range that ends before it starts', () => {
    expect(problems({ last_delivery_from: '2026-02-03', last_delivery_to: '2026-02-02' })).toEqual([
      { field: 'last_delivery_from', message: 'must not be after last_delivery_to' },
    ]);
  });
});
