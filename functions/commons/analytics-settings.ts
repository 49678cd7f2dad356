import { ANALYTICS_TABLE } from '../../lib/resources.ts';
import { integerEnv, requireEnv } from './config.ts';

/** The analytics table's settings, read at cold start by the functions that write or read it. */
export const analyticsSettings = (env: NodeJS.ProcessEnv = process.env) => ({
  tableName: requireEnv('ANALYTICS_TABLE_NAME', env),
  /** Aggregates are kept this many calendar months, then expire. */
  retentionMonths: integerEnv(
    'ANALYTICS_RETENTION_MONTHS',
    ANALYTICS_TABLE.retentionMonths.default,
    { min: ANALYTICS_TABLE.retentionMonths.min, max: ANALYTICS_TABLE.retentionMonths.max },
    env,
  ),
});

export type AnalyticsSettings = ReturnType<typeof analyticsSettings>;
