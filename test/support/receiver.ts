import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A webhook receiver on 127.0.0.1 for tests: it records every request and
 * answers from a script (status, headers, body, delay), then with the
 * default answer. `waitFor` resolves once enough requests have arrived.
 */

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

export interface ScriptedAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
  delayMs?: number;
}

export interface TestReceiver {
  url: string;
  port: number;
  requests: ReceivedRequest[];
  connections: number;
  /** Answers for the coming requests, in order. */
  script(...answers: ScriptedAnswer[]): void;
  setDefault(answer: ScriptedAnswer): void;
  waitFor(count: number, timeoutMs?: number): Promise<ReceivedRequest[]>;
  close(): Promise<void>;
}

export const startReceiver = async (
  defaultAnswer: ScriptedAnswer = { status: 200, body: 'ok' },
): Promise<TestReceiver> => {
  const requests: ReceivedRequest[] = [];
  const scripted: ScriptedAnswer[] = [];
  let fallback = defaultAnswer;
  let waiters: (() => void)[] = [];
  let connections = 0;
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      requests.push({
        method: request.method ?? '',
        path: request.url ?? '',
        headers: request.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        at: Date.now(),
      });
      for (const wake of waiters) wake();
      const answer = scripted.shift() ?? fallback;
      const reply = () => {
        response.writeHead(answer.status, answer.headers ?? {});
        response.end(answer.body ?? '');
      };
      if (answer.delayMs) setTimeout(reply, answer.delayMs);
      else reply();
    });
  });
  server.on('connection', () => {
    connections += 1;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const receiver: TestReceiver = {
    url: `http://127.0.0.1:${port}/hook`,
    port,
    requests,
    get connections() {
      return connections;
    },
    script: (...answers) => scripted.push(...answers),
    setDefault: (answer) => {
      fallback = answer;
    },
    waitFor: (count, timeoutMs = 10_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          if (requests.length < count) return false;
          clearTimeout(timer);
          waiters = waiters.filter((waiter) => waiter !== check);
          resolve(requests.slice(0, count));
          return true;
        };
        const timer = setTimeout(
          () => reject(new Error(`Expected ${count} requests, got ${requests.length}`)),
          timeoutMs,
        );
        if (!check()) waiters.push(check);
      }),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return receiver;
};
