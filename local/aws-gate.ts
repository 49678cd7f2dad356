import { randomUUID } from 'node:crypto';
import { Agent, createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import { PassThrough } from 'node:stream';
import { accessDenied, encodeAwsError } from './aws-errors.ts';
import { batchEntryFailures, limitError } from './aws-limits.ts';
import { type AwsService, accessKeyIdOf, operationOf, requestedAccess } from './aws-requests.ts';
import { close, listen } from './http-server.ts';
import type { PolicyEvaluator } from './iam.ts';

/**
 * The front door of a local AWS service: every request passes here before it
 * reaches the emulator (or the endpoint the user configured). A request signed
 * with a function's credentials is authorized against that function's role as
 * IAM would, and refused with AWS's own AccessDenied answer when the role does
 * not allow it; every request is held to the AWS limits the emulators do not
 * enforce. Requests signed with other credentials (an operator's CLI, a test)
 * are not checked for permissions, as an administrator's would pass.
 */

export interface AccessRecord {
  functionName: string;
  principalArn: string;
  action: string;
  resource: string;
  allowed: boolean;
}

export interface GateOptions {
  service: AwsService;
  host: string;
  port: number;
  /** Where allowed requests go: the emulator's own endpoint. */
  target: string;
  evaluator: PolicyEvaluator;
  where: { region: string; account: string };
  /** Each authorized (or refused) call of a function, for the grants-used check. */
  onAccess?: (record: AccessRecord) => void;
  log?: (line: string) => void;
}

const readBody = (incoming: IncomingMessage): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => resolve(Buffer.concat(chunks)));
    incoming.on('error', reject);
  });

const parseJson = (body: Buffer): unknown => {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
};

/** Where a forwarded answer goes: the client's response, or a capture. */
interface AnswerSink extends NodeJS.WritableStream {
  readonly writableFinished: boolean;
  writeHead(status: number, headers: IncomingMessage['headers']): unknown;
}

/** A response written into memory, for an answer the gate edits before it goes out. */
class Capture {
  status = 0;
  headers: IncomingMessage['headers'] = {};
  #chunks: Buffer[] = [];
  get body(): Buffer {
    return Buffer.concat(this.#chunks);
  }
  readonly response = Object.assign(new PassThrough(), {
    writeHead: (status: number, headers: IncomingMessage['headers']) => {
      this.status = status;
      this.headers = headers;
      return this.response;
    },
  });
  constructor() {
    this.response.on('data', (chunk: Buffer) => this.#chunks.push(chunk));
  }
}

export const startGate = async (options: GateOptions) => {
  const { service, evaluator, where } = options;
  const target = new URL(options.target);
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const log = options.log ?? (() => undefined);

  const answer = (
    response: ServerResponse,
    error: { status: number; code: string; message: string },
  ) => {
    const encoded = encodeAwsError(service, error);
    response.writeHead(encoded.status, { ...encoded.headers, 'x-amzn-requestid': randomUUID() });
    response.end(encoded.body);
  };

  /** The first refusal among the call's accesses, after recording them all. */
  const authorize = async (incoming: IncomingMessage, operation: string, body: unknown) => {
    const caller = evaluator.caller(accessKeyIdOf(incoming.headers.authorization) ?? '');
    if (!caller) return undefined;
    for (const access of requestedAccess(service, operation, body, where)) {
      const decision = await evaluator.decide(caller, access.action, access.resource);
      options.onAccess?.({
        functionName: caller.functionName,
        principalArn: caller.principalArn,
        ...access,
        allowed: decision.allowed,
      });
      if (!decision.allowed) {
        log(
          `AccessDenied: ${caller.functionName} may not ${access.action} on ${access.resource} (${decision.reason} deny)`,
        );
        return accessDenied(service, {
          principalArn: caller.principalArn,
          action: access.action,
          resource: access.resource,
        });
      }
    }
    return undefined;
  };

  const forward = (incoming: IncomingMessage, response: AnswerSink, body: Buffer) =>
    new Promise<void>((resolve, reject) => {
      const outgoing = request(
        {
          protocol: target.protocol,
          hostname: target.hostname,
          port: target.port,
          method: incoming.method,
          path: incoming.url,
          headers: { ...incoming.headers, 'content-length': String(body.length) },
          agent,
        },
        (answer) => {
          response.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(response);
          answer.on('end', resolve);
          answer.on('error', reject);
        },
      );
      outgoing.on('error', reject);
      // A client that goes away (a poller stopping its long poll) takes its upstream call with it.
      response.on('close', () => {
        if (!response.writableFinished) outgoing.destroy();
      });
      outgoing.end(body);
    });

  /**
   * A batch with entries AWS would fail one by one: the rest go on to the
   * emulator, and its answer comes back with those entries in `Failed`.
   */
  const forwardPartly = async (
    incoming: IncomingMessage,
    response: ServerResponse,
    parsed: { Entries: { Id: string }[] },
    failures: readonly { Id: string }[],
  ) => {
    const failedIds = new Set(failures.map((failure) => failure.Id));
    const rest = parsed.Entries.filter((entry) => !failedIds.has(entry.Id));
    let answer: { Successful?: unknown[]; Failed?: unknown[] } = { Successful: [], Failed: [] };
    if (rest.length > 0) {
      const captured = new Capture();
      await forward(
        incoming,
        captured.response,
        Buffer.from(JSON.stringify({ ...parsed, Entries: rest })),
      );
      if (captured.status !== 200) {
        response.writeHead(captured.status, captured.headers);
        response.end(captured.body);
        return;
      }
      answer = JSON.parse(captured.body.toString('utf8'));
    }
    const body = JSON.stringify({ ...answer, Failed: [...(answer.Failed ?? []), ...failures] });
    response.writeHead(200, {
      'content-type': 'application/x-amz-json-1.0',
      'x-amzn-requestid': randomUUID(),
    });
    response.end(body);
  };

  let stopping = false;
  const server = createServer((incoming, response) => {
    void (async () => {
      const body = await readBody(incoming);
      const operation = operationOf(incoming.headers['x-amz-target'] as string | undefined);
      if (operation) {
        const parsed = parseJson(body);
        const refusal =
          (await authorize(incoming, operation, parsed)) ?? limitError(service, operation, parsed);
        if (refusal) {
          answer(response, refusal);
          return;
        }
        const failures = batchEntryFailures(service, operation, parsed);
        if (failures.length > 0) {
          await forwardPartly(
            incoming,
            response,
            parsed as { Entries: { Id: string }[] },
            failures,
          );
          return;
        }
      }
      await forward(incoming, response, body);
    })().catch((error: unknown) => {
      // Nobody is left to answer when the client or the runtime went away first.
      if (stopping || incoming.destroyed || response.destroyed) {
        response.destroy();
        return;
      }
      log(`${service} gate: ${error instanceof Error ? error.message : String(error)}`);
      if (!response.headersSent) {
        answer(response, { status: 500, code: 'InternalFailure', message: 'local gate error' });
      } else response.destroy();
    });
  });
  server.keepAliveTimeout = 60_000;
  const port = await listen(server, options.port, options.host);
  return {
    endpoint: `http://${options.host}:${port}`,
    port,
    stop: async () => {
      stopping = true;
      await close(server);
      agent.destroy();
    },
  };
};
