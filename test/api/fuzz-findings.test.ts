import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_LISTED_PROBLEMS } from '../../functions/domain/validation.ts';
import type { LocalRuntime } from '../../local/runtime.ts';
import { startReceiver, type TestReceiver } from '../support/receiver.ts';
import {
  type ApiClient,
  apiClient,
  createKey,
  documentClientFor,
  startTestRuntime,
} from '../support/runtime.ts';
import { tenantState } from './routes.ts';

/**
 * What the fuzz suites (test/fuzz) found in the API, pinned: numbers that
 * could not be stored answered 500 (and a test delivery went out unrecorded),
 * and a body of many bad entries answered more than Lambda may return (502).
 */

const TENANT = 'findings';

let runtime: LocalRuntime;
let api: ApiClient;
let receiver: TestReceiver;
let webhookId: string;

beforeAll(async () => {
  runtime = await startTestRuntime();
  api = apiClient(runtime, await createKey(runtime, TENANT));
  receiver = await startReceiver();
  const created = await api.post<{ data: { webhook_id: string } }>('/webhooks', minimal());
  webhookId = created.body.data.webhook_id;
}, 30_000);

afterAll(async () => {
  await receiver?.close();
  await runtime?.stop();
});

const minimal = () => ({ name: 'Findings', url: receiver.url, event_types: ['ticket.created'] });

const stored = () => tenantState(documentClientFor(runtime), runtime, TENANT);

/** A JSON body with `number` written as it is where `field` says. */
const bodyWith = (field: string, number: string) => {
  const fields: Record<string, string> = {
    'metadata.properties.x': `{"metadata":{"properties":{"x":${number}}}}`,
    'payload_transformation.custom_fields.x': `{"payload_transformation":{"custom_fields":{"x":${number}}}}`,
    'event_filter.conditions.0.value': `{"event_filter":{"conditions":[{"field":"a","operator":"equals","value":${number}}]}}`,
  };
  const patch = fields[field] ?? '{}';
  return `{${JSON.stringify(minimal()).slice(1, -1)},${patch.slice(1)}`;
};

describe('numbers that cannot be stored as they are', () => {
  const cases = [
    ['1e400', 'would be read as Infinity'],
    ['-1e400', 'would be read as Infinity'],
    ['9007199254740993', 'cannot be kept exactly'],
    ['1e20', 'cannot be kept exactly'],
    ['1e-200', 'closer to 0 than 1e-130'],
  ] as const;
  const fields = [
    'metadata.properties.x',
    'payload_transformation.custom_fields.x',
    'event_filter.conditions.0.value',
  ];

  it.each(
    fields.flatMap((field) => cases.map(([number, message]) => [field, number, message] as const)),
  )(
    'are refused in %s (%s) on create and update, changing nothing',
    async (field, number, message) => {
      // Prepare
      const before = await stored();
      const body = bodyWith(field, number);

      // Act
      const created = await api.call('POST', '/webhooks', body);
      const updated = await api.call('PUT', `/webhooks/${webhookId}`, body);

      // Assess
      for (const answer of [created, updated]) {
        expect(answer.status, answer.text).toBe(400);
        expect(answer.body).toEqual({
          error: {
            code: 'VALIDATION_ERROR',
            message: 'The request is invalid',
            details: [{ field, message: expect.stringContaining(message) }],
          },
        });
      }
      expect(await stored()).toEqual(before);
    },
  );

  it.each(cases)('are refused in a test payload (%s) before anything is sent', async (number) => {
    // Prepare
    const before = await stored();

    // Act
    const answer = await api.call(
      'POST',
      `/webhooks/${webhookId}/test`,
      `{"test_payload":{"n":${number}}}`,
    );

    // Assess
    expect(answer.status, answer.text).toBe(400);
    expect(answer.body).toMatchObject({ error: { details: [{ field: 'test_payload.n' }] } });
    expect(receiver.requests).toHaveLength(0);
    expect(await stored()).toEqual(before);
  });

  it('keeps the numbers that can be, at their bounds', async () => {
    const answer = await api.call(
      'POST',
      '/webhooks',
      bodyWith('metadata.properties.x', '[9007199254740991,-9007199254740991,1e-130,-0,1e-400]'),
    );

    expect(answer.status, answer.text).toBe(201);
    expect(answer.body).toMatchObject({
      data: {
        metadata: { properties: { x: [9007199254740991, -9007199254740991, 1e-130, 0, 0] } },
      },
    });
  });
});

describe('a body with a flood of problems', () => {
  it('answers the first problems and how many there were, not megabytes (once a 502)', async () => {
    // Prepare: 160 KB of bad event types, once 80,000 details and 7 MB of answer.
    const body = JSON.stringify({ ...minimal(), event_types: Array(80_000).fill(0) });

    // Act
    const answer = await api.call('POST', '/webhooks', body);

    // Assess
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({
      error: {
        code: 'VALIDATION_ERROR',
        message: `The request is invalid (the first ${MAX_LISTED_PROBLEMS} of 80000 problems are listed)`,
        details: Array.from({ length: MAX_LISTED_PROBLEMS }, (_, index) => ({
          field: `event_types.${index}`,
          message: expect.any(String),
        })),
      },
    });
    expect(answer.text.length).toBeLessThan(10_000);
  });
});
