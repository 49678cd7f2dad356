/**
 * A `Retry-After` header as a wait in ms: delta-seconds or an HTTP date
 * (RFC 9110 §10.2.3). Anything unreadable, negative or in the past is no
 * instruction at all.
 */
export const parseRetryAfter = (value: string | undefined, now: Date): number | undefined => {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  if (!/[a-z]/i.test(trimmed)) return undefined;
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  const wait = at - now.getTime();
  return wait > 0 ? wait : undefined;
};
