/**
 * Where the end-to-end suite runs, read from the environment: the embedded
 * local runtime by default, or any deployment (LocalStack, AWS) once
 * HOOKLINE_E2E_API_URL names one. Pure: no I/O here.
 */

export const E2E_VARIABLES = {
  apiUrl: 'HOOKLINE_E2E_API_URL',
  apiKey: 'HOOKLINE_E2E_API_KEY',
  eventsQueueUrl: 'HOOKLINE_E2E_EVENTS_QUEUE_URL',
  deliveriesDeadLetterUrl: 'HOOKLINE_E2E_DELIVERIES_DLQ_URL',
  receiverUrl: 'HOOKLINE_E2E_RECEIVER_URL',
  receiverListen: 'HOOKLINE_E2E_RECEIVER_LISTEN',
  waitMs: 'HOOKLINE_E2E_WAIT_MS',
} as const;

/** Where the suite's receiver listens, and the address deliveries are sent to. */
export interface ReceiverSettings {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** The base URL the deployment reaches the receiver at; default: the bound address. */
  publicUrl?: string | undefined;
}

interface Common {
  receiver: ReceiverSettings;
  /** The longest any single wait (a delivery, a history state) may take. */
  waitMs: number;
}

export type E2eSettings =
  | ({ kind: 'embedded' } & Common)
  | ({
      kind: 'remote';
      /** The webhooks API: .../api/v1/webhooks, as the stack's ApiUrl output prints it. */
      apiUrl: string;
      apiKey: string;
      eventsQueueUrl: string;
      deliveriesDeadLetterUrl: string;
    } & Common);

export class E2eSettingsError extends Error {
  override readonly name = 'E2eSettingsError';
}

/** Deliveries on a deployment pass through Lambda's SQS pollers and cold starts. */
const DEFAULT_WAIT_MS = { embedded: 15_000, remote: 60_000 } as const;

const WEBHOOKS_PATH = '/api/v1/webhooks';

/** The webhooks API from either an origin or the full ApiUrl output. */
export const webhooksApiUrl = (base: string): string => {
  const trimmed = base.replace(/\/+$/, '');
  return trimmed.endsWith(WEBHOOKS_PATH) ? trimmed : `${trimmed}${WEBHOOKS_PATH}`;
};

const httpUrl = (name: string, value: string): string => {
  const protocol = URL.canParse(value) ? new URL(value).protocol : undefined;
  if (protocol !== 'http:' && protocol !== 'https:') {
    throw new E2eSettingsError(`${name} must be an http(s) URL; got ${value}`);
  }
  return value;
};

/** `host:port`, e.g. `0.0.0.0:4000` or `127.0.0.1:0`. */
const listenAddress = (name: string, value: string): { host: string; port: number } => {
  const match = /^(.+):(\d{1,5})$/.exec(value);
  const port = Number(match?.[2]);
  if (!match?.[1] || port > 65_535) {
    throw new E2eSettingsError(`${name} must be host:port, like 0.0.0.0:4000; got ${value}`);
  }
  return { host: match[1].replace(/^\[(.*)\]$/, '$1'), port };
};

const positiveInteger = (name: string, value: string | undefined, fallback: number): number => {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (value.trim() === '' || !Number.isInteger(parsed) || parsed < 1) {
    throw new E2eSettingsError(`${name} must be a whole number of milliseconds; got ${value}`);
  }
  return parsed;
};

const receiverFrom = (url: string | undefined, listen: string | undefined): ReceiverSettings => {
  const { receiverUrl, receiverListen } = E2E_VARIABLES;
  if (url === undefined && listen === undefined) return { host: '127.0.0.1', port: 0 };
  // Guessing one from the other would be wrong behind a tunnel or a container bridge.
  if (url === undefined || listen === undefined) {
    throw new E2eSettingsError(
      `${receiverUrl} and ${receiverListen} go together: the address deliveries use, and where the receiver listens`,
    );
  }
  return { ...listenAddress(receiverListen, listen), publicUrl: httpUrl(receiverUrl, url) };
};

export const e2eSettingsFrom = (env: NodeJS.ProcessEnv): E2eSettings => {
  const read = (name: string) => (env[name] === '' ? undefined : env[name]);
  const names = E2E_VARIABLES;
  const apiUrl = read(names.apiUrl);
  if (apiUrl === undefined) {
    // A half-configured remote run must not quietly test the embedded runtime instead.
    const stray = Object.values(names).filter(
      (name) => name !== names.waitMs && read(name) !== undefined,
    );
    if (stray.length > 0) {
      throw new E2eSettingsError(
        `${stray.join(', ')} only apply with ${names.apiUrl}; unset them to run against the embedded runtime`,
      );
    }
    return {
      kind: 'embedded',
      receiver: { host: '127.0.0.1', port: 0 },
      waitMs: positiveInteger(names.waitMs, read(names.waitMs), DEFAULT_WAIT_MS.embedded),
    };
  }
  const required = [names.apiKey, names.eventsQueueUrl, names.deliveriesDeadLetterUrl];
  const missing = required.filter((name) => read(name) === undefined);
  if (missing.length > 0) {
    throw new E2eSettingsError(`${names.apiUrl} is set, so ${missing.join(', ')} must be too`);
  }
  return {
    kind: 'remote',
    apiUrl: webhooksApiUrl(httpUrl(names.apiUrl, apiUrl)),
    apiKey: read(names.apiKey) ?? '',
    eventsQueueUrl: httpUrl(names.eventsQueueUrl, read(names.eventsQueueUrl) ?? ''),
    deliveriesDeadLetterUrl: httpUrl(
      names.deliveriesDeadLetterUrl,
      read(names.deliveriesDeadLetterUrl) ?? '',
    ),
    receiver: receiverFrom(read(names.receiverUrl), read(names.receiverListen)),
    waitMs: positiveInteger(names.waitMs, read(names.waitMs), DEFAULT_WAIT_MS.remote),
  };
};
