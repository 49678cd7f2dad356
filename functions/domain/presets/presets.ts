import * as v from 'valibot';
import { NotFoundError } from '../errors.ts';
import {
  DISCORD_TEMPLATE,
  GOOGLE_CHAT_TEMPLATE,
  SLACK_TEMPLATE,
  TEAMS_TEMPLATE,
} from './templates.ts';

/**
 * Chat presets: a webhook created (or updated) with `"template": "<id>"`
 * takes the preset's payload_format and payload_transformation, under its
 * own fields (see withPreset). A preset is configuration filled in once, not
 * a link: the webhook keeps its copy, which its owner may edit, and a later
 * change of the preset leaves it alone.
 */

export const PRESET_IDS = ['slack', 'discord', 'teams', 'google_chat'] as const;
export type PresetId = (typeof PRESET_IDS)[number];

export interface Preset {
  id: PresetId;
  name: string;
  description: string;
  /** Where the tool documents the webhook this preset posts to. */
  documentation_url: string;
  payload_format: 'json';
  payload_transformation: { template: string };
}

export const PRESETS: readonly Preset[] = [
  {
    id: 'slack',
    name: 'Slack',
    description:
      'A Slack incoming webhook message: text for notifications, and Block Kit blocks with the event type, id, time, tenant and data.',
    documentation_url: 'https://docs.slack.dev/messaging/sending-messages-using-incoming-webhooks',
    payload_format: 'json',
    payload_transformation: { template: SLACK_TEMPLATE },
  },
  {
    id: 'discord',
    name: 'Discord',
    description:
      'A Discord webhook message: the event type as content and one embed with the data, mentions switched off.',
    documentation_url: 'https://discord.com/developers/docs/resources/webhook#execute-webhook',
    payload_format: 'json',
    payload_transformation: { template: DISCORD_TEMPLATE },
  },
  {
    id: 'teams',
    name: 'Microsoft Teams',
    description:
      'A Microsoft Teams Workflows webhook message carrying an Adaptive Card (1.4) with the event type, its facts and data.',
    documentation_url:
      'https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/add-incoming-webhook',
    payload_format: 'json',
    payload_transformation: { template: TEAMS_TEMPLATE },
  },
  {
    id: 'google_chat',
    name: 'Google Chat',
    description:
      'A Google Chat incoming webhook message: a line of text and a card with the event id, tenant and data.',
    documentation_url: 'https://developers.google.com/workspace/chat/quickstart/webhooks',
    payload_format: 'json',
    payload_transformation: { template: GOOGLE_CHAT_TEMPLATE },
  },
];

export const presetById = (id: string): Preset => {
  const preset = PRESETS.find((candidate) => candidate.id === id);
  if (!preset) {
    throw new NotFoundError(`Template ${id} not found (GET /api/v1/webhooks/templates lists them)`);
  }
  return preset;
};

/** The `template` field of a create or update body; withPreset has used it before validation. */
export const presetIdSchema = v.picklist(
  PRESET_IDS,
  `must be one of ${PRESET_IDS.join(', ')} (GET /api/v1/webhooks/templates lists them)`,
);

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * A create or update body with its preset filled in: the preset's
 * `payload_format`, `content_type` (null: the format's default) and
 * `payload_transformation`, each unless the body gives its own; a
 * `payload_transformation` object given is laid over the preset's key by key,
 * so `{"exclude_fields": [...]}` keeps the preset's template, and `null`
 * means none. An unknown template, or a body without one, is left as it is
 * for validation to judge.
 */
export const withPreset = (body: Record<string, unknown>): Record<string, unknown> => {
  const preset = PRESETS.find((candidate) => candidate.id === body.template);
  if (!preset) return body;
  const own = body.payload_transformation;
  return {
    payload_format: preset.payload_format,
    content_type: null,
    ...body,
    payload_transformation: isObject(own)
      ? { ...preset.payload_transformation, ...own }
      : own === undefined
        ? { ...preset.payload_transformation }
        : own,
  };
};
