import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '../../local/runtime.ts';
import {
  type ApiClient,
  apiClient,
  createKey,
  documentClientFor,
  eventually,
  guidePayload,
  startTestRuntime,
} from '../support/runtime.ts';

/** The per-tenant webhook limit, and what one damaged stored webhook may and may not do. */
let runtime: LocalRuntime;
const functionLines: string[] = [];
const db = () => documentClientFor(runtime);

beforeAll(async () => {
  runtime = await startTestRuntime({
    context: { maxWebhooksPerTenant: 3 },
    functionLog: (line) => functionLines.push(line),
  });
});
afterAll(() => runtime?.stop());

const total = async (api: ApiClient) =>
  (await api.get<{ pagination: { total: number } }>('/webhooks')).body.pagination.total;

const setCounter = (tenant: string, count: number) =>
  db().send(
    new UpdateCommand({
      TableName: runtime.tableName,
      Key: { PK: `TENANT#${tenant}`, SK: 'TENANT' },
      UpdateExpression: 'SET webhook_count = :count',
      ExpressionAttributeValues: { ':count': count },
    }),
  );

describe('webhooks per tenant', () => {
  it('holds under concurrent creates: exactly the limit succeed, the rest get 409', async () => {
    const api = apiClient(runtime, await createKey(runtime, 'crowded'));

    const responses = await Promise.all(
      Array.from({ length: 8 }, () => api.post('/webhooks', guidePayload())),
    );

    const statuses = responses.map((response) => response.status).sort();
    expect(statuses).toEqual([201, 201, 201, 409, 409, 409, 409, 409]);
    expect(responses.find((response) => response.status === 409)?.body).toEqual({
      error: {
        code: 'CONFLICT',
        message: 'Tenant crowded already has the maximum of 3 webhooks; delete one first',
      },
    });
    expect(await total(api)).toBe(3);
  });

  it('frees a slot on delete, and only on a delete that happened', async () => {
    const api = apiClient(runtime, await createKey(runtime, 'churn'));
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push(
        (await api.post<{ data: { webhook_id: string } }>('/webhooks', guidePayload())).body.data
          .webhook_id,
      );
    }
    expect((await api.post('/webhooks', guidePayload())).status).toBe(409);

    expect((await api.delete(`/webhooks/${ids[0]}`)).status).toBe(204);
    expect((await api.delete(`/webhooks/${ids[0]}`)).status).toBe(404);

    expect((await api.post('/webhooks', guidePayload())).status).toBe(201);
    expect((await api.post('/webhooks', guidePayload())).status).toBe(409);
  });

  it('recounts a counter left too high by an interrupted request', async () => {
    const api = apiClient(runtime, await createKey(runtime, 'drifted'));
    await api.post('/webhooks', guidePayload());
    await setCounter('drifted', 3);

    expect((await api.post('/webhooks', guidePayload())).status).toBe(201);
    expect((await api.post('/webhooks', guidePayload())).status).toBe(201);
    expect((await api.post('/webhooks', guidePayload())).status).toBe(409);
    expect(await total(api)).toBe(3);
  });
});

describe('a stored webhook that no longer matches the schema', () => {
  it('is left out of lists, answers 500 alone, and never puts its secrets in a response or a log', async () => {
    const api = apiClient(runtime, await createKey(runtime, 'damaged'));
    const healthy = (await api.post<{ data: { webhook_id: string } }>('/webhooks', guidePayload()))
      .body.data;
    const damaged = (
      await api.post<{ data: { webhook_id: string } }>('/webhooks', {
        ...guidePayload(),
        security: { type: 'basic_auth', username: 'u', password: 'TOPSECRETPASSWORD123' },
      })
    ).body.data;
    await db().send(
      new UpdateCommand({
        TableName: runtime.tableName,
        Key: { PK: 'TENANT#damaged', SK: `WEBHOOK#${damaged.webhook_id}` },
        UpdateExpression: 'SET last_delivery_at = :wrong',
        ExpressionAttributeValues: { ':wrong': 12345 },
      }),
    );
    functionLines.length = 0;
    {
      const list = await api.get<{ data: { webhook_id: string }[] }>('/webhooks');
      const one = await api.get(`/webhooks/${damaged.webhook_id}`);

      expect(list.status).toBe(200);
      expect(list.body.data.map((webhook) => webhook.webhook_id)).toEqual([healthy.webhook_id]);
      expect(one.status).toBe(500);
      expect(one.body).toEqual({
        error: {
          code: 'INTERNAL_ERROR',
          message: expect.stringMatching(
            /^An internal error occurred \(request id [0-9a-f-]{36}\)$/,
          ),
        },
      });
      expect(list.text + one.text).not.toContain('TOPSECRETPASSWORD123');
    }
    // What the API function wrote: its CloudWatch log on AWS.
    const logs = await eventually(async () => {
      const text = functionLines.join('\n');
      return text.includes('does not match its schema') && text;
    });
    expect(logs).toContain('does not match its schema at last_delivery_at');
    expect(logs).not.toContain('TOPSECRETPASSWORD123');
  });
});
