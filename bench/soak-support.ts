import { type ChildProcess, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { quantiles } from './e2e-phases.ts';
import { PROJECT_ROOT } from './support.ts';

/**
 * The soak's processes and measures: the runtime (`node local/start.ts`) in
 * a process of its own whose output is tallied as it comes rather than kept
 * (a long run prints a line per batch), the resident memory of a process by
 * its pid, and latency and throughput from what the receiver logged.
 */

export interface RuntimeEndpoints {
  apiUrl: string;
  apiKey: string;
  tenant: string;
  sqsEndpoint: string;
  ingestUrl: string;
  deliveriesUrl: string;
}

interface BatchTally {
  batches: number;
  messages: number;
  failed: number;
  handlerMs: number[];
}

export interface SoakRuntime {
  pid: number;
  endpoints: RuntimeEndpoints;
  /** Per function: batches, messages, messages failed, handler time quantiles. */
  batches(): Record<string, unknown>;
  /** Lines that were neither a batch nor an info log: refusals, errors, warnings (the first 50). */
  notable(): { count: number; first: string[] };
  stop(): Promise<void>;
}

const field = (output: string, pattern: RegExp, name: string): string => {
  const found = pattern.exec(output)?.[1];
  if (!found) throw new Error(`the runtime did not print its ${name}:\n${output}`);
  return found;
};

const BATCH = /^\S+ hookline-(\S+): batch of (\d+), (\d+) failed, (\d+) ms$/;
/** What a healthy run prints besides batch lines: request logs and the functions' info logs. */
const ROUTINE = /^\S+ (GET|POST|PUT|DELETE) \/|"level":"(INFO|DEBUG)"|"_aws":\{/;

export const startSoakRuntime = async (env: Record<string, string>): Promise<SoakRuntime> => {
  const child: ChildProcess = spawn(process.execPath, ['local/start.ts'], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const tallies = new Map<string, BatchTally>();
  const notable: string[] = [];
  let notableCount = 0;
  let head = '';
  let ready = false;
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const onLine = (line: string) => {
    if (!ready) head += `${line}\n`;
    const batch = BATCH.exec(line);
    if (batch) {
      const [, name = '', size = '0', failed = '0', ms = '0'] = batch;
      const tally = tallies.get(name) ?? { batches: 0, messages: 0, failed: 0, handlerMs: [] };
      tally.batches += 1;
      tally.messages += Number(size);
      tally.failed += Number(failed);
      tally.handlerMs.push(Number(ms));
      tallies.set(name, tally);
    } else if (ready && !ROUTINE.test(line) && line.trim() !== '') {
      notableCount += 1;
      if (notable.length < 50) notable.push(line.slice(0, 500));
    }
  };
  for (const stream of [child.stdout, child.stderr]) {
    if (stream) createInterface({ input: stream }).on('line', onLine);
  }
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready after 60 s:\n${head}`)), 60_000);
    const check = setInterval(() => {
      if (!/Ready in \d+ ms/.test(head)) return;
      clearInterval(check);
      clearTimeout(timer);
      ready = true;
      resolve();
    }, 50);
    child.on('exit', (code) => {
      clearInterval(check);
      clearTimeout(timer);
      reject(new Error(`the runtime exited with ${code} before it was ready:\n${head}`));
    });
  });
  return {
    pid: child.pid ?? 0,
    endpoints: {
      apiUrl: field(head, /^\s+API\s+(http:\/\/\S+?)\/api\/v1\/webhooks$/m, 'API'),
      apiKey: field(head, /^\s+API key\s+(\S+)/m, 'API key'),
      tenant: field(head, /\(tenant ([^;]+);/, 'tenant'),
      sqsEndpoint: field(head, /^\s+SQS\s+(http:\/\/\S+)/m, 'SQS endpoint'),
      ingestUrl: field(head, /^\s+ingest\s+(http:\/\/\S+)$/m, 'ingest queue'),
      deliveriesUrl: field(head, /^\s+deliveries\s+(http:\/\/\S+)$/m, 'deliveries queue'),
    },
    batches: () =>
      Object.fromEntries(
        [...tallies].map(([name, tally]) => [
          name,
          {
            batches: tally.batches,
            messages: tally.messages,
            messages_failed: tally.failed,
            handler_ms: quantiles(tally.handlerMs),
          },
        ]),
      ),
    notable: () => ({ count: notableCount, first: [...notable] }),
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGINT');
      await exited;
    },
  };
};

/** Resident memory of a process in MiB (Linux /proc), undefined once it is gone. */
export const rssMiB = async (pid: number): Promise<number | undefined> => {
  if (pid === process.pid) return round(process.memoryUsage().rss / 2 ** 20);
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
    return kb === undefined ? undefined : round(Number(kb) / 1024);
  } catch {
    return undefined;
  }
};

const round = (value: number) => Math.round(value * 10) / 10;

/** The first, middle and last samples, and the peak, of one series. */
export const memorySummary = (series: readonly (number | undefined)[]) => {
  const values = series.filter((value): value is number => value !== undefined);
  return {
    first: values[0],
    middle: values[Math.floor(values.length / 2)],
    last: values.at(-1),
    peak: values.length > 0 ? Math.max(...values) : undefined,
  };
};

export interface Arrival {
  event_id: string;
  attempt: number;
  status?: number;
  at: number;
}

/**
 * From the receiver's log: per event, the first attempt's arrival and the
 * arrival of the attempt answered 2xx; latency is measured from the event's
 * scheduled send time.
 */
export const latencies = (scheduled: ReadonlyMap<string, number>, arrivals: readonly Arrival[]) => {
  const firstArrival = new Map<string, number>();
  const delivered = new Map<string, number>();
  for (const arrival of arrivals) {
    if (arrival.attempt === 1 && !firstArrival.has(arrival.event_id)) {
      firstArrival.set(arrival.event_id, arrival.at);
    }
    const ok = arrival.status !== undefined && arrival.status >= 200 && arrival.status < 300;
    if (ok && !delivered.has(arrival.event_id)) delivered.set(arrival.event_id, arrival.at);
  }
  const since = (times: Map<string, number>) =>
    [...times].flatMap(([eventId, at]) => {
      const due = scheduled.get(eventId);
      return due === undefined ? [] : [at - due];
    });
  return {
    first_attempt_ms: quantiles(since(firstArrival)),
    delivered_ms: quantiles(since(delivered)),
  };
};

/** Per window of `windowMs` from `start`: events sent, attempts received, deliveries answered 2xx. */
export const throughputTimeline = (
  start: number,
  windowMs: number,
  sentAt: readonly number[],
  arrivals: readonly Arrival[],
) => {
  const windows = new Map<number, { sent: number; attempts: number; delivered: number }>();
  const bump = (at: number, key: 'sent' | 'attempts' | 'delivered') => {
    const index = Math.max(0, Math.floor((at - start) / windowMs));
    const entry = windows.get(index) ?? { sent: 0, attempts: 0, delivered: 0 };
    entry[key] += 1;
    windows.set(index, entry);
  };
  for (const at of sentAt) bump(at, 'sent');
  for (const arrival of arrivals) {
    bump(arrival.at, 'attempts');
    if (arrival.status !== undefined && arrival.status >= 200 && arrival.status < 300) {
      bump(arrival.at, 'delivered');
    }
  }
  const perSecond = (count: number) => Math.round((count / (windowMs / 1000)) * 10) / 10;
  return [...windows]
    .sort(([a], [b]) => a - b)
    .map(([index, entry]) => ({
      from_s: (index * windowMs) / 1000,
      sent_per_s: perSecond(entry.sent),
      attempts_per_s: perSecond(entry.attempts),
      delivered_per_s: perSecond(entry.delivered),
    }));
};
