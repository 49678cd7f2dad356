import { describe, expect, it } from 'vitest';
import type { DeliveryJob } from '../functions/domain/delivery/jobs.ts';
import type { DeliveryRecord } from '../functions/domain/delivery/record.ts';
import type { DeadLetter, DeadLetterQueue } from './dead-letter-queue.ts';
import { type DeliveryRedriveTarget, planDeliveryRedrive } from './delivery-redrive.ts';
import { listDeadLetters, readRequest, redriveDeliveries, redriveEvents } from './dlq-commands.ts';
import { UsageError } from './targets.ts';

/** The dlq commands over an in-memory queue, history and job queue. */

const WEBHOOK_ID = '0b8a6d9e-4c5b-4e3a-9f1e-2d3c4b5a6978';
const DELIVERY_ID = '01900000-0000-7000-8000-000000000001';

const job = (overrides: Partial<DeliveryJob> = {}): DeliveryJob => ({
  delivery_id: DELIVERY_ID,
  tenant: 'acme',
  webhook_id: WEBHOOK_ID,
  attempt: 3,
  event: {
    event_id: 'evt-1',
    event_type: 'ticket.created',
    tenant_id: 'acme',
    occurred_at: '2025-01-01T00:00:00.000Z',
    entity_type: 'ticket',
    data: { id: 't-1' },
  },
  ...overrides,
});

const record = (overrides: Partial<DeliveryRecord> = {}): DeliveryRecord => ({
  delivery_id: DELIVERY_ID,
  webhook_id: WEBHOOK_ID,
  tenant: 'acme',
  event: job().event,
  event_type: 'ticket.created',
  status: 'abandoned',
  is_test: false,
  attempt_count: 3,
  chain_start: 0,
  attempts: [],
  final_reason: 'gave up after 3 attempts (last: HTTP 500)',
  dead_lettered: true,
  created_at: '2025-01-01T00:00:00.000Z',
  updated_at: '2025-01-01T00:01:00.000Z',
  completed_at: '2025-01-01T00:01:00.000Z',
  expires_at: 1_800_000_000,
  ...overrides,
});

type Letter = Omit<DeadLetter, 'receiptHandle'>;

/**
 * Receives hide what they answer until released, as a visibility timeout
 * does; `handsBack` answers the same first ten every time instead, as SQS
 * may when nothing is hidden.
 */
const memoryQueue = (letters: Letter[], { handsBack = false } = {}) => {
  const stored = [...letters];
  const hidden = new Set<string>();
  let receives = 0;
  const queue: DeadLetterQueue = {
    receive: async () => {
      receives += 1;
      const visible = stored.filter((letter) => !hidden.has(letter.messageId)).slice(0, 10);
      if (!handsBack) for (const letter of visible) hidden.add(letter.messageId);
      return visible.map((letter) => ({
        ...letter,
        receiptHandle: `${letter.messageId}#${receives}`,
      }));
    },
    remove: async (letter) => {
      stored.splice(
        stored.findIndex((entry) => entry.messageId === letter.messageId),
        1,
      );
    },
    release: async (released) => {
      for (const letter of released) hidden.delete(letter.messageId);
    },
  };
  return {
    queue,
    add: (letter: Letter) => stored.push(letter),
    ids: () => stored.map((letter) => letter.messageId),
    hiddenIds: () => [...hidden],
  };
};

const jobLetter = (messageId: string, body: DeliveryJob, reason?: string): Letter => ({
  messageId,
  body: JSON.stringify(body),
  reason,
  sentAt: '2025-01-01T00:01:00.000Z',
});

const memoryTarget = (
  records: DeliveryRecord[],
  webhook: { is_active: boolean } | undefined = { is_active: true },
) => {
  const stored = new Map(records.map((entry) => [entry.delivery_id, entry]));
  const sent: DeliveryJob[] = [];
  const restarted: string[] = [];
  let refuseRestart = false;
  const target: DeliveryRedriveTarget = {
    deliveries: {
      get: async (_webhookId, deliveryId) => stored.get(deliveryId),
      revertChain: async (entry) => {
        stored.set(entry.delivery_id, entry);
      },
      restartChain: async (entry, at) => {
        if (refuseRestart) return false;
        restarted.push(at);
        stored.set(entry.delivery_id, {
          ...entry,
          status: 'pending',
          chain_start: entry.attempt_count,
        });
        return true;
      },
    },
    webhooks: { get: async () => webhook },
    jobs: {
      send: async (jobs) => {
        sent.push(...jobs.map((entry) => entry.job));
      },
    },
    now: () => new Date('2025-02-01T00:00:00.000Z'),
  };
  return { target, sent, restarted, refuse: () => (refuseRestart = true) };
};

const printer = () => {
  const lines: string[] = [];
  return { lines, print: (line: string) => lines.push(line) };
};

describe('dlq list', () => {
  it('prints each delivery dead letter once, every field, and leaves them all on the queue', async () => {
    const letters = Array.from({ length: 12 }, (_, index) =>
      jobLetter(`m-${index}`, job({ attempt: index + 1 }), 'gave up after 3 attempts'),
    );
    const { queue, ids, hiddenIds } = memoryQueue(letters);
    const { lines, print } = printer();

    const count = await listDeadLetters(queue, 'deliveries', 100, print);

    expect(count).toBe(12);
    expect(lines[0]).toBe(
      'MESSAGE ID\tDELIVERY ID\tWEBHOOK ID\tTENANT\tEVENT TYPE\tATTEMPT\tSENT\tREASON',
    );
    expect(lines[1]).toBe(
      `m-0\t${DELIVERY_ID}\t${WEBHOOK_ID}\tacme\tticket.created\t1\t2025-01-01T00:01:00.000Z\tgave up after 3 attempts`,
    );
    expect(lines.slice(1).map((line) => line.split('\t')[0])).toEqual(ids());
    expect(ids()).toHaveLength(12);
    expect(hiddenIds()).toEqual([]);
  });

  it('stops after one pass when the queue answers the same messages again', async () => {
    const letters = Array.from({ length: 11 }, (_, index) =>
      jobLetter(`m-${index}`, job(), undefined),
    );
    const { queue } = memoryQueue(letters, { handsBack: true });
    const { lines, print } = printer();

    const count = await listDeadLetters(queue, 'deliveries', 100, print);

    expect(count).toBe(10);
    expect(lines[1]).toContain('moved by SQS after repeated failures');
  });

  it('stops at --limit and says there may be more', async () => {
    const letters = Array.from({ length: 5 }, (_, index) => jobLetter(`m-${index}`, job()));
    const { queue, hiddenIds } = memoryQueue(letters);
    const { lines, print } = printer();

    const count = await listDeadLetters(queue, 'deliveries', 2, print);

    expect(count).toBe(2);
    expect(lines.at(-1)).toBe('Showed the first 2; there may be more (--limit).');
    expect(hiddenIds()).toEqual([]);
  });

  it('shows an event dead letter’s reason and the head of its body on one line', async () => {
    const body = `{"event_type":\n"ticket.created","data":"${'x'.repeat(300)}"}`;
    const { queue } = memoryQueue([{ messageId: 'e-1', body, reason: 'tenant_id: required' }]);
    const { lines, print } = printer();

    await listDeadLetters(queue, 'events', 100, print);

    const [id, sent, reason, head] = lines[1]?.split('\t') ?? [];
    expect([id, sent, reason]).toEqual(['e-1', '-', 'tenant_id: required']);
    expect(head).toBe(body.slice(0, 200).replace('\n', ' '));
  });

  it('says so when the queue is empty', async () => {
    const { lines, print } = printer();

    await listDeadLetters(memoryQueue([]).queue, 'events', 100, print);

    expect(lines).toEqual(['No dead letters.']);
  });
});

describe('dlq redrive of deliveries', () => {
  it('restarts an abandoned delivery as a new attempt chain and deletes its dead letter', async () => {
    const { queue, ids } = memoryQueue([jobLetter('m-1', job(), 'gave up')]);
    const { target, sent, restarted } = memoryTarget([record()]);
    const { lines, print } = printer();

    const tally = await redriveDeliveries({ ...target, deadLetters: queue }, { all: true }, print);

    expect(restarted).toEqual(['2025-02-01T00:00:00.000Z']);
    expect(sent).toEqual([
      {
        delivery_id: DELIVERY_ID,
        tenant: 'acme',
        webhook_id: WEBHOOK_ID,
        attempt: 4,
        event: job().event,
      },
    ]);
    expect(ids()).toEqual([]);
    expect(tally).toEqual({ redriven: 1, deleted: 0, kept: 0 });
    expect(lines[0]).toBe(
      `m-1: delivery ${DELIVERY_ID} restarted as attempt 4, a new attempt chain`,
    );
  });

  it('sends a job whose attempt never ran again as it was', async () => {
    const retrying = record({ status: 'retrying', attempt_count: 2, completed_at: null });
    const moved = job({ attempt: 3, not_before: 1_900_000_000_000 });
    const { queue, ids } = memoryQueue([jobLetter('m-1', moved)]);
    const { target, sent, restarted } = memoryTarget([retrying]);
    const { lines, print } = printer();

    await redriveDeliveries({ ...target, deadLetters: queue }, { all: true }, print);

    expect(sent).toEqual([moved]);
    expect(restarted).toEqual([]);
    expect(ids()).toEqual([]);
    expect(lines[0]).toContain('attempt 3 sent again: attempt 3 never ran');
  });

  it('queues the next attempt of a retrying delivery whose job was set aside after its attempt', async () => {
    const retrying = record({ status: 'retrying', attempt_count: 2, completed_at: null });
    const { queue, ids } = memoryQueue([jobLetter('m-1', job({ attempt: 2 }))]);
    const { target, sent, restarted } = memoryTarget([retrying]);
    const { lines, print } = printer();

    await redriveDeliveries({ ...target, deadLetters: queue }, { all: true }, print);

    expect(sent).toEqual([job({ attempt: 3 })]);
    expect(restarted).toEqual([]);
    expect(ids()).toEqual([]);
    expect(lines[0]).toContain('attempt 3 sent again: attempt 3 may never have been queued');
  });

  it('sends a first attempt with no record again, and deletes a later one whose delivery is gone', async () => {
    const first = { ...job({ attempt: 1 }), delivery_id: '01900000-0000-7000-8000-00000000000a' };
    const { queue, ids } = memoryQueue([jobLetter('m-1', first), jobLetter('m-2', job())]);
    const { target, sent } = memoryTarget([]);
    const { lines, print } = printer();

    const tally = await redriveDeliveries({ ...target, deadLetters: queue }, { all: true }, print);

    expect(sent).toEqual([first]);
    expect(ids()).toEqual([]);
    expect(tally).toEqual({ redriven: 1, deleted: 1, kept: 0 });
    expect(lines[1]).toContain('dead letter deleted: the delivery no longer exists');
  });

  it('deletes the dead letter of a delivery retried by hand since, sending nothing', async () => {
    const { queue, ids } = memoryQueue([jobLetter('m-1', job(), 'gave up')]);
    const { target, sent } = memoryTarget([record({ status: 'delivered', attempt_count: 4 })]);
    const { lines, print } = printer();

    await redriveDeliveries({ ...target, deadLetters: queue }, { all: true }, print);

    expect(sent).toEqual([]);
    expect(ids()).toEqual([]);
    expect(lines[0]).toContain(
      'not redriven, dead letter deleted: it is no longer abandoned but delivered',
    );
  });

  it('leaves what it cannot redrive on the queue, visible, and says why', async () => {
    const { queue, ids, hiddenIds } = memoryQueue([
      { messageId: 'm-1', body: 'not json' },
      jobLetter('m-2', job(), 'gave up'),
    ]);
    const { target, sent } = memoryTarget([record()], { is_active: false });
    const { lines, print } = printer();

    const tally = await redriveDeliveries({ ...target, deadLetters: queue }, { all: true }, print);

    expect(sent).toEqual([]);
    expect(ids()).toEqual(['m-1', 'm-2']);
    expect(hiddenIds()).toEqual([]);
    expect(tally).toEqual({ redriven: 0, deleted: 0, kept: 2 });
    expect(lines[0]).toBe(
      'm-1: not a delivery job, left on the queue: see list, and delete it by hand',
    );
    expect(lines[1]).toContain('its webhook is disabled; enable it, then redrive');
  });

  it('keeps the dead letter when the delivery changed between reading and restarting it', async () => {
    const { queue, ids } = memoryQueue([jobLetter('m-1', job(), 'gave up')]);
    const { target, sent, refuse } = memoryTarget([record()]);
    refuse();

    await redriveDeliveries({ ...target, deadLetters: queue }, { all: true }, () => undefined);

    expect(sent).toEqual([]);
    expect(ids()).toEqual(['m-1']);
  });

  it('redrives only the message named by --id, and refuses an unknown id', async () => {
    const other = { ...job(), delivery_id: '01900000-0000-7000-8000-00000000000b' };
    const { queue, ids } = memoryQueue([
      jobLetter('m-1', other),
      jobLetter('m-2', job(), 'gave up'),
    ]);
    const { target, sent } = memoryTarget([record()]);

    await redriveDeliveries({ ...target, deadLetters: queue }, { id: 'm-2' }, () => undefined);
    const unknown = redriveDeliveries(
      { ...target, deadLetters: queue },
      { id: 'm-9' },
      () => undefined,
    );

    expect(sent.map((entry) => entry.delivery_id)).toEqual([DELIVERY_ID]);
    await expect(unknown).rejects.toThrow(new UsageError('No dead letter m-9 (see list)'));
    expect(ids()).toEqual(['m-1']);
  });
});

describe('planning a delivery redrive', () => {
  it('hands a cut-off attempt back to the worker, and leaves a running one alone', () => {
    const inFlight = record({ status: 'retrying', in_flight: { attempt: 3, started_at: 'x' } });

    const cutOff = planDeliveryRedrive(job({ attempt: 3 }), inFlight, { is_active: true });
    const earlier = planDeliveryRedrive(job({ attempt: 2 }), inFlight, { is_active: true });

    expect(cutOff.action).toBe('resend');
    expect(earlier).toEqual({ action: 'drop', why: 'it is being delivered (attempt 3)' });
  });

  it('drops jobs of deleted webhooks and keeps deliveries out of attempts', () => {
    const gone = planDeliveryRedrive(job(), record(), undefined);
    const spent = planDeliveryRedrive(job(), record({ attempt_count: 20 }), { is_active: true });

    expect(gone.action).toBe('drop');
    expect(spent).toEqual({
      action: 'keep',
      why: 'it has had 20 attempts, the most a delivery may have',
    });
  });
});

describe('dlq redrive of events', () => {
  it('sends each event back as it came and warns of those that were refused', async () => {
    const { queue, ids } = memoryQueue([
      {
        messageId: 'e-1',
        body: '{"event_type":"ticket.created","data":[]}',
        reason: 'data: object expected',
      },
      { messageId: 'e-2', body: '{"event_id":"evt-2"}' },
    ]);
    const ingested: string[] = [];
    const { lines, print } = printer();

    await redriveEvents(
      { deadLetters: queue, ingest: { send: async (body) => void ingested.push(body) } },
      { all: true },
      print,
    );

    expect(ingested).toEqual(['{"event_type":"ticket.created","data":[]}', '{"event_id":"evt-2"}']);
    expect(ids()).toEqual([]);
    expect(lines[0]).toBe(
      'e-1: sent back, but it was refused (data: object expected); it will come back here unless fixed at its source',
    );
    expect(lines[1]).toBe('e-2: sent back to the ingest queue');
  });
});

describe('one redrive pass', () => {
  it('leaves alone what arrives while it runs, so a letter that keeps failing is not redriven for ever', async () => {
    const refused = { body: '{"data":[]}', reason: 'tenant_id is required' };
    const { queue, add, ids } = memoryQueue([
      { messageId: 'e-1', ...refused, sentAt: '2025-01-01T00:00:00.000Z' },
    ]);
    const ingested: string[] = [];
    const ingest = {
      send: async (body: string) => {
        ingested.push(body);
        add({
          messageId: `e-${ingested.length + 1}`,
          ...refused,
          sentAt: new Date().toISOString(),
        });
      },
    };
    const { lines, print } = printer();

    await redriveEvents({ deadLetters: queue, ingest }, { all: true }, print);

    expect(ingested).toEqual(['{"data":[]}']);
    expect(ids()).toEqual(['e-2']);
    expect(lines.at(-1)).toBe(
      '1 more arrived meanwhile (redriven ones failing again?); not touched.',
    );
  });
});

describe('dlq arguments', () => {
  it('default to the deliveries queue and a limit of 100', () => {
    expect(readRequest(['list'], {})).toEqual({
      command: 'list',
      queue: 'deliveries',
      limit: 100,
      selection: { all: true },
    });
    expect(readRequest(['redrive'], { queue: 'events', id: 'm-1' }).selection).toEqual({
      id: 'm-1',
    });
  });

  it.each([
    [['purge'], {}, 'Unknown command purge'],
    [['list', 'extra'], {}, 'Unexpected arguments: extra'],
    [['list'], { queue: 'webhooks' }, '--queue must be deliveries or events; got webhooks'],
    [['list'], { limit: '0' }, '--limit must be a whole number from 1; got 0'],
    [['list'], { limit: 'ten' }, '--limit must be a whole number from 1; got ten'],
    [['list'], { all: true }, 'list takes no --id or --all'],
    [['redrive'], {}, 'redrive needs either --id <message id> or --all'],
    [['redrive'], { id: 'm-1', all: true }, 'redrive needs either --id <message id> or --all'],
    [['redrive'], { all: true, limit: '3' }, 'redrive takes no --limit'],
  ])('refuse %j %j', (positionals, options, message) => {
    expect(() => readRequest(positionals, options)).toThrow(new UsageError(message));
  });
});
