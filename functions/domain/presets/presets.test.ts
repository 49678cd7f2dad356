import { describe, expect, it } from 'vitest';
import type { DeliveryEvent } from '../delivery/model.ts';
import { renderPayload } from '../delivery/payload.ts';
import { EVENT_TYPES } from '../events/catalog.ts';
import { templateProblem } from '../webhooks/template.ts';
import { PRESETS, type Preset, presetById, withPreset } from './presets.ts';

/**
 * Each preset rendered for events small, large and hostile, through the
 * delivery's own payload code, and held to its tool's documented limits and
 * shapes (the sources are cited beside each limit, here and in templates.ts).
 */

type Json = Record<string, unknown>;

const event = (data: Json, overrides: Partial<DeliveryEvent> = {}): DeliveryEvent => ({
  event_id: '0190b1f4-7a3c-7e2d-9f10-3c5d2e1a4b6f',
  event_type: 'ticket.created',
  tenant_id: 'acme',
  occurred_at: '2026-01-15T09:30:00.000Z',
  entity_type: 'ticket',
  data,
  ...overrides,
});

/** Text no receiver should see as markup or a mention, and text that tests every escape. */
const HOSTILE =
  '<!channel> <!here> @everyone @here <users/all> <@U123> & &amp; <b>x</b> ``` "q" \\ \n\t \u0000 \u2028 😀 é';

/** A string of `length` UTF-16 units made of 4-byte characters, the worst case for byte limits. */
const emoji = (length: number) => '😀'.repeat(Math.ceil(length / 2));

const EVENTS: [string, DeliveryEvent][] = [
  ['a small ticket', event({ ticket_id: 'T-1', title: 'Printer offline', priority: 'high' })],
  ['empty data', event({})],
  ['hostile text', event({ title: HOSTILE, [HOSTILE]: HOSTILE, nested: { list: [HOSTILE] } })],
  ['100 KiB of ASCII', event({ text: 'a'.repeat(100 * 1024) })],
  ['100 KiB of emoji', event({ text: emoji(50 * 1024) })],
  ['100 KiB of ampersands', event({ text: '&'.repeat(100 * 1024) })],
  ['100 KiB of quotes and backslashes', event({ text: '"\\'.repeat(50 * 1024) })],
  ['deep nesting', event({ a: { b: { c: { d: { e: [1, [2, [3, { g: HOSTILE }]]] } } } } })],
  ['long ids', event({ x: 1 }, { event_id: 'e'.repeat(128), tenant_id: 't'.repeat(128) })],
  ...EVENT_TYPES.map((type): [string, DeliveryEvent] => [
    type,
    event({ id: 1 }, { event_type: type }),
  ]),
];

const render = (preset: Preset, input: DeliveryEvent) => {
  const { body, contentType } = renderPayload(
    {
      method: 'POST',
      payload_format: preset.payload_format,
      content_type: null,
      payload_fields: null,
      payload_transformation: { ...preset.payload_transformation, flatten_nested: false },
    },
    input,
  );
  expect(contentType).toBe('application/json');
  const text = body ?? '';
  return { text, bytes: Buffer.byteLength(text, 'utf8'), json: JSON.parse(text) as Json };
};

const isWellFormed = (text: string) => !/\p{Cs}/u.test(text);

/** Every string in a body: none may carry a lone surrogate (no UTF-8 can carry it). */
const strings = (value: unknown): string[] =>
  typeof value === 'string'
    ? [value]
    : Array.isArray(value)
      ? value.flatMap(strings)
      : typeof value === 'object' && value !== null
        ? Object.values(value).flatMap(strings)
        : [];

const array = (value: unknown): unknown[] => {
  expect(Array.isArray(value)).toBe(true);
  return value as unknown[];
};

const record = (value: unknown): Json => {
  expect(typeof value === 'object' && value !== null && !Array.isArray(value)).toBe(true);
  return value as Json;
};

const text = (value: unknown, max: number, { nonEmpty = true } = {}) => {
  expect(typeof value).toBe('string');
  const string = value as string;
  expect(string.length).toBeLessThanOrEqual(max);
  if (nonEmpty) expect(string.length).toBeGreaterThan(0);
  return string;
};

/** The event's markup-significant text reaches the tool as entities, never as markup. */
const expectNoRawMarkup = (value: string) => {
  expect(value).not.toMatch(/[<>]/);
  expect(value.replace(/&(amp|lt|gt);/g, '')).not.toContain('&');
};

/**
 * Slack incoming webhooks take `text` and Block Kit `blocks`
 * (https://docs.slack.dev/messaging/sending-messages-using-incoming-webhooks).
 * Limits from https://docs.slack.dev/reference/block-kit/blocks: at most 50
 * blocks a message; header text plain_text, at most 150 characters; section
 * text at most 3000, fields at most 10 of at most 2000; context at most 10
 * elements. `text` past 40,000 characters is truncated by Slack
 * (https://docs.slack.dev/reference/methods/chat.postMessage#truncating).
 * &, < and > are escaped (https://docs.slack.dev/messaging/formatting-message-text#escaping).
 */
const checkSlack = (body: Json) => {
  text(body.text, 40_000);
  const blocks = array(body.blocks);
  expect(blocks.length).toBeGreaterThan(0);
  expect(blocks.length).toBeLessThanOrEqual(50);
  for (const block of blocks.map(record)) {
    expect(['header', 'section', 'context', 'divider']).toContain(block.type);
    if (block.type === 'header') {
      const heading = record(block.text);
      expect(heading.type).toBe('plain_text');
      text(heading.text, 150);
    }
    if (block.type === 'section') {
      if (block.text !== undefined) {
        const body = record(block.text);
        expect(body.type).toBe('mrkdwn');
        expectNoRawMarkup(text(body.text, 3000));
      }
      const fields = block.fields === undefined ? [] : array(block.fields).map(record);
      expect(fields.length).toBeLessThanOrEqual(10);
      for (const field of fields) expectNoRawMarkup(text(field.text, 2000));
      expect(block.text !== undefined || fields.length > 0).toBe(true);
    }
    if (block.type === 'context') {
      const elements = array(block.elements).map(record);
      expect(elements.length).toBeLessThanOrEqual(10);
      for (const element of elements) expectNoRawMarkup(text(element.text, 3000));
    }
  }
};

/**
 * Discord's execute webhook (https://discord.com/developers/docs/resources/webhook#execute-webhook):
 * `content` at most 2000 characters, at most 10 embeds. Embed limits
 * (https://discord.com/developers/docs/resources/message#embed-object-embed-limits):
 * title 256, description 4096, at most 25 fields, field name 256, value
 * 1024, footer text 2048, author name 256, and 6000 over all of these in
 * all embeds. `allowed_mentions.parse: []` pings nobody
 * (https://discord.com/developers/docs/resources/message#allowed-mentions-object).
 */
const checkDiscord = (body: Json) => {
  text(body.content, 2000);
  expect(body.allowed_mentions).toEqual({ parse: [] });
  const embeds = array(body.embeds).map(record);
  expect(embeds.length).toBeGreaterThan(0);
  expect(embeds.length).toBeLessThanOrEqual(10);
  let total = 0;
  for (const embed of embeds) {
    total += text(embed.title, 256).length;
    total += text(embed.description, 4096).length;
    const fields = array(embed.fields).map(record);
    expect(fields.length).toBeLessThanOrEqual(25);
    for (const field of fields) {
      total += text(field.name, 256).length + text(field.value, 1024).length;
    }
    total += text(record(embed.footer).text, 2048).length;
    if (embed.timestamp !== undefined) {
      expect(Number.isNaN(Date.parse(String(embed.timestamp)))).toBe(false);
    }
  }
  expect(total).toBeLessThanOrEqual(6000);
};

/**
 * A Teams Workflows webhook takes a message whose attachments are Adaptive
 * Cards (https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/add-incoming-webhook),
 * at most 28 KB in all (same page). The card is schema version 1.4
 * (https://adaptivecards.io/explorer/AdaptiveCard.html): TextBlock,
 * FactSet (title and value strings) and RichTextBlock of TextRuns.
 */
const checkTeams = (body: Json, bytes: number) => {
  expect(bytes).toBeLessThanOrEqual(28 * 1024);
  expect(body.type).toBe('message');
  const [attachment, ...others] = array(body.attachments).map(record);
  expect(others).toHaveLength(0);
  expect(attachment?.contentType).toBe('application/vnd.microsoft.card.adaptive');
  const card = record(attachment?.content);
  expect(card).toMatchObject({
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    type: 'AdaptiveCard',
    version: '1.4',
  });
  for (const element of array(card.body).map(record)) {
    expect(['TextBlock', 'FactSet', 'RichTextBlock']).toContain(element.type);
    if (element.type === 'TextBlock') text(element.text, 28 * 1024);
    if (element.type === 'FactSet') {
      for (const fact of array(element.facts).map(record)) {
        text(fact.title, 256);
        text(fact.value, 256);
      }
    }
    if (element.type === 'RichTextBlock') {
      for (const inline of array(element.inlines).map(record)) {
        expect(inline.type).toBe('TextRun');
        text(inline.text, 28 * 1024);
      }
    }
  }
};

/**
 * Google Chat: a message of at most 32,000 bytes with its cards
 * (https://developers.google.com/workspace/chat/create-messages); cards go
 * in `cardsV2` as `{cardId, card}`, a card has a `header` and `sections` of
 * `widgets` (https://developers.google.com/workspace/chat/api/reference/rest/v1/cards).
 * Card text takes HTML-like tags, so the event's are escaped; `text` never
 * carries event data (`<users/all>` there mentions everyone,
 * https://developers.google.com/workspace/chat/format-messages).
 */
const checkGoogleChat = (body: Json, bytes: number) => {
  expect(bytes).toBeLessThanOrEqual(32_000);
  expect(text(body.text, 4096)).toMatch(/^Hookline: [a-z._]+$/);
  const [entry, ...others] = array(body.cardsV2).map(record);
  expect(others).toHaveLength(0);
  text(entry?.cardId, 64);
  const card = record(entry?.card);
  text(record(card.header).title, 200);
  for (const section of array(card.sections).map(record)) {
    for (const widget of array(section.widgets).map(record)) {
      const [kind, ...more] = Object.keys(widget);
      expect(more).toHaveLength(0);
      expect(['decoratedText', 'textParagraph']).toContain(kind);
      expectNoRawMarkup(text(record(widget[kind ?? '']).text, 32_000));
    }
  }
};

const CHECKS: Record<Preset['id'], (body: Json, bytes: number) => void> = {
  slack: checkSlack,
  discord: checkDiscord,
  teams: checkTeams,
  google_chat: checkGoogleChat,
};

describe.each(PRESETS.map((preset) => [preset.id, preset] as const))(
  'the %s preset',
  (_, preset) => {
    it('compiles in the template sandbox, as a saved webhook’s template must', () => {
      expect(templateProblem(preset.payload_transformation.template)).toBeUndefined();
    });

    it.each(EVENTS)('renders %s within the tool’s documented limits and shape', (_name, input) => {
      const { text: body, bytes, json } = render(preset, input);

      CHECKS[preset.id](json, bytes);
      expect(isWellFormed(body)).toBe(true);
      for (const value of strings(json)) expect(isWellFormed(value)).toBe(true);
    });

    it('shows the event’s type, id and data', () => {
      const { text: body } = render(preset, event({ ticket_id: 'T-77', title: 'Printer offline' }));

      expect(body).toContain('ticket.created');
      expect(body).toContain('0190b1f4-7a3c-7e2d-9f10-3c5d2e1a4b6f');
      expect(body).toContain('T-77');
    });
  },
);

describe('withPreset', () => {
  it('fills the preset’s format and transformation in under a body’s own fields', () => {
    const body = withPreset({ name: 'Chat', template: 'slack', description: 'x' });

    expect(body).toEqual({
      name: 'Chat',
      template: 'slack',
      description: 'x',
      payload_format: 'json',
      content_type: null,
      payload_transformation: presetById('slack').payload_transformation,
    });
  });

  it('lays a given transformation over the preset’s key by key, and null means none', () => {
    const merged = withPreset({
      template: 'discord',
      payload_transformation: { exclude_fields: ['data.secret'] },
      content_type: 'application/json; charset=utf-8',
    });
    const cleared = withPreset({ template: 'discord', payload_transformation: null });

    expect(merged.payload_transformation).toEqual({
      template: presetById('discord').payload_transformation.template,
      exclude_fields: ['data.secret'],
    });
    expect(merged.content_type).toBe('application/json; charset=utf-8');
    expect(cleared.payload_transformation).toBeNull();
  });

  it('leaves a body without a known template as it is, for validation to judge', () => {
    const body = { template: 'irc', payload_format: 'xml' };

    expect(withPreset(body)).toBe(body);
    expect(withPreset({ name: 'x' })).toEqual({ name: 'x' });
  });
});
