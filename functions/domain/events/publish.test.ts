import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EVENT_TYPES } from './catalog.ts';
import { parseIngestEvent } from './ingest.ts';
import { checkPublishBody, MAX_EVENTS_PER_REQUEST } from './publish.ts';

const defaults = {
  now: new Date('2026-03-01T12:00:00.000Z'),
  newId: () => 'generated-id',
};

const check = (body: Record<string, unknown>) => checkPublishBody(body, 'acme', defaults);

describe('checkPublishBody', () => {
  it('takes one event, its tenant the key’s, completed as the ingest queue completes it', () => {
    // Act
    const result = check({ event_type: 'ticket.created', data: { id: 't-1' } });

    // Assess
    expect(result).toEqual({
      ok: true,
      events: [
        {
          event_id: 'generated-id',
          event_type: 'ticket.created',
          tenant_id: 'acme',
          occurred_at: '2026-03-01T12:00:00.000Z',
          entity_type: 'ticket',
          data: { id: 't-1' },
        },
      ],
    });
  });

  it('takes up to ten events in order, keeping the ids given', () => {
    const events = Array.from({ length: MAX_EVENTS_PER_REQUEST }, (_, index) => ({
      event_id: `evt-${index}`,
      event_type: 'project.created',
      tenant_id: 'acme',
      data: { index },
    }));

    const result = check({ events });

    expect(result.ok && result.events.map((event) => event.event_id)).toEqual(
      events.map((event) => event.event_id),
    );
  });

  it('refuses the whole request for one bad event, naming every bad field by its place', () => {
    const result = check({
      events: [
        { event_type: 'ticket.created', data: {} },
        { event_type: 'ticket.exploded', data: [], extra: 1 },
        { event_type: 'ticket.created', tenant_id: 'someone-else', data: {} },
        'not an event',
      ],
    });

    expect(result).toEqual({
      ok: false,
      problems: expect.arrayContaining([
        {
          field: 'events.1.event_type',
          message: 'is not a known event type (GET /api/v1/webhooks/events lists them)',
        },
        { field: 'events.1.data', message: 'must be a JSON object' },
        { field: 'events.1.extra', message: 'is not a known field' },
        {
          field: 'events.2.tenant_id',
          message: "must be this API key's tenant (acme), or left out",
        },
        { field: 'events.3', message: 'must be a JSON object' },
      ]),
    });
    expect(result.ok ? [] : result.problems.map((problem) => problem.field)).not.toContain(
      'events.0',
    );
  });

  it.each([
    [{ events: [] }, 'events'],
    [{ events: Array.from({ length: 11 }, () => ({})) }, 'events'],
    [{ events: {} }, 'events'],
    [{ events: [{ event_type: 'ticket.created', data: {} }], event_type: 'x' }, 'event_type'],
    [{ data: {} }, 'event_type'],
    [{ event_type: 'webhook.test', data: {} }, 'event_type'],
  ])('refuses %j on %s', (body, field) => {
    const result = check(body);

    expect(result.ok ? [] : result.problems.map((problem) => problem.field)).toContain(field);
  });

  it('accepts only what the fan-out accepts as it stands: queued events parse to themselves', () => {
    const eventArbitrary = fc.record(
      {
        event_id: fc.stringMatching(/^[A-Za-z0-9_.:-]{1,20}$/),
        event_type: fc.constantFrom(...EVENT_TYPES),
        occurred_at: fc
          .date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true })
          .map((date) => date.toISOString()),
        tags: fc.array(fc.constantFrom('vip', 'eu', 'a'), { maxLength: 3 }),
        data: fc.dictionary(fc.stringMatching(/^[a-z]{1,8}$/), fc.jsonValue({ maxDepth: 3 })),
      },
      { requiredKeys: ['event_type', 'data'] },
    );
    fc.assert(
      fc.property(fc.array(eventArbitrary, { minLength: 1, maxLength: 10 }), (events) => {
        const result = check({ events });
        if (!result.ok) return;
        for (const event of result.events) {
          const again = parseIngestEvent(JSON.stringify(event), {
            now: new Date(0),
            newId: () => 'other',
          });
          expect(again).toEqual({ ok: true, event });
        }
      }),
      { seed: 11, numRuns: 200 },
    );
  });
});
