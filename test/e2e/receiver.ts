import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ReceiverSettings } from './settings.ts';

/**
 * The suite's webhook receiver: one HTTP server (one port to expose when the
 * deployment is elsewhere), with a mailbox per test under a path of its own.
 * Each mailbox records what arrives and answers from its script.
 */

export interface Received {
  method: string;
  path: string;
  /** Lower-case names; repeated headers joined with ", " as HTTP defines. */
  headers: Record<string, string>;
  body: string;
  /** Arrival time, ms since the epoch. */
  at: number;
}

export interface Mailbox {
  /** What the webhook is pointed at. */
  url: string;
  received: Received[];
  /** Resolves with the first `count` requests, or fails after `timeoutMs`. */
  waitFor(count: number, timeoutMs: number): Promise<Received[]>;
}

export interface MailboxScript {
  /** Statuses for the first requests, in order. */
  firstAnswers?: number[];
  /** The status of every request after those. */
  answer: number;
}

export interface E2eReceiver {
  baseUrl: string;
  mailbox(name: string, script: MailboxScript): Mailbox;
  close(): Promise<void>;
}

interface Box extends Mailbox {
  answer(): number;
  wake(): void;
}

const flatHeaders = (request: IncomingMessage): Record<string, string> =>
  Object.fromEntries(
    Object.entries(request.headers).map(([name, value]) => [
      name,
      Array.isArray(value) ? value.join(', ') : (value ?? ''),
    ]),
  );

const newBox = (url: string, script: MailboxScript): Box => {
  const received: Received[] = [];
  const answers = [...(script.firstAnswers ?? [])];
  let waiters: (() => void)[] = [];
  return {
    url,
    received,
    answer: () => answers.shift() ?? script.answer,
    wake: () => {
      for (const waiter of waiters) waiter();
    },
    waitFor: (count, timeoutMs) =>
      new Promise((resolve, reject) => {
        const check = () => {
          if (received.length < count) return;
          clearTimeout(timer);
          waiters = waiters.filter((waiter) => waiter !== check);
          resolve(received.slice(0, count));
        };
        const timer = setTimeout(() => {
          waiters = waiters.filter((waiter) => waiter !== check);
          reject(
            new Error(
              `${url}: expected ${count} deliveries in ${timeoutMs} ms, got ${received.length}`,
            ),
          );
        }, timeoutMs);
        waiters.push(check);
        check();
      }),
  };
};

export const startE2eReceiver = async (settings: ReceiverSettings): Promise<E2eReceiver> => {
  const boxes = new Map<string, Box>();
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const path = request.url ?? '/';
      // By the last segment: a tunnel may put the public URL's own path in front.
      const box = boxes.get(new URL(path, 'http://receiver').pathname.split('/').at(-1) ?? '');
      // Unknown paths: a webhook left over from an earlier run, say.
      if (!box) return void response.writeHead(404).end();
      box.received.push({
        method: request.method ?? '',
        path,
        headers: flatHeaders(request),
        body: Buffer.concat(chunks).toString('utf8'),
        at: Date.now(),
      });
      const status = box.answer();
      response.writeHead(status, { 'Content-Type': 'text/plain' }).end(`${status}\n`);
      box.wake();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(settings.port, settings.host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  const baseUrl = (settings.publicUrl ?? `http://${settings.host}:${port}`).replace(/\/+$/, '');
  return {
    baseUrl,
    mailbox: (name, script) => {
      const segment = `${name}-${randomUUID()}`;
      const box = newBox(`${baseUrl}/${segment}`, script);
      boxes.set(segment, box);
      return box;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
};
