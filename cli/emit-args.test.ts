import { describe, expect, it } from 'vitest';
import { type EmitRequest, parseEmitArgs, producerEvents, UsageError } from './emit-args.ts';

const defaults = { tenant: 'dev' };

/** Parses arguments that must be a request, not a help call. */
const request = (argv: string[]): EmitRequest => {
  const args = parseEmitArgs(argv, defaults);
  if (args.help) throw new Error('expected a request, got help');
  return args;
};

const usageError = (argv: string[]) => {
  try {
    parseEmitArgs(argv, defaults);
  } catch (error) {
    if (error instanceof UsageError) return error.message;
    throw error;
  }
  throw new Error('expected a UsageError');
};

describe('parseEmitArgs', () => {
  it('takes the event type and data with the defaults', () => {
    // Act
    const parsed = request(['ticket.created', '{"ticket_id": "t-1"}']);

    // Assess
    expect(parsed).toEqual({
      help: false,
      eventType: 'ticket.created',
      data: { ticket_id: 't-1' },
      tenant: 'dev',
      eventId: undefined,
      entityId: undefined,
      tags: undefined,
      count: 1,
      queueUrl: undefined,
      warnings: [],
    });
  });

  it('takes every option', () => {
    // Act
    const parsed = request([
      'invoice.paid',
      '{}',
      '--tenant',
      'acme',
      '--event-id',
      'evt-1',
      '--entity-id',
      'inv-9',
      '--tags',
      ' vip , eu,,',
      '--count',
      '3',
      '--queue-url',
      'http://127.0.0.1:4566/000000000000/webhook-events',
    ]);

    // Assess
    expect(parsed).toMatchObject({
      tenant: 'acme',
      eventId: 'evt-1',
      entityId: 'inv-9',
      tags: ['vip', 'eu'],
      count: 3,
      queueUrl: 'http://127.0.0.1:4566/000000000000/webhook-events',
    });
  });

  it('answers help', () => {
    expect(parseEmitArgs(['--help'], defaults)).toEqual({ help: true });
    expect(parseEmitArgs(['-h'], defaults)).toEqual({ help: true });
  });

  it('warns about an event type outside the catalog but still sends it', () => {
    expect(request(['ticket.exploded', '{}']).warnings).toEqual([
      'ticket.exploded is not in the event catalog: no webhook can subscribe to it',
    ]);
  });

  it('says clearly when the data is not JSON', () => {
    expect(usageError(['ticket.created', '{id: 1}'])).toMatch(
      /^the data argument is not valid JSON \(.+\): \{id: 1\}$/,
    );
  });

  it('refuses data that is JSON but not an object', () => {
    expect(usageError(['ticket.created', '[1, 2]'])).toBe(
      `the data argument must be a JSON object, like '{"id": 1}'; got an array`,
    );
    expect(usageError(['ticket.created', 'null'])).toMatch(/got null$/);
    expect(usageError(['ticket.created', '"text"'])).toMatch(/got string$/);
  });

  it('refuses missing, extra and malformed arguments', () => {
    expect(usageError([])).toMatch(/needs an event type and its data/);
    expect(usageError(['ticket.created'])).toMatch(/needs an event type and its data/);
    expect(usageError(['ticket.created', '{"a":', '1}'])).toBe(
      'unexpected arguments: 1} (quote the JSON data)',
    );
    expect(usageError(['ticket.created', '{}', '--count', '0'])).toBe(
      '--count must be a whole number from 1 to 1000; got 0',
    );
    expect(usageError(['ticket.created', '{}', '--count', '2.5'])).toMatch(/^--count/);
    expect(usageError(['ticket.created', '{}', '--tags', ' , '])).toMatch(/^--tags/);
    expect(usageError(['ticket.created', '{}', '--tenant', ''])).toBe('--tenant must not be empty');
    expect(usageError(['ticket.created', '{}', '--queue-url', 'webhook-events'])).toMatch(
      /^--queue-url must be an http\(s\) URL/,
    );
    expect(usageError(['ticket.created', '{}', '--colour', 'red'])).toMatch(/--colour/);
  });
});

describe('producerEvents', () => {
  const now = new Date('2025-01-02T03:04:05.000Z');
  let counter = 0;
  const newId = () => `id-${++counter}`;

  it('builds the contract message, a new id for each copy', () => {
    // Prepare
    counter = 0;
    const parsed = request(['ticket.created', '{"ticket_id":"t-1"}', '--count', '2']);

    // Act
    const events = producerEvents(parsed, now, newId);

    // Assess
    expect(events).toEqual([
      {
        event_id: 'id-1',
        event_type: 'ticket.created',
        tenant_id: 'dev',
        occurred_at: '2025-01-02T03:04:05.000Z',
        data: { ticket_id: 't-1' },
      },
      {
        event_id: 'id-2',
        event_type: 'ticket.created',
        tenant_id: 'dev',
        occurred_at: '2025-01-02T03:04:05.000Z',
        data: { ticket_id: 't-1' },
      },
    ]);
  });

  it('repeats a given event id and carries entity id and tags', () => {
    // Prepare
    const parsed = request([
      'ticket.created',
      '{}',
      '--event-id',
      'evt-1',
      '--entity-id',
      't-1',
      '--tags',
      'a,b',
      '--count',
      '2',
    ]);

    // Act
    const events = producerEvents(parsed, now, newId);

    // Assess
    expect(events.map((event) => event.event_id)).toEqual(['evt-1', 'evt-1']);
    expect(events[0]).toMatchObject({ entity_id: 't-1', tags: ['a', 'b'] });
  });
});
