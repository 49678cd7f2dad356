import { parentPort, workerData } from 'node:worker_threads';
import * as v from 'valibot';
import { lambdaContext } from './lambda-context.ts';

/**
 * One function's execution environment: a worker thread whose environment
 * is exactly what the template gives the function plus what Lambda adds
 * (region, function name, the role's credentials), so the handler module
 * reads its configuration at import as it would on Lambda, apart from every
 * other function. Answers { type: 'ready' } once the handler is loaded (or
 * { type: 'init-failed', error }), then runs { type: 'invoke', id, event,
 * timeoutMs } and answers { type: 'result', id, ok, result | error }.
 */

const initSchema = v.object({
  entry: v.string(),
  functionName: v.string(),
  memoryMb: v.number(),
});
const invokeSchema = v.object({
  type: v.literal('invoke'),
  id: v.number(),
  event: v.unknown(),
  timeoutMs: v.number(),
});

export interface SerializedError {
  name: string;
  message: string;
  stack?: string | undefined;
}

const serialize = (error: unknown): SerializedError =>
  error instanceof Error
    ? { name: error.name, message: error.message, stack: error.stack }
    : { name: 'Error', message: String(error) };

const port = parentPort;
if (!port) throw new Error('function-host.ts runs as a worker thread');
const init = v.parse(initSchema, workerData);

try {
  const module: { handler?: unknown } = await import(init.entry);
  const { handler } = module;
  if (typeof handler !== 'function') throw new Error(`${init.entry} exports no handler`);
  port.on('message', (message: unknown) => {
    const request = v.parse(invokeSchema, message);
    const context = lambdaContext(init.functionName, request.timeoutMs, init.memoryMb);
    Promise.resolve()
      .then(() => handler(request.event, context))
      .then(
        (result: unknown) => port.postMessage({ type: 'result', id: request.id, ok: true, result }),
        (error: unknown) =>
          port.postMessage({ type: 'result', id: request.id, ok: false, error: serialize(error) }),
      );
  });
  port.postMessage({ type: 'ready' });
} catch (error) {
  port.postMessage({ type: 'init-failed', error: serialize(error) });
}
