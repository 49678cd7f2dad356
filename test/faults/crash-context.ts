/**
 * The stack's settings for the crash suite, in the services runtime and in
 * each child alike: what is under test is losing nothing across a kill, not
 * isolation (test/delivery/isolation.test.ts), so the circuit breaker and the
 * overflow lane, which hold failing receivers' retries back for minutes, are off.
 */
export const CRASH_CONTEXT = { circuitFailureThreshold: 0, overflowConcurrency: 0 };
