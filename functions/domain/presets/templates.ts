/**
 * The chat tools' payload templates (Handlebars, run in the sandbox of
 * functions/domain/webhooks/template.ts against the payload object
 * `{event_id, event_type, occurred_at, tenant_id, data}`).
 *
 * Each keeps inside its tool's documented limits whatever the event holds:
 * every value from the event is cut to size (`truncate`), quoted as JSON
 * (`json`), and, where the tool parses markup, escaped (`escape_markup`), so
 * event data can neither break the body nor mention a whole channel. The
 * limits are cited where they are used and checked in presets.test.ts.
 */

const lines = (...parts: string[]) => `${parts.join('\n')}\n`;

/**
 * Slack incoming webhook: `text` (the notification's fallback) plus Block
 * Kit `blocks` (https://docs.slack.dev/messaging/sending-messages-using-incoming-webhooks).
 * Limits (https://docs.slack.dev/reference/block-kit/blocks): a header's
 * plain_text at most 150 characters; a section's text at most 3000, its
 * fields at most 10 of at most 2000 each; a context at most 10 elements; a
 * message at most 50 blocks. `&`, `<`, `>` are control characters in mrkdwn
 * and must be sent as entities (https://docs.slack.dev/messaging/formatting-message-text#escaping):
 * unescaped, an event could post `<!channel>`.
 */
export const SLACK_TEMPLATE = lines(
  '{',
  '  "text": {{json (truncate (concat "Hookline: " (escape_markup (default event_type "event"))) 3000)}},',
  '  "blocks": [',
  '    {',
  '      "type": "header",',
  '      "text": {"type": "plain_text", "text": {{json (truncate (default event_type "Hookline event") 150)}}, "emoji": false}',
  '    },',
  '    {',
  '      "type": "section",',
  '      "fields": [',
  '        {"type": "mrkdwn", "text": "*Event id*"},',
  '        {"type": "mrkdwn", "text": {{json (truncate (escape_markup (default event_id "-")) 2000)}} },',
  '        {"type": "mrkdwn", "text": "*Occurred at*"},',
  '        {"type": "mrkdwn", "text": {{json (truncate (escape_markup (default occurred_at "-")) 2000)}} }',
  '      ]',
  '    },',
  '    {',
  '      "type": "section",',
  '      "text": {"type": "mrkdwn", "text": {{json (concat "```" (truncate (escape_markup (stringify data 2)) 2994) "```")}} }',
  '    },',
  '    {',
  '      "type": "context",',
  '      "elements": [{"type": "mrkdwn", "text": {{json (truncate (concat "Tenant " (escape_markup (default tenant_id "-"))) 2000)}} }]',
  '    }',
  '  ]',
  '}',
);

/**
 * Discord execute-webhook body (https://discord.com/developers/docs/resources/webhook#execute-webhook):
 * `content` at most 2000 characters, at most 10 `embeds`. Embed limits
 * (https://discord.com/developers/docs/resources/message#embed-object-embed-limits):
 * title 256, description 4096, at most 25 fields, field name 256 and value
 * 1024, footer text 2048, and 6000 characters over all of them together
 * (here at most 256 + 3006 + 14 + 2048 + 8 = 5332). `allowed_mentions`
 * with an empty `parse` list keeps `@everyone` or a role in the event's data
 * from pinging anyone (https://discord.com/developers/docs/resources/message#allowed-mentions-object).
 */
export const DISCORD_TEMPLATE = lines(
  '{',
  '  "content": {{json (truncate (concat "**" (default event_type "Hookline event") "**") 2000)}},',
  '  "allowed_mentions": {"parse": []},',
  '  "embeds": [',
  '    {',
  '      "title": {{json (truncate (default event_type "Hookline event") 256)}},',
  '      "description": {{json (concat "```" (truncate (stringify data 2) 3000) "```")}},',
  '      "fields": [',
  '        {"name": "Event id", "value": {{json (truncate (default event_id "-") 1024)}}, "inline": true},',
  '        {"name": "Tenant", "value": {{json (truncate (default tenant_id "-") 1024)}}, "inline": true}',
  '      ],',
  '      {{#if occurred_at}}"timestamp": {{json occurred_at}},{{/if}}',
  '      "footer": {"text": "Hookline"}',
  '    }',
  '  ]',
  '}',
);

/**
 * Microsoft Teams Workflows webhook ("When a Teams webhook request is
 * received", the successor of Office 365 connectors): a message whose one
 * attachment is an Adaptive Card
 * (https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/add-incoming-webhook).
 * Version 1.4, which every Teams client renders
 * (https://learn.microsoft.com/en-us/microsoftteams/platform/task-modules-and-cards/cards/cards-reference#adaptive-card).
 * A message is at most 28 KB: the data is cut at 6000 UTF-16 units, at most
 * 18 KB once JSON-quoted. It goes in a TextRun, which Teams shows as typed
 * rather than as markdown.
 */
export const TEAMS_TEMPLATE = lines(
  '{',
  '  "type": "message",',
  '  "attachments": [',
  '    {',
  '      "contentType": "application/vnd.microsoft.card.adaptive",',
  '      "contentUrl": null,',
  '      "content": {',
  '        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",',
  '        "type": "AdaptiveCard",',
  '        "version": "1.4",',
  '        "body": [',
  '          {"type": "TextBlock", "text": {{json (truncate (default event_type "Hookline event") 200)}}, "size": "Medium", "weight": "Bolder", "wrap": true},',
  '          {',
  '            "type": "FactSet",',
  '            "facts": [',
  '              {"title": "Event id", "value": {{json (truncate (default event_id "-") 256)}} },',
  '              {"title": "Occurred at", "value": {{json (truncate (default occurred_at "-") 256)}} },',
  '              {"title": "Tenant", "value": {{json (truncate (default tenant_id "-") 256)}} }',
  '            ]',
  '          },',
  '          {',
  '            "type": "RichTextBlock",',
  '            "inlines": [{"type": "TextRun", "text": {{json (truncate (stringify data 2) 6000)}}, "fontType": "Monospace"}]',
  '          }',
  '        ]',
  '      }',
  '    }',
  '  ]',
  '}',
);

/**
 * Google Chat incoming webhook: a message with `text` and a card
 * (`cardsV2`, https://developers.google.com/workspace/chat/api/reference/rest/v1/cards).
 * A message is at most 32,000 bytes with its cards
 * (https://developers.google.com/workspace/chat/create-messages): the data
 * is cut at 8000 UTF-16 units, at most 24 KB once JSON-quoted. Card text
 * takes HTML-like tags, so `&`, `<`, `>` from the event are escaped; the
 * message `text` holds only the event type, never event data, because
 * `<users/all>` in it would mention everyone.
 */
export const GOOGLE_CHAT_TEMPLATE = lines(
  '{',
  '  "text": {{json (truncate (concat "Hookline: " (default event_type "event")) 200)}},',
  '  "cardsV2": [',
  '    {',
  '      "cardId": "hookline-event",',
  '      "card": {',
  '        "header": {',
  '          "title": {{json (truncate (default event_type "Hookline event") 200)}}{{#if occurred_at}},',
  '          "subtitle": {{json (truncate occurred_at 200)}}{{/if}}',
  '        },',
  '        "sections": [',
  '          {',
  '            "widgets": [',
  '              {"decoratedText": {"topLabel": "Event id", "text": {{json (truncate (escape_markup (default event_id "-")) 500)}} }},',
  '              {"decoratedText": {"topLabel": "Tenant", "text": {{json (truncate (escape_markup (default tenant_id "-")) 500)}} }},',
  '              {"textParagraph": {"text": {{json (truncate (escape_markup (stringify data)) 8000)}} }}',
  '            ]',
  '          }',
  '        ]',
  '      }',
  '    }',
  '  ]',
  '}',
);
