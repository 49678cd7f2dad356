import { describe, expect, it } from 'vitest';
import { MAX_JSON_DEPTH } from '../json-shape.ts';
import { MAX_INGEST_BODY_BYTES, parseIngestEvent } from './ingest.ts';

const defaults = {
  now: new Date('2026-03-01T12:00:00.000Z'),
  newId: () => '0b6f4a52-64d4-4d5e-9a8e-7f1c3b1d2e4f',
};

const message = (overrides: Record<string, unknown> = {}) =>
  JSON.stringify({
    event_type: 'ticket.created',
    tenant_id: 'acme',
    data: { ticket_id: 't-1', priority: 'high' },
    ...overrides,
  });

const reasonFor = (body: string): string => {
  const result = parseIngestEvent(body, defaults);
  if (result.ok) throw new Error('expected the message to be refused');
  return result.reason;
};

describe('parseIngestEvent', () => {
  it('fills the defaults of a minimal message', () => {
    // Prepare
    const body = message();

    // Act
    const result = parseIngestEvent(body, defaults);

    // Assess
    expect(result).toEqual({
      ok: true,
      event: {
        event_id: '0b6f4a52-64d4-4d5e-9a8e-7f1c3b1d2e4f',
        event_type: 'ticket.created',
        tenant_id: 'acme',
        occurred_at: '2026-03-01T12:00:00.000Z',
        entity_type: 'ticket',
        data: { ticket_id: 't-1', priority: 'high' },
      },
    });
  });

  it('keeps what the producer gave, normalising occurred_at to UTC with milliseconds', () => {
    // Prepare
    const body = message({
      event_id: 'evt:2026.03-01_7',
      event_type: 'time.entry.approved',
      occurred_at: '2026-03-01T10:00:00+02:00',
      entity_type: 'time_entry',
      entity_id: '42',
      tags: ['vip', 'eu', 'vip'],
    });

    // Act
    const result = parseIngestEvent(body, defaults);

    // Assess
    expect(result).toEqual({
      ok: true,
      event: {
        event_id: 'evt:2026.03-01_7',
        event_type: 'time.entry.approved',
        tenant_id: 'acme',
        occurred_at: '2026-03-01T08:00:00.000Z',
        entity_type: 'time_entry',
        entity_id: '42',
        tags: ['vip', 'eu'],
        data: { ticket_id: 't-1', priority: 'high' },
      },
    });
  });

  it('takes the first segment of the event type as the default entity type', () => {
    // Act
    const result = parseIngestEvent(message({ event_type: 'project.task.assigned' }), defaults);

    // Assess
    expect(result.ok && result.event.entity_type).toBe('project');
  });

  it.each([
    ['not json', 'Invalid event: the message is not valid JSON'],
    ['[1,2]', 'Invalid event: the message must be a JSON object'],
    ['null', 'Invalid event: the message must be a JSON object'],
  ])('refuses the body %s', (body, reason) => {
    expect(reasonFor(body)).toBe(reason);
  });

  it('refuses a body over 128 KiB of UTF-8, counting bytes rather than characters', () => {
    // Prepare: 'é' is two bytes, so this is under the limit in characters but over it in bytes.
    const body = message({ data: { text: 'é'.repeat(MAX_INGEST_BODY_BYTES / 2) } });

    // Act
    const reason = reasonFor(body);

    // Assess
    expect(body.length).toBeLessThan(MAX_INGEST_BODY_BYTES * 1.01);
    expect(reason).toMatch(
      new RegExp(
        `^Invalid event: the message is \\d+ bytes; at most ${MAX_INGEST_BODY_BYTES} are accepted$`,
      ),
    );
  });

  it('lists every problem on one line', () => {
    // Prepare
    const body = JSON.stringify({
      event_id: '',
      event_type: 'ticket.exploded',
      occurred_at: 'yesterday',
      entity_type: 'Ticket',
      tags: ['ok', ''],
      data: [],
      extra: 1,
    });

    // Act
    const reason = reasonFor(body);

    // Assess
    expect(reason).toBe(
      'Invalid event: event_id must be 1-128 letters, digits or _ . : - (a UUID is best); ' +
        'event_type is not a known event type (GET /api/v1/webhooks/events lists them); ' +
        'tenant_id is required; ' +
        'occurred_at must be an ISO-8601 date or date-time; ' +
        'entity_type must be a lower-case word such as "ticket"; ' +
        'tags.1 must not be empty; ' +
        'data must be a JSON object; ' +
        'extra is not a known field',
    );
    expect(reason).not.toContain('\n');
  });

  it('refuses webhook.test from producers', () => {
    expect(reasonFor(message({ event_type: 'webhook.test' }))).toBe(
      'Invalid event: event_type webhook.test is reserved for test deliveries (POST /webhooks/{id}/test)',
    );
  });

  it.each([
    [{ tenant_id: '-acme' }, 'tenant_id tenant ids are 1-128 letters'],
    [{ event_id: 'a'.repeat(129) }, 'event_id must be 1-128'],
    [{ event_id: 'has space' }, 'event_id must be 1-128'],
    [{ entity_id: 'x'.repeat(129) }, 'entity_id must be at most 128 characters'],
    [{ entity_id: 7 }, 'entity_id must be a string'],
    [{ tags: Array.from({ length: 51 }, (_, i) => `t${i}`) }, 'tags must have at most 50 tags'],
    [{ occurred_at: '2026-02-30' }, 'occurred_at must be a real calendar date and time'],
    [{ data: null }, 'data must be a JSON object'],
    [{ data: 'text' }, 'data must be a JSON object'],
    [{ data: undefined }, 'data is required'],
    [{ event_type: 5 }, 'event_type must be a string'],
  ])('refuses %j', (overrides, problem) => {
    expect(reasonFor(message(overrides))).toContain(problem);
  });

  it('accepts an entity_id that is not a UUID', () => {
    expect(parseIngestEvent(message({ entity_id: 'TCK-1001' }), defaults).ok).toBe(true);
  });

  it('refuses prototype keys anywhere in the message', () => {
    // Prepare: JSON.stringify would drop __proto__, so the body is written by hand.
    const body =
      '{"event_type":"ticket.created","tenant_id":"acme","__proto__":{},' +
      '"data":{"a":{"constructor":1},"list":[{"prototype":2}]}}';

    // Act
    const reason = reasonFor(body);

    // Assess
    expect(reason).toContain('__proto__ is a reserved name and cannot be used as a key');
    expect(reason).toContain('data.a.constructor is a reserved name');
    expect(reason).toContain('data.list.0.prototype is a reserved name');
  });

  it('refuses data nested deeper than the limit without overflowing the stack', () => {
    // Prepare
    const depth = 50_000;
    const body = `{"event_type":"ticket.created","tenant_id":"acme","data":{"a":${'['.repeat(depth)}${']'.repeat(depth)}}}`;

    // Act
    const reason = reasonFor(body);

    // Assess
    expect(reason).toContain(`is nested more than ${MAX_JSON_DEPTH} levels deep`);
  });

  /** A message whose data is `levels` objects deep; the message itself is one more. */
  const nestedData = (levels: number) =>
    `{"event_type":"ticket.created","tenant_id":"acme","data":${'{"x":'.repeat(levels)}1${'}'.repeat(levels)}}`;

  it('accepts data as deep as DynamoDB stores it in a delivery, and refuses one level more', () => {
    // Prepare: the message is the delivery's `event` attribute, so its levels are the item's.
    const deepest = nestedData(MAX_JSON_DEPTH - 1);
    const tooDeep = nestedData(MAX_JSON_DEPTH);

    // Act
    const accepted = parseIngestEvent(deepest, defaults);
    const refused = reasonFor(tooDeep);

    // Assess
    expect(accepted.ok).toBe(true);
    expect(refused).toContain(`data${'.x'.repeat(MAX_JSON_DEPTH - 1)} is nested more than`);
  });

  it('refuses text with a lone surrogate, which UTF-8 cannot carry', () => {
    // Prepare
    const body = '{"event_type":"ticket.created","tenant_id":"acme","data":{"a":"\\ud800"}}';

    // Act
    const reason = reasonFor(body);

    // Assess
    expect(reason).toContain('data.a is not valid Unicode');
  });

  it('lists at most 20 problems and counts the rest', () => {
    // Prepare
    const data = Object.fromEntries(
      Array.from({ length: 30 }, (_, i) => [`k${i}`, { ['__proto__']: 1 }]),
    );
    const body = message({ data });
    // Act
    const reason = reasonFor(body);

    // Assess
    expect(body).toContain('"k29":{"__proto__":1}');
    expect(reason.split('; ')).toHaveLength(21);
    expect(reason).toMatch(/; and 10 more$/);
  });
});

describe('what cannot travel on', () => {
  it.each([
    ['1e400', 'data.n is a number too large to represent'],
    ['9007199254740993', 'data.n is a number beyond'],
    ['1e-200', 'data.n is a number closer to 0 than 1e-130'],
    ['"\\uffff"', 'data.n holds U+FFFE or U+FFFF, which SQS refuses'],
  ])('refuses data.n = %s, which delivery could neither store nor queue', (value, reason) => {
    const body = message({ data: { n: 0 } }).replace('"n":0', `"n":${value}`);

    expect(reasonFor(body)).toContain(reason);
  });

  it('refuses U+FFFE in tags and entity ids too', () => {
    const reason = reasonFor(message({ tags: ['\ufffe'], entity_id: 'x\uffff' }));

    expect(reason).toContain('entity_id holds U+FFFE or U+FFFF');
    expect(reason).toContain('tags.0 holds U+FFFE or U+FFFF');
  });
});

describe('size once normalised', () => {
  it('refuses an event whose numbers grow past the limit when written back out', () => {
    // 1e15 is stored exactly, and written back out as 1000000000000000.
    const count = Math.floor(MAX_INGEST_BODY_BYTES / 6);
    const body = JSON.stringify({
      event_type: 'ticket.created',
      tenant_id: 'acme',
      data: { values: [] },
    }).replace('[]', `[${Array.from({ length: count }, () => '1e15').join(',')}]`);

    const result = parseIngestEvent(body, { now: new Date(0), newId: () => 'id-1' });

    expect(Buffer.byteLength(body)).toBeLessThanOrEqual(MAX_INGEST_BODY_BYTES);
    expect(result.ok).toBe(false);
    expect(result.ok ? '' : result.reason).toMatch(/once normalised/);
  });
});
