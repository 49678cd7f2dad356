import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The receivers of `npm run bench:noisy`, in a process of their own, each on
 * a port of its own (so each is its own origin, as real receivers are):
 * `recording` ones answer 200 at once and note when each event arrived,
 * `hanging` ones read the request and never answer, `slow` ones answer 200
 * after SLOW_MS. Usage: node bench/noisy-receivers.ts <recording> <hanging>
 * <slow>. It prints `ready {json of ports}`; a control port answers
 * GET /arrivals/<i> (the i-th recording receiver's [event_id, ms] pairs) and
 * GET /stats (requests per kind).
 */

const [recordingCount = 1, hangingCount = 0, slowCount = 0] = process.argv
  .slice(2)
  .map((value) => Number(value));
const SLOW_MS = Number(process.env.SLOW_MS ?? 2000);

/** Wall-clock ms with sub-millisecond precision, comparable across processes. */
const wallClock = () => performance.timeOrigin + performance.now();

const listen = (handler: (request: IncomingMessage, response: ServerResponse) => void) =>
  new Promise<number>((resolve) => {
    const server = createServer(handler);
    // A hanging receiver keeps its sockets: let the sender's timeout end them, not Node's.
    server.requestTimeout = 0;
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });

const requests = { recording: 0, hanging: 0, slow: 0 };
const arrivals: [string, number][][] = [];

const bodyOf = (request: IncomingMessage): Promise<string> =>
  new Promise((resolve) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });

const recording = (index: number) => {
  arrivals[index] = [];
  return async (request: IncomingMessage, response: ServerResponse) => {
    const body = await bodyOf(request);
    const at = wallClock();
    requests.recording += 1;
    response.writeHead(200, { 'content-type': 'text/plain' });
    response.end('ok');
    let eventId = '(unreadable)';
    try {
      eventId = String(JSON.parse(body).event_id);
    } catch {}
    arrivals[index]?.push([eventId, at]);
  };
};

const ports = {
  recording: await Promise.all(
    Array.from({ length: recordingCount }, (_, index) => listen(recording(index))),
  ),
  hanging: await Promise.all(
    Array.from({ length: hangingCount }, () =>
      listen((request) => {
        requests.hanging += 1;
        request.resume();
      }),
    ),
  ),
  slow: await Promise.all(
    Array.from({ length: slowCount }, () =>
      listen(async (request, response) => {
        await bodyOf(request);
        requests.slow += 1;
        setTimeout(() => {
          response.writeHead(200, { 'content-type': 'text/plain' });
          response.end('slow ok');
        }, SLOW_MS);
      }),
    ),
  ),
  control: await listen((request, response) => {
    const arrivalsOf = /^\/arrivals\/(\d+)$/.exec(request.url ?? '');
    const answer = arrivalsOf ? arrivals[Number(arrivalsOf[1])] : requests;
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify(answer ?? []));
  }),
};

console.log(`ready ${JSON.stringify(ports)}`);
