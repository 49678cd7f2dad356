/**
 * A Retry-After value in milliseconds from `now`: delta-seconds or an
 * HTTP-date (a past date gives 0). Undefined when absent or unreadable.
 */
export const parseRetryAfter = (value: string | undefined, now: Date): number | undefined => {
  const text = value?.trim();
  if (text === undefined || text === '') return undefined;
  if (/^\d+$/.test(text)) {
    const seconds = Number(text);
    return Number.isSafeInteger(seconds * 1000) ? seconds * 1000 : undefined;
  }
  if (!HTTP_DATE.test(text)) return undefined;
  // asctime dates carry no zone; HTTP says they are GMT, Date.parse would read local time.
  const at = Date.parse(ASCTIME.test(text) ? `${text} GMT` : text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now.getTime());
};

const HTTP_DATE = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*,? /;
const ASCTIME = /^[A-Za-z]{3} [A-Za-z]{3} +\d{1,2} \d{2}:\d{2}:\d{2} \d{4}$/;
