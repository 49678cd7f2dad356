import { ISOLATION } from '../../lib/resources.ts';
import type { IsolationSettings } from '../domain/delivery/circuit.ts';
import type { TenantShare } from '../domain/delivery/tenant-share.ts';
import { ConfigurationError, integerEnv } from './config.ts';

/**
 * The isolation settings the delivery workers read at cold start: circuit
 * breakers and lanes (delivery), and tenant shares (fan-out). The stack
 * sets them from CDK context (lib/resources.ts, ISOLATION, has the
 * defaults and what each means); a stack without the overflow lane gives
 * no DELIVERIES_OVERFLOW_QUEUE_URL.
 */

export const isolationSettings = (env: NodeJS.ProcessEnv = process.env): IsolationSettings => {
  const openSeconds = integerEnv(
    'CIRCUIT_OPEN_SECONDS',
    ISOLATION.circuitOpenSeconds,
    { min: 1, max: 3600 },
    env,
  );
  const maxOpenSeconds = integerEnv(
    'CIRCUIT_MAX_OPEN_SECONDS',
    ISOLATION.circuitMaxOpenSeconds,
    { min: 1, max: 86_400 },
    env,
  );
  if (maxOpenSeconds < openSeconds) {
    throw new ConfigurationError(
      `CIRCUIT_MAX_OPEN_SECONDS (${maxOpenSeconds}) must be at least CIRCUIT_OPEN_SECONDS (${openSeconds})`,
    );
  }
  const failureThreshold = integerEnv(
    'CIRCUIT_FAILURE_THRESHOLD',
    ISOLATION.circuitFailureThreshold,
    { min: 0, max: 100 },
    env,
  );
  return {
    failureThreshold,
    timeoutThreshold: integerEnv(
      'CIRCUIT_TIMEOUT_THRESHOLD',
      Math.min(ISOLATION.circuitTimeoutThreshold, Math.max(1, failureThreshold)),
      { min: 1, max: Math.max(1, failureThreshold) },
      env,
    ),
    openMs: openSeconds * 1000,
    maxOpenMs: maxOpenSeconds * 1000,
    slowAfterMs: integerEnv(
      'SLOW_RECEIVER_MS',
      ISOLATION.slowReceiverMs,
      { min: 100, max: 30_000 },
      env,
    ),
    overflowLane: Boolean(env.DELIVERIES_OVERFLOW_QUEUE_URL),
  };
};

/** Each tenant's share of delivery (fan-out); undefined when shares are off. */
export const tenantShareSettings = (
  env: NodeJS.ProcessEnv = process.env,
): TenantShare | undefined => {
  const eventsPerSecond = integerEnv(
    'TENANT_EVENTS_PER_SECOND',
    ISOLATION.tenantEventsPerSecond,
    { min: 0, max: 1000 },
    env,
  );
  if (eventsPerSecond === 0) return undefined;
  return {
    eventsPerSecond,
    burst: integerEnv('TENANT_BURST', ISOLATION.tenantBurst, { min: 1, max: 100_000 }, env),
  };
};
