import * as v from 'valibot';
import { renderPayload } from '../domain/delivery/payload.ts';
import { PRESETS, type Preset, presetById } from '../domain/presets/presets.ts';
import { parseOrThrow } from '../domain/validation.ts';
import { effectiveContentType } from '../domain/webhooks/webhook.ts';
import { ok } from '../http/responses.ts';
import type { Route } from '../http/router.ts';
import { dataOf, presetDetailSchema, presetSchema } from './answers.ts';

/**
 * The chat presets a webhook can be created from (`"template": "<id>"`),
 * listed and shown with what they send. Paths below /webhooks.
 */

const presetView = (preset: Preset) => ({
  id: preset.id,
  name: preset.name,
  description: preset.description,
  documentation_url: preset.documentation_url,
  payload_format: preset.payload_format,
  content_type: effectiveContentType({ payload_format: preset.payload_format, content_type: null }),
  payload_transformation: preset.payload_transformation,
});

/** What a preset's webhook would send for a new ticket. */
const SAMPLE_EVENT = {
  event_id: '0190b1f4-7a3c-7e2d-9f10-3c5d2e1a4b6f',
  event_type: 'ticket.created',
  tenant_id: 'acme',
  occurred_at: '2026-01-15T09:30:00.000Z',
  entity_type: 'ticket',
  data: {
    ticket_id: 'T-1042',
    title: 'Printer on floor 3 is offline',
    priority: 'high',
    status: 'open',
    assigned_to: 'Dana Smith',
  },
};

const presetDetail = (preset: Preset) => {
  const view = presetView(preset);
  const { body } = renderPayload(
    {
      method: 'POST',
      payload_format: preset.payload_format,
      content_type: null,
      payload_fields: null,
      payload_transformation: { ...preset.payload_transformation, flatten_nested: false },
    },
    SAMPLE_EVENT,
  );
  return { ...view, example: { event: SAMPLE_EVENT, body: body ?? '' } };
};

const presetParams = v.object({
  template_id: v.pipe(v.string(), v.maxLength(64, 'must be at most 64 characters')),
});

export const templateRoutes = (): Route[] => [
  {
    method: 'GET',
    path: '/templates',
    permission: 'read',
    docs: {
      summary: 'List the chat presets',
      description:
        'Presets for Slack, Discord, Microsoft Teams and Google Chat. Create a webhook with `"template": "<id>"` to take one.',
      success: { status: 200, description: 'The presets', schema: dataOf(v.array(presetSchema)) },
    },
    handle: async () => ok(PRESETS.map(presetView)),
  },
  {
    method: 'GET',
    path: '/templates/{template_id}',
    permission: 'read',
    docs: {
      summary: 'Show a chat preset',
      description: 'The preset, and what it sends for a sample event.',
      params: presetParams,
      success: { status: 200, description: 'The preset', schema: dataOf(presetDetailSchema) },
      errors: [404],
    },
    handle: async (request) => {
      const { template_id } = parseOrThrow(presetParams, request.params, 'The path is invalid');
      return ok(presetDetail(presetById(template_id)));
    },
  },
];
