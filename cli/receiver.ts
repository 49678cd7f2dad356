import { mkdir, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage } from 'node:http';
import { join, resolve } from 'node:path';
import {
  bodyFileName,
  deliveryOutput,
  type Headers,
  parseReceiverArgs,
  RECEIVER_USAGE,
  UsageError,
  verifySignatures,
} from './receiver-core.ts';

/**
 * `npm run receiver`: a webhook endpoint on this machine that shows what the
 * service sends and whether its signatures hold.
 */

const readBody = async (request: IncomingMessage): Promise<Buffer> => {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
};

/** Repeated headers arrive as arrays; HTTP says they mean the values joined by commas. */
const flatHeaders = (request: IncomingMessage): Headers =>
  Object.fromEntries(
    Object.entries(request.headers).map(([name, value]) => [
      name,
      Array.isArray(value) ? value.join(', ') : value,
    ]),
  );

const main = async (argv: string[]) => {
  const args = parseReceiverArgs(argv, process.env);
  if (args.help) return console.log(RECEIVER_USAGE);
  const { port, secret, status, raw } = args;
  const saveDir = args.save === undefined ? undefined : resolve(args.save);
  if (saveDir !== undefined) await mkdir(saveDir, { recursive: true });
  let unnamed = 0;
  const save = async (headers: Headers, body: Buffer): Promise<string | undefined> => {
    if (saveDir === undefined) return undefined;
    unnamed += 1;
    const file = join(
      saveDir,
      bodyFileName(headers) ?? `no-delivery-id-${Date.now()}-${unnamed}.body`,
    );
    await writeFile(file, body);
    return file;
  };

  const server = createServer(async (request, response) => {
    try {
      const body = await readBody(request);
      const headers = flatHeaders(request);
      const checks = secret === undefined ? undefined : verifySignatures(secret, body, headers);
      response.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
      // 204 and 304 answers carry no body.
      response.end(status === 204 || status === 304 ? undefined : `${status}\n`);
      const delivery = {
        method: request.method ?? 'GET',
        path: request.url ?? '/',
        headers,
        body,
      };
      const savedTo = await save(headers, body);
      process.stdout.write(deliveryOutput(delivery, checks, status, new Date(), { raw, savedTo }));
      process.stdout.write('\n');
    } catch (error) {
      console.error(`receiver: ${error instanceof Error ? error.message : error}`);
      if (!response.headersSent) response.writeHead(500).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const address = server.address();
  const actualPort = address !== null && typeof address === 'object' ? address.port : port;
  console.log(
    `Receiving webhooks at http://127.0.0.1:${actualPort}/ (any path), answering ${status}; ` +
      (secret ? 'checking signatures with the given secret.' : 'signatures not checked.') +
      (saveDir === undefined ? '' : ` Saving bodies in ${saveDir}.`),
  );
  const shutdown = () => {
    server.close();
    server.closeAllConnections();
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
};

try {
  await main(process.argv.slice(2));
} catch (error) {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof UsageError) {
    console.error(`receiver: ${message}\n\n${RECEIVER_USAGE}`);
    process.exitCode = 2;
  } else {
    const hint = /EADDRINUSE/.test(message) ? ' (another program has that port: try --port)' : '';
    console.error(`receiver: ${message}${hint}`);
    process.exitCode = 1;
  }
}
