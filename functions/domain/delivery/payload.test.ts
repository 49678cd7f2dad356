import { XMLParser, XMLValidator } from 'fast-xml-parser';
import qs from 'qs';
import { describe, expect, it } from 'vitest';
import { MAX_TEMPLATE_OUTPUT_BYTES } from '../webhooks/template.ts';
import type { DeliveryEvent } from './model.ts';
import { PayloadError, type PayloadWebhook, payloadObject, renderPayload } from './payload.ts';

type Transformation = NonNullable<PayloadWebhook['payload_transformation']>;

const TICKET_ID = '6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f';

const ticketEvent = (overrides: Partial<DeliveryEvent> = {}): DeliveryEvent => ({
  event_id: 'b7e3a1c2-9d4f-4e6a-8b1c-2d3e4f5a6b7c',
  event_type: 'ticket.updated',
  tenant_id: 'tenant-acme',
  occurred_at: '2024-05-01T12:00:00.000Z',
  entity_type: 'ticket',
  entity_id: TICKET_ID,
  data: {
    ticket_id: TICKET_ID,
    title: 'Printer on the 3rd floor jams',
    status: { id: 'open', name: 'Open' },
    priority: 'high',
    assignee: { name: 'Dana Scully', email: 'dana@example.com' },
    tags: ['hardware', 'printer'],
    hours: 1.5,
  },
  ...overrides,
});

const webhook = (overrides: Partial<PayloadWebhook> = {}): PayloadWebhook => ({
  payload_format: 'json',
  content_type: null,
  payload_fields: null,
  payload_transformation: null,
  method: 'POST',
  ...overrides,
});

const transformation = (overrides: Partial<Transformation>): Transformation => ({
  flatten_nested: false,
  ...overrides,
});

const withTemplate = (template: string, overrides: Partial<PayloadWebhook> = {}) =>
  webhook({ payload_transformation: transformation({ template }), ...overrides });

const bodyOf = (hook: PayloadWebhook, event = ticketEvent()): string => {
  const { body } = renderPayload(hook, event);
  if (body === undefined) throw new Error('expected a body');
  return body;
};

describe('base object', () => {
  it('sends the event identity and its data as JSON', () => {
    // Prepare
    const event = ticketEvent();

    // Act
    const rendered = renderPayload(webhook(), event);

    // Assess
    expect(rendered.contentType).toBe('application/json');
    expect(JSON.parse(rendered.body ?? '')).toEqual({
      event_id: event.event_id,
      event_type: 'ticket.updated',
      occurred_at: '2024-05-01T12:00:00.000Z',
      tenant_id: 'tenant-acme',
      data: event.data,
    });
  });

  it('never changes the event, whatever the steps do', () => {
    // Prepare
    const event = ticketEvent();
    const before = structuredClone(event);
    const hook = webhook({
      payload_fields: { ticket: ['assignee.name'] },
      payload_transformation: transformation({
        exclude_fields: ['data.assignee.name', 'data.ticket_id'],
        custom_fields: { source: 'psa' },
        flatten_nested: true,
      }),
    });

    // Act
    renderPayload(hook, event);

    // Assess
    expect(event).toEqual(before);
  });

  it('drops keys that reach into prototypes and pollutes nothing', () => {
    // Prepare
    const data = JSON.parse(
      '{"title":"x","__proto__":{"polluted":true},"nested":{"constructor":1}}',
    );
    const hook = webhook({
      payload_transformation: transformation({
        custom_fields: JSON.parse('{"__proto__":{"polluted":true},"team":"ops"}'),
      }),
    });

    // Act
    const payload = payloadObject(hook, ticketEvent({ data }));

    // Assess
    expect(payload.data).toEqual({ title: 'x', nested: {} });
    expect(payload.team).toBe('ops');
    expect(Object.getPrototypeOf(payload)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('payload_fields', () => {
  it("keeps only the entity's listed paths, nested, plus its id", () => {
    // Prepare
    const hook = webhook({ payload_fields: { ticket: ['title', 'assignee.name'] } });

    // Act
    const payload = payloadObject(hook, ticketEvent());

    // Assess
    expect(payload.data).toEqual({
      ticket_id: TICKET_ID,
      title: 'Printer on the 3rd floor jams',
      assignee: { name: 'Dana Scully' },
    });
  });

  it('keeps `id` too, and only the id for an empty list', () => {
    // Prepare
    const hook = webhook({ payload_fields: { ticket: [] } });
    const event = ticketEvent({ data: { id: 42, title: 'x' } });

    // Act
    const payload = payloadObject(hook, event);

    // Assess
    expect(payload.data).toEqual({ id: 42 });
  });

  it('keeps all data for null, for another entity, or for no map', () => {
    // Prepare
    const event = ticketEvent();
    const hooks = [
      webhook({ payload_fields: { ticket: null } }),
      webhook({ payload_fields: { project: ['name'] } }),
      webhook({ payload_fields: null }),
    ];

    // Act
    const datas = hooks.map((hook) => payloadObject(hook, event).data);

    // Assess
    for (const data of datas) expect(data).toEqual(event.data);
  });

  it('keeps a parent whole when listed with its child, and skips missing or array paths', () => {
    // Prepare
    const hook = webhook({
      payload_fields: { ticket: ['status.name', 'status', 'missing.field', 'tags.0'] },
    });

    // Act
    const payload = payloadObject(hook, ticketEvent());

    // Assess
    expect(payload.data).toEqual({ ticket_id: TICKET_ID, status: { id: 'open', name: 'Open' } });
  });
});

describe('payload_transformation', () => {
  it('include_fields keeps only the listed paths of the whole payload', () => {
    // Prepare
    const hook = webhook({
      payload_transformation: transformation({
        include_fields: ['event_type', 'data.title', 'data.assignee.email'],
      }),
    });

    // Act
    const payload = payloadObject(hook, ticketEvent());

    // Assess
    expect(payload).toEqual({
      event_type: 'ticket.updated',
      data: { title: 'Printer on the 3rd floor jams', assignee: { email: 'dana@example.com' } },
    });
  });

  it('reads an empty include_fields as not set', () => {
    // Prepare
    const hook = webhook({ payload_transformation: transformation({ include_fields: [] }) });

    // Act
    const payload = payloadObject(hook, ticketEvent());

    // Assess
    expect(Object.keys(payload)).toEqual([
      'event_id',
      'event_type',
      'occurred_at',
      'tenant_id',
      'data',
    ]);
  });

  it('exclude_fields removes nested and top-level paths, after include', () => {
    // Prepare
    const hook = webhook({
      payload_transformation: transformation({
        include_fields: ['event_id', 'tenant_id', 'data'],
        exclude_fields: ['tenant_id', 'data.assignee.email', 'data.tags', 'data.nope.deeper'],
      }),
    });
    const event = ticketEvent();

    // Act
    const payload = payloadObject(hook, event);

    // Assess
    expect(payload).toEqual({
      event_id: event.event_id,
      data: {
        ticket_id: TICKET_ID,
        title: 'Printer on the 3rd floor jams',
        status: { id: 'open', name: 'Open' },
        priority: 'high',
        assignee: { name: 'Dana Scully' },
        hours: 1.5,
      },
    });
  });

  it('custom_fields are added, survive include, and never replace the base keys', () => {
    // Prepare
    const hook = webhook({
      payload_transformation: transformation({
        include_fields: ['event_type'],
        custom_fields: {
          source: 'alga',
          routing: { queue: 'helpdesk' },
          event_type: 'spoofed',
          event_id: 'spoofed',
          tenant_id: 'spoofed',
          occurred_at: 'spoofed',
          data: 'spoofed',
        },
      }),
    });

    // Act
    const payload = payloadObject(hook, ticketEvent());

    // Assess
    expect(payload).toEqual({
      event_type: 'ticket.updated',
      source: 'alga',
      routing: { queue: 'helpdesk' },
    });
  });

  it('flatten_nested joins keys with dots and indexes arrays', () => {
    // Prepare
    const hook = webhook({ payload_transformation: transformation({ flatten_nested: true }) });
    const event = ticketEvent({ data: { a: { b: 1 }, tags: ['x', 'y'], empty: {}, none: [] } });

    // Act
    const payload = payloadObject(hook, event);

    // Assess
    expect(payload).toEqual({
      event_id: event.event_id,
      event_type: 'ticket.updated',
      occurred_at: '2024-05-01T12:00:00.000Z',
      tenant_id: 'tenant-acme',
      'data.a.b': 1,
      'data.tags.0': 'x',
      'data.tags.1': 'y',
      'data.empty': {},
      'data.none': [],
    });
  });

  it('applies payload_fields, include, exclude, custom and flatten in that order', () => {
    // Prepare
    const hook = webhook({
      payload_fields: { ticket: ['title', 'status', 'assignee'] },
      payload_transformation: transformation({
        include_fields: ['event_type', 'data'],
        exclude_fields: ['data.status.id', 'data.assignee.email'],
        custom_fields: { meta: { source: 'alga' } },
        flatten_nested: true,
      }),
    });

    // Act
    const payload = payloadObject(hook, ticketEvent());

    // Assess
    expect(payload).toEqual({
      event_type: 'ticket.updated',
      'data.ticket_id': TICKET_ID,
      'data.title': 'Printer on the 3rd floor jams',
      'data.status.name': 'Open',
      'data.assignee.name': 'Dana Scully',
      'meta.source': 'alga',
    });
  });
});

describe('template', () => {
  it('renders the transformed payload and sends the output as it is', () => {
    // Prepare
    const hook = withTemplate(
      '{"text": {{json data.title}}, "who": {{json data.assignee}}, "kind": "{{event_type}}"}',
    );

    // Act
    const body = bodyOf(hook);

    // Assess
    expect(body).toBe(
      '{"text": "Printer on the 3rd floor jams", "who": {"name":"Dana Scully","email":"dana@example.com"}, "kind": "ticket.updated"}',
    );
  });

  it('sees the payload after transformation', () => {
    // Prepare
    const hook = webhook({
      payload_transformation: transformation({
        template: '{{json this}}',
        include_fields: ['data.title'],
        custom_fields: { channel: '#ops' },
      }),
    });

    // Act
    const body = bodyOf(hook);

    // Assess
    expect(JSON.parse(body)).toEqual({
      data: { title: 'Printer on the 3rd floor jams' },
      channel: '#ops',
    });
  });

  it('refuses output that is not JSON for payload_format json', () => {
    // Prepare
    const hook = withTemplate('Ticket {{data.title}} changed');

    // Act
    const render = () => renderPayload(hook, ticketEvent());

    // Assess
    expect(render).toThrow(PayloadError);
  });

  it('sends any text for payload_format custom with the configured content type', () => {
    // Prepare
    const hook = withTemplate('Ticket {{data.title}} is {{lower data.priority}}', {
      payload_format: 'custom',
      content_type: 'text/plain; charset=utf-8',
    });

    // Act
    const rendered = renderPayload(hook, ticketEvent());

    // Assess
    expect(rendered).toEqual({
      body: 'Ticket Printer on the 3rd floor jams is high',
      contentType: 'text/plain; charset=utf-8',
    });
  });

  it('HTML-escapes double-stash values and offers eq, default and upper', () => {
    // Prepare
    const hook = withTemplate(
      '{{data.title}}|{{{data.title}}}|{{#if (eq data.priority "high")}}{{upper data.priority}}{{/if}}|{{default data.missing "n/a"}}',
      { payload_format: 'custom' },
    );
    const event = ticketEvent({ data: { title: 'A <b> & "c"', priority: 'high' } });

    // Act
    const body = bodyOf(hook, event);

    // Assess
    expect(body).toBe('A &lt;b&gt; &amp; &quot;c&quot;|A <b> & "c"|HIGH|n/a');
  });

  it('checks that xml output is well-formed', () => {
    // Prepare
    const good = withTemplate('<ticket>{{data.title}}</ticket>', { payload_format: 'xml' });
    const bad = withTemplate('<ticket>{{data.title}}', { payload_format: 'xml' });

    // Act
    const body = bodyOf(good);
    const render = () => renderPayload(bad, ticketEvent());

    // Assess
    expect(body).toBe('<ticket>Printer on the 3rd floor jams</ticket>');
    expect(render).toThrow(PayloadError);
  });

  it.each([
    '{{constructor}}',
    '{{__proto__}}',
    '{{lookup this "constructor"}}',
    '{{constructor.name}}',
    '{{#with constructor}}{{name}}{{/with}}',
    '{{data.title.constructor.constructor}}',
    '{{lookup (lookup data "constructor") "constructor"}}',
    '{{toString}}{{hasOwnProperty}}{{valueOf}}',
  ])('resolves nothing from prototypes in %s', (template) => {
    // Prepare
    const hook = withTemplate(`[${template}]`, { payload_format: 'custom' });

    // Act
    const body = bodyOf(hook);

    // Assess
    expect(body).toBe('[]');
  });

  it.each([
    ['an unknown helper', '{{exec data}}'],
    ['log', '{{log data}}'],
    ['a partial', '{{> secret}}'],
    ['an inline partial', '{{#*inline "loop"}}{{> loop}}{{/inline}}{{> loop}}'],
  ])('refuses %s as a config error', (_what, template) => {
    // Prepare
    const hook = withTemplate(template, { payload_format: 'custom' });

    // Act
    const render = () => renderPayload(hook, ticketEvent());

    // Assess
    expect(render).toThrow(PayloadError);
  });

  it('refuses output over the bound', () => {
    // Prepare
    const blob = 'x'.repeat(MAX_TEMPLATE_OUTPUT_BYTES / 2 + 1);
    const hook = withTemplate('{{data.blob}}{{data.blob}}', { payload_format: 'custom' });
    const event = ticketEvent({ data: { blob } });

    // Act
    const render = () => renderPayload(hook, event);

    // Assess
    expect(render).toThrow(/more than 262144 bytes/);
  });

  it('stops a loop that outgrows the bound before it finishes', () => {
    // Prepare
    const items = Array.from({ length: 5000 }, (_, index) => index);
    const hook = withTemplate('{{#each data.items}}{{json @root.data}}{{/each}}', {
      payload_format: 'custom',
    });

    // Act
    const render = () => renderPayload(hook, ticketEvent({ data: { items } }));

    // Assess
    expect(render).toThrow(PayloadError);
  });

  it('stops nested loops that iterate too often', () => {
    // Prepare
    const items = Array.from({ length: 200 }, (_, index) => index);
    const hook = withTemplate('{{#each data.items}}{{#each ../data.items}}{{/each}}{{/each}}', {
      payload_format: 'custom',
    });

    // Act
    const render = () => renderPayload(hook, ticketEvent({ data: { items } }));

    // Assess
    expect(render).toThrow(/loops more than/);
  });

  it('renders each distinct template correctly past the cache size', () => {
    // Prepare
    const templates = Array.from({ length: 150 }, (_, index) => `${index}:{{data.priority}}`);

    // Act
    const bodies = [...templates, templates[0] ?? ''].map((template) =>
      bodyOf(withTemplate(template, { payload_format: 'custom' })),
    );

    // Assess
    expect(bodies.at(0)).toBe('0:high');
    expect(bodies.at(149)).toBe('149:high');
    expect(bodies.at(150)).toBe('0:high');
  });
});

describe('payload formats', () => {
  it('xml: a <webhook> document that parses back to the object', () => {
    // Prepare
    const hook = webhook({ payload_format: 'xml' });
    const event = ticketEvent();

    // Act
    const rendered = renderPayload(hook, event);

    // Assess
    expect(rendered.contentType).toBe('application/xml');
    expect(rendered.body?.startsWith('<?xml version="1.0" encoding="UTF-8"?><webhook>')).toBe(true);
    const parsed = new XMLParser().parse(rendered.body ?? '');
    expect(parsed.webhook).toEqual(payloadObject(hook, event));
  });

  it('xml: renames keys that are not XML names, keeps them in `key`, and drops unusable characters', () => {
    // Prepare
    const hook = webhook({ payload_format: 'xml' });
    const event = ticketEvent({
      data: {
        '2fa': true,
        'due date': '2024-05-02',
        '@_attr': 'a',
        '#text': 'b',
        'a:b': null,
        note: 'bell\u0007 <&>',
        grid: [[1, 2], [3]],
      },
    });

    // Act
    const body = bodyOf(hook, event);

    // Assess
    expect(XMLValidator.validate(body)).toBe(true);
    expect(body).toContain('<_2fa key="2fa">true</_2fa>');
    expect(body).toContain('<due_date key="due date">2024-05-02</due_date>');
    expect(body).toContain('<__attr key="@_attr">a</__attr>');
    expect(body).toContain('<_text key="#text">b</_text>');
    expect(body).toContain('<note>bell\uFFFD &lt;&amp;&gt;</note>');
    expect(body).toContain('<grid><item>1</item><item>2</item></grid><grid><item>3</item></grid>');
  });

  it('form_data: bracket notation that qs parses back', () => {
    // Prepare
    const hook = webhook({ payload_format: 'form_data' });
    const event = ticketEvent({
      data: { title: 'Printer & scanner', assignee: { name: 'Dana' }, tags: ['a', 'b'] },
    });

    // Act
    const rendered = renderPayload(hook, event);

    // Assess
    expect(rendered.contentType).toBe('application/x-www-form-urlencoded');
    expect(rendered.body).toContain('data%5Bassignee%5D%5Bname%5D=Dana');
    expect(qs.parse(rendered.body ?? '')).toEqual(payloadObject(hook, event));
  });

  it('custom without a template sends JSON', () => {
    // Prepare
    const hook = webhook({ payload_format: 'custom' });
    const event = ticketEvent();

    // Act
    const body = bodyOf(hook, event);

    // Assess
    expect(JSON.parse(body)).toEqual(payloadObject(hook, event));
  });

  it('uses the configured content type over the default', () => {
    // Prepare
    const hook = webhook({ content_type: 'application/vnd.acme+json' });

    // Act
    const rendered = renderPayload(hook, ticketEvent());

    // Assess
    expect(rendered.contentType).toBe('application/vnd.acme+json');
  });
});

describe('methods without a body', () => {
  it.each(['GET', 'DELETE'] as const)('%s sends no body and renders nothing', (method) => {
    // Prepare: a template that would fail shows it is never rendered.
    const hook = withTemplate('{{> missing}}', { method, payload_format: 'xml' });

    // Act
    const rendered = renderPayload(hook, ticketEvent());

    // Assess
    expect(rendered).toEqual({ body: undefined, contentType: 'application/xml' });
  });
});
