import { ConfigurationError, integerEnv, requireEnv } from './config.ts';

/**
 * Delivery's settings from the environment (README, "Configuration"), read
 * once at cold start by every function that sends or records deliveries.
 */

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

export const deliverySettings = (env: NodeJS.ProcessEnv = process.env) => ({
  tableName: requireEnv('TABLE_NAME', env),
  deliveriesTableName: requireEnv('DELIVERIES_TABLE_NAME', env),
  /** Delivery history (and event de-duplication) is kept this long. */
  retentionMs: integerEnv('DELIVERY_RETENTION_DAYS', 30, { min: 1, max: 365 }, env) * DAY_MS,
  /** A webhook failing without a break for this long is switched off. */
  autoDisableAfterMs:
    integerEnv('AUTO_DISABLE_AFTER_HOURS', 24, { min: 1, max: 24 * 90 }, env) * HOUR_MS,
  /** Loopback, private and metadata targets are refused unless this is "true". */
  allowPrivateTargets: booleanEnv('ALLOW_PRIVATE_TARGETS', false, env),
  userAgent: env.DELIVERY_USER_AGENT || 'Hookline-Webhooks/1.0',
});

const booleanEnv = (name: string, fallback: boolean, env: NodeJS.ProcessEnv): boolean => {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (raw === 'true' || raw === 'false') return raw === 'true';
  throw new ConfigurationError(`${name} must be "true" or "false"; got "${raw}"`);
};

export type DeliverySettings = ReturnType<typeof deliverySettings>;
