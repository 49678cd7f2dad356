import { describe, expect, it } from 'vitest';
import type { EventFilter, WebhookRecord } from '../webhooks/schema.ts';
import { deepEqual, matchesEvent, matchingWebhooks, valueAtPath } from './matching.ts';
import type { DeliveryEvent } from './model.ts';

type Matchable = Pick<WebhookRecord, 'is_active' | 'event_types' | 'event_filter'>;
type Condition = NonNullable<EventFilter['conditions']>[number];

const TICKET_ID = '6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f';

const anEvent = (overrides: Partial<DeliveryEvent> = {}): DeliveryEvent => ({
  event_id: 'evt-1',
  event_type: 'ticket.created',
  tenant_id: 'acme',
  occurred_at: '2026-03-01T12:00:00.000Z',
  entity_type: 'ticket',
  entity_id: TICKET_ID,
  tags: ['vip', 'eu'],
  data: {
    status: 'open',
    priority: 3,
    due: '2026-03-05T10:00:00+02:00',
    title: 'Printer on fire',
    labels: ['hardware', { kind: 'urgent' }],
    assignee: { name: 'Ada', team: { id: 7 } },
    note: null,
  },
  ...overrides,
});

const aWebhook = (overrides: Partial<Matchable> = {}): Matchable => ({
  is_active: true,
  event_types: ['ticket.created'],
  event_filter: null,
  ...overrides,
});

const withFilter = (event_filter: EventFilter) => aWebhook({ event_filter });

const condition = (field: string, operator: Condition['operator'], value: unknown): Matchable =>
  withFilter({ conditions: [{ field, operator, value }] });

describe('matchesEvent: subscription', () => {
  it('matches an active webhook subscribed to the event type', () => {
    expect(matchesEvent(aWebhook(), anEvent())).toBe(true);
  });

  it('skips an inactive webhook', () => {
    expect(matchesEvent(aWebhook({ is_active: false }), anEvent())).toBe(false);
  });

  it('skips a webhook subscribed to other types', () => {
    expect(matchesEvent(aWebhook({ event_types: ['ticket.updated'] }), anEvent())).toBe(false);
  });

  it.each([
    ['project.completed', 'project.closed'],
    ['project.closed', 'project.completed'],
    ['project.closed', 'project.closed'],
    ['project.completed', 'project.completed'],
  ] as const)(
    'treats project.completed as an alias: subscribed to %s, receives %s',
    (subscribed, type) => {
      // Prepare
      const webhook = aWebhook({ event_types: [subscribed] });

      // Act
      const matched = matchesEvent(webhook, anEvent({ event_type: type, entity_type: 'project' }));

      // Assess
      expect(matched).toBe(true);
    },
  );
});

describe('matchesEvent: entity and tag filters', () => {
  it.each([
    [{ entity_types: ['ticket', 'project'] }, true],
    [{ entity_types: ['TICKET'] }, true],
    [{ entity_types: ['project'] }, false],
    [{ entity_ids: [TICKET_ID.toUpperCase()] }, true],
    [{ entity_ids: ['00000000-0000-4000-8000-000000000000'] }, false],
    [{ tags: ['eu', 'us'] }, true],
    [{ tags: ['us'] }, false],
    [{ tags: ['VIP'] }, false],
    [{ entity_types: [], entity_ids: [], tags: [] }, true],
    [{ entity_types: ['ticket'], tags: ['us'] }, false],
  ])('filter %j gives %s', (filter, expected) => {
    expect(matchesEvent(withFilter(filter), anEvent())).toBe(expected);
  });

  it('never matches entity_ids or tags when the event has none', () => {
    // Prepare
    const bare = anEvent({ entity_id: undefined, tags: undefined });

    // Act
    const byId = matchesEvent(withFilter({ entity_ids: [TICKET_ID] }), bare);
    const byTag = matchesEvent(withFilter({ tags: ['vip'] }), bare);

    // Assess
    expect([byId, byTag]).toEqual([false, false]);
  });
});

describe('matchesEvent: conditions', () => {
  it.each([
    ['status', 'equals', 'open', true],
    ['status', 'equals', 'Open', false],
    ['assignee', 'equals', { team: { id: 7 }, name: 'Ada' }, true],
    ['labels', 'equals', ['hardware', { kind: 'urgent' }], true],
    ['labels', 'equals', [{ kind: 'urgent' }, 'hardware'], false],
    ['note', 'equals', null, true],
    ['assignee.team.id', 'equals', 7, true],
    ['labels.1.kind', 'equals', 'urgent', true],
    ['priority', 'equals', '3', false],
    ['status', 'not_equals', 'closed', true],
    ['assignee', 'not_equals', { name: 'Ada', team: { id: 7 } }, false],
    ['title', 'contains', 'on fire', true],
    ['title', 'contains', 'water', false],
    ['labels', 'contains', 'hardware', true],
    ['labels', 'contains', { kind: 'urgent' }, true],
    ['labels', 'contains', 'hard', false],
    ['priority', 'contains', 3, false],
    ['title', 'not_contains', 'water', true],
    ['labels', 'not_contains', 'hardware', false],
    ['priority', 'greater_than', 2, true],
    ['priority', 'greater_than', 3, false],
    ['priority', 'less_than', 3.5, true],
    ['priority', 'greater_than', '2', false],
    ['due', 'greater_than', '2026-03-05T07:59:59Z', true],
    ['due', 'less_than', '2026-03-05T08:00:01Z', true],
    ['due', 'greater_than', '2026-03-05T08:00:00Z', false],
    ['due', 'less_than', '2026-03-06', true],
    ['title', 'greater_than', 'Printer', true],
    ['title', 'less_than', 'Q', true],
    ['assignee', 'greater_than', 1, false],
    ['status', 'in', ['open', 'pending'], true],
    ['status', 'in', ['closed'], false],
    ['assignee.team', 'in', [{ id: 7 }], true],
    ['status', 'not_in', ['closed'], true],
    ['status', 'not_in', ['open'], false],
  ] as const)('%s %s %j is %s', (field, operator, value, expected) => {
    expect(matchesEvent(condition(field, operator, value), anEvent())).toBe(expected);
  });

  it.each([
    ['equals', false],
    ['contains', false],
    ['greater_than', false],
    ['less_than', false],
    ['in', false],
    ['not_equals', true],
    ['not_contains', true],
    ['not_in', true],
  ] as const)('a missing path makes %s %s', (operator, expected) => {
    // Prepare
    const value = operator === 'in' || operator === 'not_in' ? ['x'] : 'x';

    // Act
    const matched = matchesEvent(condition('assignee.email', operator, value), anEvent());

    // Assess
    expect(matched).toBe(expected);
  });

  it('needs every condition to hold', () => {
    // Prepare
    const webhook = withFilter({
      conditions: [
        { field: 'status', operator: 'equals', value: 'open' },
        { field: 'priority', operator: 'greater_than', value: 5 },
      ],
    });

    // Act
    const matched = matchesEvent(webhook, anEvent());

    // Assess
    expect(matched).toBe(false);
  });
});

describe('valueAtPath', () => {
  it('never walks into prototypes', () => {
    // Prepare
    const data = { status: 'open', list: [1, 2] };

    // Act
    const lookups = ['constructor', 'status.length', 'list.length', 'toString', 'list.2'].map(
      (path) => valueAtPath(data, path).found,
    );

    // Assess
    expect(lookups).toEqual([false, false, false, false, false]);
  });

  it('finds own keys, null values and array elements', () => {
    expect(valueAtPath({ a: { b: [null, { c: 0 }] } }, 'a.b.1.c')).toEqual({
      found: true,
      value: 0,
    });
    expect(valueAtPath({ a: { b: [null] } }, 'a.b.0')).toEqual({ found: true, value: null });
  });
});

describe('deepEqual', () => {
  it('ignores key order and respects array order', () => {
    expect(deepEqual({ a: 1, b: [1, 2] }, { b: [1, 2], a: 1 })).toBe(true);
    expect(deepEqual([1, 2], [2, 1])).toBe(false);
    expect(deepEqual({ a: 1 }, { a: 1, b: undefined })).toBe(false);
    expect(deepEqual([], {})).toBe(false);
    expect(deepEqual(null, {})).toBe(false);
  });
});

describe('matchingWebhooks', () => {
  it('keeps only the webhooks that match, in order', () => {
    // Prepare
    const first = { id: 'a', ...aWebhook() };
    const inactive = { id: 'b', ...aWebhook({ is_active: false }) };
    const filtered = { id: 'c', ...withFilter({ entity_types: ['project'] }) };
    const last = { id: 'd', ...aWebhook({ event_types: ['ticket.updated', 'ticket.created'] }) };

    // Act
    const matched = matchingWebhooks([first, inactive, filtered, last], anEvent());

    // Assess
    expect(matched.map((webhook) => webhook.id)).toEqual(['a', 'd']);
  });
});
