import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '../../local/runtime.ts';
import {
  type ApiClient,
  apiClient,
  createKey,
  setDeliveryStats,
  startTestRuntime,
} from '../support/runtime.ts';

interface ListBody {
  data: { webhook_id: string; name: string; url: string }[];
  pagination: {
    page: number;
    limit: number;
    total: number;
    totalPages: number;
    hasNext: boolean;
    hasPrev: boolean;
  };
  meta: { sort: string; order: string; filters: Record<string, unknown> };
}

let runtime: LocalRuntime;
let api: ApiClient;
const names: string[] = [];

beforeAll(async () => {
  runtime = await startTestRuntime();
  // A tenant of its own, so other files' webhooks cannot leak into the counts.
  api = apiClient(runtime, await createKey(runtime, 'lister'));
  const specs = [
    {
      name: 'Alpha billing',
      url: 'https://a.example/hook',
      event_types: ['invoice.paid'],
      payload_format: 'json',
    },
    {
      name: 'bravo tickets',
      url: 'https://b.example/hook',
      event_types: ['ticket.created'],
      payload_format: 'xml',
      is_active: false,
    },
    {
      name: 'Charlie',
      url: 'https://c.example/alga',
      event_types: ['ticket.created', 'invoice.sent'],
      payload_format: 'json',
      description: 'Routes to the Zendesk bridge',
      is_test_mode: true,
    },
    {
      name: 'delta',
      url: 'https://d.example/hook',
      event_types: ['project.created'],
      payload_format: 'form_data',
    },
    {
      name: 'Echo',
      url: 'https://e.example/zendesk',
      event_types: ['ticket.closed'],
      payload_format: 'json',
    },
  ];
  for (const spec of specs) {
    const response = await api.post('/webhooks', spec);
    expect(response.status).toBe(201);
    names.push(spec.name);
    // Distinct creation times, so ordering by created_at is observable.
    await new Promise((resolve) => setTimeout(resolve, 3));
  }
});
afterAll(() => runtime?.stop());

const list = (query = '') => api.get<ListBody>(`/webhooks${query}`);

/** Alpha delivered last, Echo earlier and with failures; the rest never. */
const recordDeliveries = async () => {
  const byName = new Map(
    (await list()).body.data.map((webhook) => [webhook.name, webhook.webhook_id]),
  );
  await setDeliveryStats(runtime, 'lister', byName.get('Alpha billing') ?? '', {
    last_delivery_at: '2026-03-02T10:00:00.000Z',
    failed_deliveries: 0,
    total_deliveries: 4,
  });
  await setDeliveryStats(runtime, 'lister', byName.get('Echo') ?? '', {
    last_delivery_at: '2026-03-01T10:00:00.000Z',
    failed_deliveries: 2,
    total_deliveries: 3,
  });
};

describe('GET /webhooks pagination', () => {
  it('answers the first page newest first with page 1, limit 25 by default', async () => {
    const response = await list();

    expect(response.status).toBe(200);
    expect(response.body.data.map((webhook) => webhook.name)).toEqual([...names].reverse());
    expect(response.body.pagination).toEqual({
      page: 1,
      limit: 25,
      total: 5,
      totalPages: 1,
      hasNext: false,
      hasPrev: false,
    });
    expect(response.body.meta).toEqual({ sort: 'created_at', order: 'desc', filters: {} });
  });

  it('pages through with page and limit', async () => {
    const first = await list('?limit=2&order=asc');
    const second = await list('?limit=2&order=asc&page=2');
    const third = await list('?limit=2&order=asc&page=3');
    const beyond = await list('?limit=2&order=asc&page=4');

    expect(first.body.data.map((webhook) => webhook.name)).toEqual(names.slice(0, 2));
    expect(second.body.data.map((webhook) => webhook.name)).toEqual(names.slice(2, 4));
    expect(third.body.data.map((webhook) => webhook.name)).toEqual(names.slice(4));
    expect(first.body.pagination).toEqual({
      page: 1,
      limit: 2,
      total: 5,
      totalPages: 3,
      hasNext: true,
      hasPrev: false,
    });
    expect(second.body.pagination).toMatchObject({ page: 2, hasNext: true, hasPrev: true });
    expect(third.body.pagination).toMatchObject({ page: 3, hasNext: false, hasPrev: true });
    expect(beyond.body.data).toEqual([]);
    expect(beyond.body.pagination).toMatchObject({
      page: 4,
      total: 5,
      hasNext: false,
      hasPrev: true,
    });
  });

  it('sorts by name case-insensitively, either way', async () => {
    const ascending = await list('?sort=name&order=asc');
    const descending = await list('?sort=name&order=desc');

    const expected = ['Alpha billing', 'bravo tickets', 'Charlie', 'delta', 'Echo'];
    expect(ascending.body.data.map((webhook) => webhook.name)).toEqual(expected);
    expect(descending.body.data.map((webhook) => webhook.name)).toEqual([...expected].reverse());
    expect(ascending.body.meta).toMatchObject({ sort: 'name', order: 'asc' });
  });

  it('sorts by updated_at', async () => {
    const target = (await list('?sort=name&order=asc')).body.data[3];
    await api.put(`/webhooks/${target?.webhook_id}`, { tags: ['touched'] });

    const response = await list('?sort=updated_at&order=desc&limit=1');

    expect(response.body.data[0]?.name).toBe('delta');
  });

  it('sorts by last_delivery_at with never-delivered webhooks last', async () => {
    await recordDeliveries();

    const ascending = await list('?sort=last_delivery_at&order=asc');
    const descending = await list('?sort=last_delivery_at&order=desc');

    expect(ascending.body.data.map((webhook) => webhook.name).slice(0, 2)).toEqual([
      'Echo',
      'Alpha billing',
    ]);
    expect(descending.body.data.map((webhook) => webhook.name).slice(0, 2)).toEqual([
      'Alpha billing',
      'Echo',
    ]);
    expect(
      ascending.body.data
        .slice(2)
        .map((webhook) => webhook.name)
        .sort(),
    ).toEqual(['Charlie', 'bravo tickets', 'delta']);
  });
});

describe('GET /webhooks filters', () => {
  const namesOf = async (query: string) => {
    const response = await list(query);
    expect(response.status, response.text).toBe(200);
    return response.body.data.map((webhook) => webhook.name).sort();
  };

  it('filters by name and url as case-insensitive substrings', async () => {
    expect(await namesOf('?name=BRAVO')).toEqual(['bravo tickets']);
    expect(await namesOf('?url=zendesk')).toEqual(['Echo']);
  });

  it('filters by subscribed event type', async () => {
    expect(await namesOf('?event_type=ticket.created')).toEqual(['Charlie', 'bravo tickets']);
  });

  it('filters by is_active, is_test_mode and payload_format', async () => {
    expect(await namesOf('?is_active=false')).toEqual(['bravo tickets']);
    expect(await namesOf('?is_test_mode=true')).toEqual(['Charlie']);
    expect(await namesOf('?payload_format=json')).toEqual(['Alpha billing', 'Charlie', 'Echo']);
  });

  it('filters by has_failures', async () => {
    await recordDeliveries();

    expect(await namesOf('?has_failures=true')).toEqual(['Echo']);
    expect(await namesOf('?has_failures=false')).toEqual([
      'Alpha billing',
      'Charlie',
      'bravo tickets',
      'delta',
    ]);
  });

  it('searches name, url and description', async () => {
    expect(await namesOf('?search=zendesk')).toEqual(['Charlie', 'Echo']);
    expect(await namesOf('?search=billing')).toEqual(['Alpha billing']);
  });

  it('filters by creation and update time ranges', async () => {
    const all = (await list('?order=asc')).body.data;
    const third = (
      await api.get<{ data: { created_at: string } }>(`/webhooks/${all[2]?.webhook_id}`)
    ).body.data;

    expect(await namesOf(`?created_from=${third.created_at}`)).toEqual([
      'Charlie',
      'Echo',
      'delta',
    ]);
    expect(await namesOf(`?created_to=${third.created_at}`)).toEqual([
      'Alpha billing',
      'Charlie',
      'bravo tickets',
    ]);
    expect(await namesOf('?created_from=2000-01-01&created_to=2000-12-31')).toEqual([]);
    const today = new Date().toISOString().slice(0, 10);
    expect(await namesOf(`?updated_from=${today}&updated_to=${today}`)).toHaveLength(5);
  });

  it('combines filters, all of which must hold, and echoes them in meta', async () => {
    const response = await list('?payload_format=json&event_type=ticket.created&is_active=true');

    expect(response.body.data.map((webhook) => webhook.name)).toEqual(['Charlie']);
    expect(response.body.pagination.total).toBe(1);
    expect(response.body.meta).toEqual({
      sort: 'created_at',
      order: 'desc',
      filters: { payload_format: 'json', event_type: 'ticket.created', is_active: true },
    });
  });
});

describe('GET /webhooks query validation', () => {
  it('refuses bad values and unknown parameters, naming each', async () => {
    const response = await list(
      '?page=0&limit=101&sort=color&order=up&is_active=yes&event_type=nope&created_from=yesterday&colour=red',
    );

    expect(response.status).toBe(400);
    expect(response.body).toEqual({
      error: {
        code: 'VALIDATION_ERROR',
        message: 'The query string is invalid',
        details: [
          { field: 'page', message: 'page must be a whole number from 1 to 1000000' },
          { field: 'limit', message: 'limit must be a whole number from 1 to 100' },
          {
            field: 'sort',
            message: 'must be one of created_at, updated_at, name, last_delivery_at, success_rate',
          },
          { field: 'order', message: 'must be asc or desc' },
          { field: 'event_type', message: 'is not a known event type' },
          { field: 'is_active', message: 'must be true or false' },
          { field: 'created_from', message: 'must be an ISO-8601 date or date-time' },
          { field: 'colour', message: 'is not a known field' },
        ],
      },
    });
  });

  it('refuses impossible dates instead of rolling them over', async () => {
    const response = await list('?created_from=2024-02-30&updated_to=9999-12-31T23:00-05:00');

    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({
      error: {
        details: [
          { field: 'created_from', message: 'must be a real calendar date and time' },
          { field: 'updated_to', message: 'must fall between the years 0001 and 9999' },
        ],
      },
    });
  });

  it('accepts a limit of 100', async () => {
    const response = await list('?limit=100');

    expect(response.status).toBe(200);
    expect(response.body.pagination.limit).toBe(100);
  });
});
