/**
 * Configuration from the environment, read once at cold start. A missing or
 * malformed setting stops the function there, not on the first request.
 */
export class ConfigurationError extends Error {
  override readonly name = 'ConfigurationError';
}

export const requireEnv = (name: string, env: NodeJS.ProcessEnv = process.env): string => {
  const value = env[name];
  if (value === undefined || value === '') {
    throw new ConfigurationError(`Environment variable ${name} is required`);
  }
  return value;
};

interface Range {
  min?: number;
  max?: number;
  integer?: boolean;
}

/** A number from the environment, or the fallback when unset; anything else stops here. */
export const numberEnv = (
  name: string,
  fallback: number,
  { min = 0, max = Number.MAX_SAFE_INTEGER, integer = false }: Range = {},
  env: NodeJS.ProcessEnv = process.env,
): number => {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (
    !Number.isFinite(value) ||
    (integer && !Number.isInteger(value)) ||
    value < min ||
    value > max
  ) {
    const kind = integer ? 'an integer' : 'a number';
    throw new ConfigurationError(`${name} must be ${kind} from ${min} to ${max}; got "${raw}"`);
  }
  return value;
};

export const integerEnv = (
  name: string,
  fallback: number,
  range: Omit<Range, 'integer'> = {},
  env: NodeJS.ProcessEnv = process.env,
): number => numberEnv(name, fallback, { ...range, integer: true }, env);
