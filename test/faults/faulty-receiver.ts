import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { fileURLToPath } from 'node:url';

/**
 * A webhook receiver on 127.0.0.1 that misbehaves on purpose: each request
 * draws one fault from its path's mix, and the draw is a hash of (seed,
 * path, event id, attempt), so a run is reproducible from its seed however
 * the requests interleave. It logs every request with the status line it
 * sent, if any: the books check that a delivery marked delivered was
 * answered 2xx, and that no (delivery, attempt) came twice. Paths under
 * /_faults/ control it from another process (receiver-process.ts).
 */

export const FAULTS = [
  /** 200, 201, 202 or 204, after `okDelayMs`. */
  'ok',
  /** 500, 502 or 503 (503 with Retry-After: 1). */
  'server-error',
  /** 410 Gone: the webhook is switched off. */
  'gone',
  /** 429 with Retry-After: 1. */
  'throttled',
  /** No answer at all; the socket is dropped long after the sender's timeout. */
  'hang',
  /** The connection is reset (TCP RST) once the request has arrived. */
  'reset',
  /** 200, then a body that trickles out for longer than the sender's timeout. */
  'slow-body',
  /** 200 promising 1000 bytes, 100 sent, then the connection closed. */
  'truncated',
  /** 200 with a 1 MiB body. */
  'oversized',
  /** 302 or 307 to another path. */
  'redirect',
  /** An SSH banner instead of HTTP. */
  'not-http',
] as const;

export type Fault = (typeof FAULTS)[number];

/** Relative weights; faults not named are never drawn. */
export type FaultMix = Partial<Record<Fault, number>>;

export interface ReceivedDelivery {
  path: string;
  webhook_id: string;
  event_id: string;
  delivery_id: string;
  attempt: number;
  fault: Fault;
  /** The status line sent, if one was (a slow `ok` whose sender went away sent none). */
  status?: number;
  /** When the request had arrived whole. */
  at: number;
}

export interface FaultyReceiverOptions {
  seed: number;
  /** The mix for a path (`/hook/<name>`); the default mix when absent. */
  mixes?: Record<string, FaultMix>;
  defaultMix: FaultMix;
  /** How long an `ok` waits before answering (a slow receiver). */
  okDelayMs?: number;
  /** How long a hung request is held before its socket is dropped. */
  hangMs?: number;
}

export interface FaultyReceiver {
  origin: string;
  urlFor(name: string): string;
  log: ReceivedDelivery[];
  /** Changes a path's mix from now on (a receiver that starts answering 410, say). */
  setMix(path: string, mix: FaultMix): void;
  /** Requests still without an answer. */
  open(): number;
  close(): Promise<void>;
}

/** A number in [0, 1) from the hash of the parts: the same parts always draw the same. */
export const drawFor = (...parts: (string | number)[]): number =>
  createHash('sha256').update(parts.join('\0')).digest().readUInt32BE(0) / 2 ** 32;

export const pickFault = (mix: FaultMix, draw: number): Fault => {
  const entries = FAULTS.map((fault) => [fault, mix[fault] ?? 0] as const).filter(
    ([, weight]) => weight > 0,
  );
  const total = entries.reduce((sum, [, weight]) => sum + weight, 0);
  let point = draw * total;
  for (const [fault, weight] of entries) {
    point -= weight;
    if (point < 0) return fault;
  }
  return entries.at(-1)?.[0] ?? 'ok';
};

const header = (request: IncomingMessage, name: string): string => {
  const value = request.headers[name];
  return Array.isArray(value) ? (value[0] ?? '') : (value ?? '');
};

const OVERSIZED = Buffer.alloc(1024 * 1024, 'x');

export const startFaultyReceiver = async (
  options: FaultyReceiverOptions,
): Promise<FaultyReceiver> => {
  const mixes = new Map(Object.entries(options.mixes ?? {}));
  const log: ReceivedDelivery[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let openRequests = 0;
  const later = (ms: number, run: () => void) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      run();
    }, ms);
    timers.add(timer);
  };

  const answer = (
    request: IncomingMessage,
    response: ServerResponse,
    fault: Fault,
    draw: number,
  ): number | undefined => {
    const { socket } = request;
    const variant = Math.floor(draw * 1e6) % 4;
    switch (fault) {
      case 'ok': {
        const status = [200, 201, 202, 204][variant] ?? 200;
        response.writeHead(status, { 'content-type': 'text/plain' });
        response.end(status === 204 ? undefined : 'ok');
        return status;
      }
      case 'server-error': {
        const status = [500, 502, 503, 503][variant] ?? 500;
        response.writeHead(status, status === 503 ? { 'retry-after': '1' } : {});
        response.end('unavailable');
        return status;
      }
      case 'gone':
        response.writeHead(410).end('gone');
        return 410;
      case 'throttled':
        response.writeHead(429, { 'retry-after': '1' }).end('slow down');
        return 429;
      case 'redirect': {
        const status = variant % 2 === 0 ? 302 : 307;
        response.writeHead(status, { location: '/moved' }).end();
        return status;
      }
      case 'hang':
        later(options.hangMs ?? 5_000, () => socket.destroy());
        return undefined;
      case 'reset':
        socket.resetAndDestroy();
        return undefined;
      case 'not-http':
        socket.end('SSH-2.0-OpenSSH_9.6\r\n');
        return undefined;
      case 'slow-body': {
        response.writeHead(200, { 'content-type': 'text/plain', 'content-length': '20' });
        let sent = 0;
        const drip = () => {
          if (socket.destroyed || sent >= 20) return;
          sent += 1;
          response.write('.');
          if (sent === 20) response.end();
          else later(250, drip);
        };
        drip();
        return 200;
      }
      case 'truncated':
        response.writeHead(200, { 'content-type': 'text/plain', 'content-length': '1000' });
        response.write('x'.repeat(100), () => socket.destroy());
        return 200;
      case 'oversized':
        response.writeHead(200, { 'content-type': 'application/octet-stream' });
        response.end(OVERSIZED);
        return 200;
    }
  };

  const control = async (request: IncomingMessage, response: ServerResponse, path: string) => {
    const send = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(body));
    };
    if (request.method === 'GET' && path === '/_faults/log') return send(200, log);
    if (request.method === 'GET' && path === '/_faults/stats') {
      return send(200, { requests: log.length, open: openRequests });
    }
    if (request.method === 'PUT' && path === '/_faults/mix') {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      const { path: target, mix } = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      mixes.set(String(target), mix as FaultMix);
      return send(200, { ok: true });
    }
    return send(404, { error: 'no such control route' });
  };

  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0] ?? '/';
    if (path.startsWith('/_faults/')) {
      void control(request, response, path).catch(() => response.destroy());
      return;
    }
    openRequests += 1;
    let settled = false;
    const settle = () => {
      if (settled) return;
      settled = true;
      openRequests -= 1;
    };
    response.on('close', settle);
    request.on('error', () => undefined);
    response.on('error', () => undefined);
    request.resume();
    request.on('end', () => {
      const eventId = header(request, 'x-alga-event-id');
      const attempt = Number(header(request, 'x-alga-delivery-attempt'));
      const draw = drawFor(options.seed, path, eventId, attempt);
      const fault = pickFault(mixes.get(path) ?? options.defaultMix, draw);
      const entry: ReceivedDelivery = {
        path,
        webhook_id: header(request, 'x-alga-webhook-id'),
        event_id: eventId,
        delivery_id: header(request, 'x-alga-delivery-id'),
        attempt,
        fault,
        at: Date.now(),
      };
      log.push(entry);
      const reply = () => {
        if (request.socket.destroyed) return;
        const status = answer(request, response, fault, draw);
        if (status !== undefined) entry.status = status;
      };
      if (fault === 'ok' && options.okDelayMs) later(options.okDelayMs, reply);
      else reply();
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  });
  server.on('clientError', (_error, socket) => socket.destroy());
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  return {
    origin,
    urlFor: (name) => `${origin}/hook/${name}`,
    log,
    setMix: (path, mix) => void mixes.set(path, mix),
    open: () => openRequests,
    close: () =>
      new Promise((resolve) => {
        for (const timer of timers) clearTimeout(timer);
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
};

export interface ReceiverProcess {
  origin: string;
  pid: number;
  urlFor(name: string): string;
  setMix(path: string, mix: FaultMix): Promise<void>;
  log(): Promise<ReceivedDelivery[]>;
  stats(): Promise<{ requests: number; open: number }>;
  stop(): Promise<void>;
}

/** The receiver in a process of its own (receiver-process.ts), driven over HTTP. */
export const startReceiverProcess = async (
  options: FaultyReceiverOptions,
): Promise<ReceiverProcess> => {
  const child = spawn(
    process.execPath,
    [fileURLToPath(new URL('./receiver-process.ts', import.meta.url))],
    {
      env: { ...process.env, FAULTY_RECEIVER_OPTIONS: JSON.stringify(options) },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const port = await new Promise<string>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`receiver not ready: ${output}`)), 20_000);
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const found = /listening (\d+)/.exec(output);
      if (found?.[1]) {
        clearTimeout(timer);
        resolve(found[1]);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`receiver exited with ${code}: ${output}`));
    });
  });
  const origin = `http://127.0.0.1:${port}`;
  const control = async <T>(path: string, init?: RequestInit): Promise<T> => {
    const response = await fetch(`${origin}/_faults/${path}`, init);
    if (!response.ok) throw new Error(`receiver ${path}: ${response.status}`);
    return (await response.json()) as T;
  };
  return {
    origin,
    pid: child.pid ?? 0,
    urlFor: (name) => `${origin}/hook/${name}`,
    setMix: async (path, mix) => {
      await control('mix', { method: 'PUT', body: JSON.stringify({ path, mix }) });
    },
    log: () => control<ReceivedDelivery[]>('log'),
    stats: () => control('stats'),
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
};
