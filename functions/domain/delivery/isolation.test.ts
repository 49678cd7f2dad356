import { describe, expect, it } from 'vitest';
import { parseOrThrow } from '../validation.ts';
import { type WebhookRecord, webhookConfigSchema } from '../webhooks/schema.ts';
import { newWebhook } from '../webhooks/webhook.ts';
import type { CircuitUpdate, IsolationSettings, Lane, ProbeClaim } from './circuit.ts';
import { BatchIsolation, type SetAside } from './isolation.ts';
import type { DeliveryJob } from './jobs.ts';
import type { SendResult } from './model.ts';
import type { Held } from './record.ts';

const SETTINGS: IsolationSettings = {
  failureThreshold: 3,
  timeoutThreshold: 2,
  openMs: 30_000,
  maxOpenMs: 600_000,
  slowAfterMs: 40,
  overflowLane: true,
};
const NOW = new Date('2026-06-01T12:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();

const webhookWith = (changes: Partial<WebhookRecord> = {}): WebhookRecord => ({
  ...newWebhook(
    'acme',
    parseOrThrow(webhookConfigSchema, {
      name: 'Orders',
      url: 'https://example.com/hook',
      event_types: ['ticket.created'],
      retry_config: { timeout: 1000 },
    }),
    { webhookId: '11111111-1111-4111-8111-111111111111', now: NOW },
  ),
  ...changes,
});

const jobOf = (n: number, changes: Partial<DeliveryJob> = {}): DeliveryJob => ({
  delivery_id: `0190a000-0000-7000-8000-00000000000${n}`,
  tenant: 'acme',
  webhook_id: '11111111-1111-4111-8111-111111111111',
  attempt: 1,
  event: {
    event_id: `e-${n}`,
    event_type: 'ticket.created',
    tenant_id: 'acme',
    occurred_at: NOW.toISOString(),
    entity_type: 'ticket',
    data: {},
  },
  ...changes,
});

const fakes = (claimWins = true) => {
  const writes: CircuitUpdate[] = [];
  const claims: ProbeClaim[] = [];
  const holds: { job: DeliveryJob; held: Held }[] = [];
  return {
    writes,
    claims,
    holds,
    ports: {
      circuits: {
        claimProbe: async (_tenant: string, _id: string, claim: ProbeClaim) => {
          claims.push(claim);
          return claimWins;
        },
        updateCircuit: async (_tenant: string, _id: string, update: CircuitUpdate) => {
          writes.push(update);
          return true;
        },
      },
      holds: {
        hold: async (job: DeliveryJob, held: Held) => {
          holds.push({ job, held });
          return true;
        },
      },
    },
  };
};

const batch = (ports: ReturnType<typeof fakes>['ports'], lane: Lane) =>
  new BatchIsolation(ports, SETTINGS, lane, {
    now: () => NOW,
    random: () => 0,
    log: () => undefined,
  });

const candidates = (webhook: WebhookRecord, jobs: DeliveryJob[]) =>
  jobs.map((job, index) => ({ messageId: `m-${index}`, job, webhook }));

const enqueued = (setAside: SetAside[]) =>
  setAside.flatMap((result) =>
    'decision' in result
      ? result.decision.effects.flatMap((effect) => (effect.type === 'enqueue' ? [effect] : []))
      : [],
  );

const ok: SendResult = {
  ok: true,
  status_code: 200,
  response_headers: {},
  response_body: '',
  duration_ms: 10,
};
const timedOut: SendResult = {
  ok: false,
  response_headers: {},
  response_body: '',
  duration_ms: 1000,
  error_class: 'timeout',
  error_message: 'no answer within 1000 ms',
};

describe('a batch’s circuits and lanes', () => {
  it('lets a closed circuit’s jobs go, and writes once that a new receiver answers fast', async () => {
    const { ports, writes } = fakes();
    const isolation = batch(ports, 'standard');
    const webhook = webhookWith();
    const { go, setAside } = await isolation.admit(candidates(webhook, [jobOf(1), jobOf(2)]));
    expect(go.map((run) => run.probe)).toEqual([false, false]);
    expect(setAside).toEqual([]);

    for (const run of go) await isolation.answered(run, ok, 10, NOW.getTime());
    const finished = isolation.finish([
      {
        messageId: 'm-9',
        decision: { effects: [{ type: 'enqueue', job: jobOf(9, { attempt: 2 }), dueAtMs: 0 }] },
      },
    ]);
    await finished.written;
    expect(writes).toEqual([{ kind: 'lane', at: NOW.toISOString(), lane: 'standard' }]);
    // What the batch puts back goes by the state it wrote.
    expect(enqueued([...finished.decisions])).toMatchObject([{ lane: 'standard' }]);
  });

  it('holds an open circuit’s jobs, writing each one’s history once, into the overflow lane', async () => {
    const { ports, holds, writes } = fakes();
    const isolation = batch(ports, 'standard');
    const webhook = webhookWith({
      circuit_opened_at: NOW.toISOString(),
      circuit_retry_at: iso(NOW.getTime() + 30_000),
      circuit_last_failure: 'HTTP 503',
    });
    const heldBefore = jobOf(2, { held_since: iso(NOW.getTime() - 60_000), rate_slot: true });
    const { go, setAside } = await isolation.admit(candidates(webhook, [jobOf(1), heldBefore]));
    expect(go).toEqual([]);
    expect(holds.map(({ job }) => job.delivery_id)).toEqual([jobOf(1).delivery_id]);
    expect(holds[0]?.held).toMatchObject({
      since: NOW.toISOString(),
      until: iso(NOW.getTime() + 30_000),
      reason: expect.stringContaining('HTTP 503'),
    });
    const back = enqueued(setAside);
    expect(back).toMatchObject([
      {
        lane: 'overflow',
        dueAtMs: NOW.getTime() + 30_000,
        job: { held_since: NOW.toISOString(), attempt: 1 },
      },
      { lane: 'overflow', job: { held_since: iso(NOW.getTime() - 60_000) } },
    ]);
    // A held job gives up its rate-limit slot: it asks again when it comes back.
    expect(back[1]?.job.rate_slot).toBeUndefined();
    expect(writes).toEqual([]);
  });

  it('sends one probe of a half-open circuit and holds the rest until it must have answered', async () => {
    const { ports, claims, writes } = fakes(true);
    const isolation = batch(ports, 'overflow');
    const webhook = webhookWith({
      circuit_opened_at: iso(NOW.getTime() - 30_000),
      circuit_retry_at: iso(NOW.getTime() - 1),
    });
    const { go, setAside } = await isolation.admit(
      candidates(webhook, [jobOf(1), jobOf(2), jobOf(3)]),
    );
    expect(claims).toHaveLength(1);
    expect(go.map((run) => [run.job.delivery_id, run.probe])).toEqual([
      [jobOf(1).delivery_id, true],
    ]);
    expect(enqueued(setAside).map((effect) => effect.dueAtMs)).toEqual([
      NOW.getTime() + 1000 + 5000,
      NOW.getTime() + 1000 + 5000,
    ]);

    const [probe] = go;
    if (!probe) throw new Error('no probe');
    await isolation.answered(probe, ok, 10, NOW.getTime() + 10);
    await isolation.finish([]).written;
    // The claim, then the close: the one case of two writes in a batch.
    expect(writes).toEqual([{ kind: 'close', at: iso(NOW.getTime() + 10), lane: 'standard' }]);
  });

  it('holds every job when another worker won the probe', async () => {
    const { ports } = fakes(false);
    const webhook = webhookWith({
      circuit_opened_at: iso(NOW.getTime() - 30_000),
      circuit_retry_at: iso(NOW.getTime() - 1),
    });
    const { go, setAside } = await batch(ports, 'overflow').admit(candidates(webhook, [jobOf(1)]));
    expect(go).toEqual([]);
    expect(enqueued(setAside)).toHaveLength(1);
  });

  it('moves jobs for the overflow lane out of the standard lane without sending them', async () => {
    const { ports, claims, holds } = fakes();
    const isolation = batch(ports, 'standard');
    const slow = webhookWith({ lane: 'overflow' });
    const halfOpen = webhookWith({
      webhook_id: '22222222-2222-4222-8222-222222222222',
      circuit_opened_at: iso(NOW.getTime() - 30_000),
      circuit_retry_at: iso(NOW.getTime() - 1),
    });
    const { go, setAside } = await isolation.admit([
      ...candidates(slow, [jobOf(1)]),
      ...candidates(halfOpen, [jobOf(2, { webhook_id: halfOpen.webhook_id })]),
    ]);
    expect(go).toEqual([]);
    // The probe is made in the overflow lane, not claimed here.
    expect(claims).toEqual([]);
    expect(holds).toEqual([]);
    expect(enqueued(setAside)).toMatchObject([
      { lane: 'overflow', dueAtMs: NOW.getTime(), job: { delivery_id: jobOf(1).delivery_id } },
      { lane: 'overflow', dueAtMs: NOW.getTime() },
    ]);
  });

  it('counts a batch’s failures in one write, however many jobs failed', async () => {
    const { ports, writes } = fakes();
    const isolation = batch(ports, 'standard');
    const { go } = await isolation.admit(
      candidates(webhookWith({ lane: 'standard', circuit_failures: 1 }), [jobOf(1), jobOf(2)]),
    );
    for (const run of go) await isolation.answered(run, timedOut, 1000, NOW.getTime());
    await isolation.finish([]).written;
    expect(writes).toEqual([
      {
        kind: 'open',
        at: NOW.toISOString(),
        retryAt: iso(NOW.getTime() + 30_000),
        run: { failures: 3, timeouts: 2 },
        lastFailure: 'timeout: no answer within 1000 ms',
      },
    ]);
  });

  it('moves a standard-lane receiver to the overflow lane while its send is still out, once', async () => {
    const { ports, writes } = fakes();
    const isolation = batch(ports, 'standard');
    const { go } = await isolation.admit(
      candidates(webhookWith({ lane: 'standard' }), [jobOf(1), jobOf(2)]),
    );
    const slowSend = () => new Promise<string>((resolve) => setTimeout(() => resolve('late'), 120));
    await Promise.all(go.map((run) => isolation.watch(run, slowSend)));
    for (const run of go) await isolation.answered(run, timedOut, 1000, NOW.getTime());
    await isolation.finish([]).written;
    // The lane changes while the sends are out; the circuit's count is written once, at the end.
    expect(writes).toEqual([
      { kind: 'lane', at: NOW.toISOString(), lane: 'overflow' },
      {
        kind: 'open',
        at: NOW.toISOString(),
        retryAt: iso(NOW.getTime() + 30_000),
        run: { failures: 2, timeouts: 2 },
        lastFailure: 'timeout: no answer within 1000 ms',
      },
    ]);
  });
});
