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

export const integerEnv = (
  name: string,
  fallback: number,
  { min = 0, max = Number.MAX_SAFE_INTEGER }: { min?: number; max?: number } = {},
  env: NodeJS.ProcessEnv = process.env,
): number => {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigurationError(`${name} must be an integer from ${min} to ${max}; got "${raw}"`);
  }
  return value;
};
