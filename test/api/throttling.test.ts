import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '../../local/runtime.ts';
import { apiClient, createKey, startTestRuntime } from '../support/runtime.ts';

/**
 * Per-key throttling as the usage plan does it: a bucket of `burstLimit`
 * requests per key, refilled at `rateLimit` per second. The refill rate here is
 * tiny so the outcome does not depend on how fast this machine is.
 */
let runtime: LocalRuntime;

beforeAll(async () => {
  runtime = await startTestRuntime({
    context: { apiRateLimit: 0.001, apiBurstLimit: 3, retryAfterSeconds: 7 },
  });
});
afterAll(() => runtime?.stop());

describe('per-key throttling', () => {
  it('answers 429 RATE_LIMITED with Retry-After once a key has spent its burst', async () => {
    const api = apiClient(runtime, await createKey(runtime, 'busy'));

    const statuses = [];
    for (let request = 0; request < 5; request++) statuses.push(await api.get('/webhooks/events'));

    expect(statuses.map((response) => response.status)).toEqual([200, 200, 200, 429, 429]);
    const throttled = statuses[3];
    expect(throttled?.headers.get('retry-after')).toBe('7');
    expect(throttled?.body).toEqual({
      error: { code: 'RATE_LIMITED', message: 'Too many requests for this API key' },
    });
  });

  it('throttles each key on its own, even within one tenant', async () => {
    const first = apiClient(runtime, await createKey(runtime, 'shared'));
    const second = apiClient(runtime, await createKey(runtime, 'shared'));
    for (let request = 0; request < 3; request++) await first.get('/webhooks/events');

    expect((await first.get('/webhooks/events')).status).toBe(429);
    expect((await second.get('/webhooks/events')).status).toBe(200);
  });

  it('refuses a throttled write without doing it', async () => {
    const api = apiClient(runtime, await createKey(runtime, 'writer'));
    for (let request = 0; request < 3; request++) await api.get('/webhooks/events');

    const refused = await api.post('/webhooks', {
      name: 'too fast',
      url: 'https://example.com/hook',
      event_types: ['ticket.created'],
    });

    expect(refused.status).toBe(429);
    const other = apiClient(runtime, await createKey(runtime, 'writer'));
    const listed = await other.get<{ pagination: { total: number } }>('/webhooks');
    expect(listed.body.pagination.total).toBe(0);
  });
});
