import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebhookRepository } from '../../functions/repositories/webhooks.ts';
import type { LocalRuntime } from '../../local/runtime.ts';
import {
  type ApiClient,
  apiClient,
  documentClientFor,
  guidePayload,
  startTestRuntime,
} from '../support/runtime.ts';

let runtime: LocalRuntime;
let api: ApiClient;
let repository: WebhookRepository;

beforeAll(async () => {
  runtime = await startTestRuntime();
  api = apiClient(runtime, runtime.devApiKey);
  repository = new WebhookRepository(documentClientFor(runtime), runtime.tableName);
});
afterAll(() => runtime?.stop());

const createWebhook = async () =>
  (await api.post<{ data: { webhook_id: string } }>('/webhooks', guidePayload())).body.data
    .webhook_id;

describe('conditional writes', () => {
  it('refuses an update that read the webhook before a delete, so it is not resurrected', async () => {
    const id = await createWebhook();
    const read = await repository.get('dev', id);
    expect(read?.version).toBe(1);

    expect(await repository.delete('dev', id)).toBe(true);
    const written = await repository.update('dev', id, { name: 'zombie' }, read?.version ?? 0);

    expect(written).toBe(false);
    expect(await repository.get('dev', id)).toBeUndefined();
  });

  it('refuses an update based on a stale version', async () => {
    const id = await createWebhook();
    expect(await repository.update('dev', id, { name: 'first' }, 1)).toBe(true);

    expect(await repository.update('dev', id, { name: 'stale' }, 1)).toBe(false);
    expect((await repository.get('dev', id))?.name).toBe('first');
  });

  it('never lets a PUT racing a DELETE bring the webhook back', async () => {
    const outcomes: { put: number; remove: number; after: number }[] = [];
    for (let round = 0; round < 15; round++) {
      const id = await createWebhook();
      const [put, remove] = await Promise.all([
        api.put(`/webhooks/${id}`, { name: `round ${round}` }),
        api.delete(`/webhooks/${id}`),
      ]);
      const after = await api.get(`/webhooks/${id}`);
      outcomes.push({ put: put.status, remove: remove.status, after: after.status });
    }

    for (const outcome of outcomes) {
      expect(outcome.remove).toBe(204);
      expect([200, 404]).toContain(outcome.put);
      expect(outcome.after).toBe(404);
    }
  });

  it('keeps both of two concurrent updates to different fields', async () => {
    for (let round = 0; round < 10; round++) {
      const id = await createWebhook();

      const [first, second] = await Promise.all([
        api.put(`/webhooks/${id}`, { name: `name ${round}` }),
        api.put(`/webhooks/${id}`, { description: `description ${round}` }),
      ]);

      expect(first.status).toBe(200);
      expect(second.status).toBe(200);
      const stored = await repository.get('dev', id);
      expect(stored?.name).toBe(`name ${round}`);
      expect(stored?.description).toBe(`description ${round}`);
      expect(stored?.version).toBe(3);
    }
  });
});
