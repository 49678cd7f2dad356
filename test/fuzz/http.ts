import { Agent, type IncomingHttpHeaders, request } from 'node:http';
import type { AnswerLike } from '../api/routes.ts';

/**
 * A raw HTTP client for hostile requests: any method, a path sent exactly as
 * written (no URL normalisation of `%2e%2e` or `//`), headers repeated or
 * named as the caller likes, a body on any method, bytes that are not UTF-8.
 */

export interface RawRequest {
  method: string;
  /** Path and query, already percent-encoded as they should go on the wire. */
  target: string;
  headers: readonly (readonly [string, string])[];
  body?: string | Buffer | undefined;
}

export interface RawAnswer extends AnswerLike {
  headers: IncomingHttpHeaders;
}

const agent = new Agent({ keepAlive: true, maxSockets: 4 });

export const closeRawClient = () => agent.destroy();

export const send = (baseUrl: string, raw: RawRequest): Promise<RawAnswer> =>
  new Promise((resolve, reject) => {
    const url = new URL(baseUrl);
    // A flat list keeps repeated names; with one, Node adds no Host of its own.
    const headers = ['host', url.host, ...raw.headers.flat()];
    if (raw.body !== undefined) headers.push('content-length', String(Buffer.byteLength(raw.body)));
    const outgoing = request(
      { host: url.hostname, port: url.port, method: raw.method, path: raw.target, headers, agent },
      (incoming) => {
        const chunks: Buffer[] = [];
        incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
        incoming.on('error', reject);
        incoming.on('end', () => {
          const header = (name: string) => {
            const value = incoming.headers[name.toLowerCase()];
            return Array.isArray(value) ? value.join(', ') : value;
          };
          resolve({
            status: incoming.statusCode ?? 0,
            headers: incoming.headers,
            contentType: header('content-type'),
            header,
            text: Buffer.concat(chunks).toString('utf8'),
          });
        });
      },
    );
    outgoing.on('error', reject);
    outgoing.end(raw.body);
  });
