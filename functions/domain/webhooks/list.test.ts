import { describe, expect, it } from 'vitest';
import { ValidationError } from '../errors.ts';
import { parseOrThrow } from '../validation.ts';
import { listQuerySchema, listWebhooks } from './list.ts';
import { type WebhookRecord, webhookConfigSchema } from './schema.ts';
import { newWebhook } from './webhook.ts';

const webhook = (
  name: string,
  createdAt: string,
  overrides: Partial<WebhookRecord> = {},
): WebhookRecord => ({
  ...newWebhook(
    't',
    parseOrThrow(webhookConfigSchema, {
      name,
      url: `https://${name}.example/hook`,
      event_types: ['ticket.created'],
    }),
    {
      webhookId: `00000000-0000-4000-8000-${createdAt.slice(-4).padStart(12, '0')}`,
      now: new Date(createdAt),
    },
  ),
  ...overrides,
});

const query = (params: Record<string, string> = {}) => parseOrThrow(listQuerySchema, params);

const all = [
  webhook('a', '2026-01-01T00:00:00.001Z'),
  webhook('b', '2026-01-02T00:00:00.002Z', { last_delivery_at: '2026-02-01T00:00:00.000Z' }),
  webhook('c', '2026-01-03T00:00:00.003Z'),
  webhook('d', '2026-01-04T00:00:00.004Z', { last_delivery_at: '2026-03-01T00:00:00.000Z' }),
];

describe('listWebhooks', () => {
  it('defaults to page 1 of 25, newest first', () => {
    const page = listWebhooks(all, query());

    expect(page.items.map((item) => item.name)).toEqual(['d', 'c', 'b', 'a']);
    expect(page.pagination).toEqual({
      page: 1,
      limit: 25,
      total: 4,
      totalPages: 1,
      hasNext: false,
      hasPrev: false,
    });
  });

  it('pages', () => {
    const page = listWebhooks(all, query({ page: '2', limit: '3' }));

    expect(page.items.map((item) => item.name)).toEqual(['a']);
    expect(page.pagination).toEqual({
      page: 2,
      limit: 3,
      total: 4,
      totalPages: 2,
      hasNext: false,
      hasPrev: true,
    });
  });

  it('answers an empty list with zero pages', () => {
    expect(listWebhooks([], query()).pagination).toEqual({
      page: 1,
      limit: 25,
      total: 0,
      totalPages: 0,
      hasNext: false,
      hasPrev: false,
    });
  });

  it('puts never-delivered webhooks last whichever the order', () => {
    expect(
      listWebhooks(all, query({ sort: 'last_delivery_at', order: 'desc' })).items.map(
        (item) => item.name,
      ),
    ).toEqual(['d', 'b', 'a', 'c']);
    expect(
      listWebhooks(all, query({ sort: 'last_delivery_at', order: 'asc' })).items.map(
        (item) => item.name,
      ),
    ).toEqual(['b', 'd', 'a', 'c']);
  });

  it('does not reorder its input', () => {
    const input = [...all];
    listWebhooks(input, query({ sort: 'name', order: 'desc' }));
    expect(input).toEqual(all);
  });

  it('includes the whole day of a bare date as an upper bound', () => {
    const page = listWebhooks(all, query({ created_to: '2026-01-02' }));
    expect(page.items.map((item) => item.name)).toEqual(['b', 'a']);
  });
});

describe('listQuerySchema date ranges', () => {
  const problemsOf = (params: Record<string, string>) => {
    try {
      parseOrThrow(listQuerySchema, params);
      return [];
    } catch (error) {
      return error instanceof ValidationError ? error.details : [];
    }
  };

  it('refuses a range that ends before it starts, as the deliveries list does', () => {
    expect(
      problemsOf({
        created_from: '2026-02-01',
        created_to: '2026-01-01',
        updated_from: '2026-01-02T00:00:00Z',
        updated_to: '2026-01-01T23:59:59Z',
      }),
    ).toEqual([
      { field: 'created_from', message: 'must not be after created_to' },
      { field: 'updated_from', message: 'must not be after updated_to' },
    ]);
  });

  it('accepts a range of one day, given as the same date twice', () => {
    expect(problemsOf({ created_from: '2026-01-01', created_to: '2026-01-01' })).toEqual([]);
  });
});
