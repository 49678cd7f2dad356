import { createHmac, randomUUID } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import * as v from 'valibot';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProducerEvent } from '../../cli/emit-args.ts';
import {
  createdSchema,
  type Delivery,
  deliverySchema,
  errorSchema,
  historySchema,
  pollUntil,
  type WebhooksApi,
  webhookSchema,
  webhooksApi,
} from './api.ts';
import type { Mailbox, MailboxScript, Received } from './receiver.ts';
import { e2eSettingsFrom } from './settings.ts';
import { type E2eTarget, startE2eTarget } from './target.ts';

/**
 * Hookline end to end, as a customer and a producer see it: a webhook made
 * through the API, events on the ingest queue, signed deliveries at a
 * receiver, retries, an abandoned delivery, and the history. The same tests
 * run against the embedded local runtime (default) or a deployment named by
 * HOOKLINE_E2E_* variables (docs/operations.md, "End-to-end tests"). Each test's
 * webhook matches only its own events (an event_filter on a case id), so a
 * shared tenant's other webhooks neither receive nor disturb them.
 */

const settings = e2eSettingsFrom(process.env);
const where =
  settings.kind === 'embedded'
    ? 'the embedded local runtime'
    : `the deployment at ${settings.apiUrl}`;
/** A test waits for a few deliveries and a history state, each within waitMs. */
const TEST_BUDGET_MS = settings.waitMs * 4;

let target: E2eTarget;
let api: WebhooksApi;
const createdWebhooks: string[] = [];

beforeAll(async () => {
  target = await startE2eTarget(settings);
  api = webhooksApi(target.apiUrl, target.apiKey);
}, 60_000);

afterAll(async () => {
  try {
    // A deployment keeps what the suite made unless it is deleted.
    for (const id of createdWebhooks) {
      await api.call('DELETE', `/${id}`, { status: 204, schema: v.undefined() });
    }
  } finally {
    await target?.stop();
  }
});

interface Case {
  webhook: v.InferOutput<typeof createdSchema>['data'];
  mailbox: Mailbox;
  event(): ProducerEvent;
}

/** A webhook of its own, a mailbox for it, and events only it matches. */
const newCase = async (
  name: string,
  script: MailboxScript,
  config: Record<string, unknown> = {},
): Promise<Case> => {
  const caseId = `${name}-${randomUUID()}`;
  const mailbox = target.receiver.mailbox(name, script);
  const { body } = await api.call(
    'POST',
    '',
    { status: 201, schema: createdSchema },
    {
      body: {
        name: `e2e ${name}`,
        url: mailbox.url,
        event_types: ['ticket.created'],
        event_filter: { conditions: [{ field: 'e2e_case', operator: 'equals', value: caseId }] },
        ...config,
      },
    },
  );
  createdWebhooks.push(body.data.webhook_id);
  return {
    webhook: body.data,
    mailbox,
    event: () => ({
      event_id: randomUUID(),
      event_type: 'ticket.created',
      tenant_id: body.data.tenant,
      occurred_at: new Date().toISOString(),
      data: { id: randomUUID(), title: 'Printer on fire', e2e_case: caseId },
    }),
  };
};

/** X-Alga-Signature as the contract defines it: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>. */
const algaSignatureHolds = (secret: string, received: Received): boolean => {
  const parts = (received.headers['x-alga-signature'] ?? '').split(',');
  const t = parts.find((part) => part.startsWith('t='))?.slice(2) ?? '';
  const expected = createHmac('sha256', secret).update(`${t}.${received.body}`).digest('hex');
  return /^\d+$/.test(t) && parts.includes(`v1=${expected}`);
};

const standardWebhooksHolds = (secret: string, received: Received): boolean => {
  try {
    new Webhook(secret).verify(received.body, received.headers);
    return true;
  } catch {
    return false;
  }
};

const deliveryOf = (caseOf: Case, deliveryId: string) =>
  api.call('GET', `/${caseOf.webhook.webhook_id}/deliveries/${deliveryId}`, {
    status: 200,
    schema: deliverySchema,
  });

/** The delivery once it has reached `status` (its record is written after the receiver answers). */
const deliveryWhen = (caseOf: Case, deliveryId: string, status: string): Promise<Delivery> =>
  pollUntil(`delivery ${deliveryId} to be ${status}`, target.waitMs, async () => {
    const { body } = await deliveryOf(caseOf, deliveryId);
    return body.data.status === status ? body.data : undefined;
  });

type History = v.InferOutput<typeof historySchema>;
type HistoryEntry = History['data'][number];

/** Every entry of a history listing, following its cursors (a full page may end with an empty one). */
const allPages = async (path: string) => {
  const entries: HistoryEntry[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 10; page += 1) {
    const query: string = cursor === null ? '' : `&cursor=${cursor}`;
    const { body }: { body: History } = await api.call('GET', `${path}${query}`, {
      status: 200,
      schema: historySchema,
    });
    entries.push(...body.data);
    if (!body.pagination.hasNext) return entries;
    cursor = body.pagination.next_cursor;
  }
  throw new Error(`${path}: more than 10 pages`);
};

describe(`Hookline end to end, against ${where}`, () => {
  it(
    'creates and reads a webhook with an API key, and refuses a request without one',
    async () => {
      const refused = await api.call(
        'POST',
        '',
        { status: 401, schema: errorSchema },
        {
          body: {
            name: 'e2e no key',
            url: target.receiverBaseUrl,
            event_types: ['ticket.created'],
          },
          apiKey: null,
        },
      );
      const { webhook, mailbox } = await newCase('create', { answer: 200 });
      const read = await api.call('GET', `/${webhook.webhook_id}`, {
        status: 200,
        schema: webhookSchema,
      });

      expect(refused.body.error.code).toBe('UNAUTHORIZED');
      expect(webhook.signing_secret).toMatch(/^whsec_/);
      expect(webhook.event_types).toEqual(['ticket.created']);
      expect(read.body.data.url).toBe(mailbox.url);
      // Shown once, at create; masked after.
      expect(read.body.data.signing_secret).not.toBe(webhook.signing_secret);
    },
    TEST_BUDGET_MS,
  );

  it(
    'delivers an emitted event, signed so Standard Webhooks and X-Alga-Signature both verify',
    async () => {
      const { webhook, mailbox, event } = await newCase('signed', { answer: 200 });
      const sent = event();

      await target.sendEvent(sent);
      const [received] = await mailbox.waitFor(1, target.waitMs);

      if (!received) throw new Error('no delivery');
      expect(JSON.parse(received.body)).toEqual({
        event_id: sent.event_id,
        event_type: 'ticket.created',
        occurred_at: sent.occurred_at,
        tenant_id: webhook.tenant,
        data: sent.data,
      });
      expect(received.headers).toMatchObject({
        'content-type': 'application/json',
        'x-alga-webhook-id': webhook.webhook_id,
        'x-alga-event-id': sent.event_id,
        'x-alga-event-type': 'ticket.created',
        'x-alga-delivery-attempt': '1',
        'webhook-id': received.headers['x-alga-delivery-id'],
      });
      expect(standardWebhooksHolds(webhook.signing_secret, received)).toBe(true);
      expect(algaSignatureHolds(webhook.signing_secret, received)).toBe(true);
      const tampered = { ...received, body: received.body.replace('Printer', 'Scanner') };
      expect(standardWebhooksHolds(webhook.signing_secret, tampered)).toBe(false);
      expect(algaSignatureHolds(webhook.signing_secret, tampered)).toBe(false);
    },
    TEST_BUDGET_MS,
  );

  it(
    "retries a failed attempt on the webhook's schedule: 500, then 200",
    async () => {
      const retryCase = await newCase(
        'retry',
        { firstAnswers: [500], answer: 200 },
        { retry_config: { strategy: 'custom', delays: [1000], max_attempts: 3 } },
      );
      const { webhook, mailbox, event } = retryCase;

      await target.sendEvent(event());
      const [first, second] = await mailbox.waitFor(2, target.waitMs);

      if (!first || !second) throw new Error('no retry');
      const deliveryId = first.headers['x-alga-delivery-id'] ?? '';
      expect([first, second].map((r) => r.headers['x-alga-delivery-attempt'])).toEqual(['1', '2']);
      expect(second.headers['x-alga-delivery-id']).toBe(deliveryId);
      expect(second.headers['webhook-id']).toBe(first.headers['webhook-id']);
      // 1000 ms, less at most 20 % jitter.
      expect(second.at - first.at).toBeGreaterThanOrEqual(800);
      expect(standardWebhooksHolds(webhook.signing_secret, second)).toBe(true);
      expect(algaSignatureHolds(webhook.signing_secret, second)).toBe(true);
      const delivered = await deliveryWhen(retryCase, deliveryId, 'delivered');
      expect(delivered.attempts.map((a) => [a.attempt, a.status_code, a.error_class])).toEqual([
        [1, 500, 'http'],
        [2, 200, null],
      ]);
      expect(delivered.attempts[0]?.next_retry_at).toBeTruthy();
    },
    TEST_BUDGET_MS,
  );

  it(
    'abandons a delivery after max_attempts and sets it aside in the dead-letter queue',
    async () => {
      const deadCase = await newCase(
        'abandoned',
        { answer: 500 },
        { retry_config: { strategy: 'custom', delays: [500], max_attempts: 2 } },
      );

      await target.sendEvent(deadCase.event());
      const [first] = await deadCase.mailbox.waitFor(2, target.waitMs);
      const deliveryId = first?.headers['x-alga-delivery-id'] ?? '';
      const abandoned = await deliveryWhen(deadCase, deliveryId, 'abandoned');
      const deadLetter = await pollUntil('the dead letter', target.waitMs, () =>
        target.findDeadLetter(deliveryId),
      );

      expect(abandoned.attempts.map((a) => a.status_code)).toEqual([500, 500]);
      expect(abandoned.final_reason).toMatch(/gave up after 2 attempts/);
      expect(deadLetter.reason).toMatch(/gave up after 2 attempts/);
      // Abandoned means no third attempt.
      expect(deadCase.mailbox.received).toHaveLength(2);
    },
    TEST_BUDGET_MS,
  );

  it(
    'keeps the history: newest first, paged by cursor, each delivery with its attempts',
    async () => {
      const historyCase = await newCase('history', { answer: 200 });
      const { webhook, mailbox, event } = historyCase;
      const older = event();
      const newer = event();

      // One at a time, so the deliveries' order is the events' order.
      await target.sendEvent(older);
      await mailbox.waitFor(1, target.waitMs);
      await target.sendEvent(newer);
      const arrived = await mailbox.waitFor(2, target.waitMs);
      for (const received of arrived) {
        await deliveryWhen(historyCase, received.headers['x-alga-delivery-id'] ?? '', 'delivered');
      }
      const history = `/${webhook.webhook_id}/deliveries`;
      const pages = await allPages(`${history}?limit=1`);
      const abandonedOnly = await api.call('GET', `${history}?status=abandoned`, {
        status: 200,
        schema: historySchema,
      });
      const olderId = pages.find((entry) => entry.event_id === older.event_id)?.delivery_id;
      const detail = await deliveryOf(historyCase, olderId ?? '');

      expect(pages.map((d) => [d.event_id, d.status, d.attempt_count, d.last_status_code])).toEqual(
        [
          [newer.event_id, 'delivered', 1, 200],
          [older.event_id, 'delivered', 1, 200],
        ],
      );
      expect(abandonedOnly.body.data).toEqual([]);
      const [attempt] = detail.body.data.attempts;
      expect(detail.body.data.attempts).toHaveLength(1);
      expect(attempt?.request.headers['X-Alga-Event-Id']).toBe(older.event_id);
      expect(attempt?.duration_ms).toBeGreaterThanOrEqual(0);
    },
    TEST_BUDGET_MS,
  );
});
