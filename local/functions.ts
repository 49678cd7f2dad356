import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Context } from 'aws-lambda';
import type { SerializedError } from './function-host.ts';

/**
 * A function of the stack, run locally in its own worker thread
 * (local/function-host.ts) with the environment the template gives it. The
 * handler callable from here has Lambda's signature, so the gateway and the
 * event source pollers invoke it as they would the module's own export.
 */

export interface LocalFunctionOptions {
  name: string;
  /** The handler file, absolute. */
  entry: string;
  memoryMb: number;
  /** The whole environment of the function: nothing of this process's leaks in. */
  environment: Record<string, string>;
  /** Each line the function writes to stdout or stderr (its CloudWatch log). */
  log?: (line: string) => void;
}

export class FunctionError extends Error {
  constructor(error: SerializedError) {
    super(error.message);
    this.name = error.name;
    if (error.stack) this.stack = error.stack;
  }
}

type HostMessage =
  | { type: 'ready' }
  | { type: 'init-failed'; error: SerializedError }
  | { type: 'result'; id: number; ok: true; result: unknown }
  | { type: 'result'; id: number; ok: false; error: SerializedError };

export interface LocalFunction {
  name: string;
  handler<E, R>(event: E, context: Context): Promise<R>;
  stop(): Promise<void>;
}

/** Starts the function's environment and waits for its module to load (its cold start). */
export const startFunction = (options: LocalFunctionOptions): Promise<LocalFunction> =>
  new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./function-host.ts', import.meta.url), {
      workerData: {
        entry: pathToFileURL(options.entry).href,
        functionName: options.name,
        memoryMb: options.memoryMb,
      },
      env: options.environment,
      stdout: true,
      stderr: true,
      // The function's memory setting bounds its heap, as Lambda's bounds the whole sandbox.
      resourceLimits: { maxOldGenerationSizeMb: options.memoryMb },
    });
    for (const stream of [worker.stdout, worker.stderr]) {
      const lines = createInterface({ input: stream });
      lines.on('line', (line) => options.log?.(line));
    }
    const pending = new Map<
      number,
      { resolve(value: unknown): void; reject(error: Error): void }
    >();
    let nextId = 0;
    let exited: Error | undefined;
    worker.on('error', (error) => {
      exited = error;
      for (const call of pending.values()) call.reject(error);
      pending.clear();
      reject(error);
    });
    worker.on('exit', (code) => {
      exited ??= new Error(`${options.name}: runtime exited with code ${code}`);
      for (const call of pending.values()) call.reject(exited);
      pending.clear();
    });
    worker.on('message', (message: HostMessage) => {
      if (message.type === 'init-failed') {
        void worker.terminate();
        reject(new FunctionError(message.error));
        return;
      }
      if (message.type === 'ready') {
        resolve({
          name: options.name,
          handler: <E, R>(event: E, context: Context) =>
            new Promise<R>((done, fail) => {
              if (exited) {
                fail(exited);
                return;
              }
              const id = nextId++;
              pending.set(id, { resolve: done as (value: unknown) => void, reject: fail });
              worker.postMessage({
                type: 'invoke',
                id,
                event,
                timeoutMs: context.getRemainingTimeInMillis(),
              });
            }),
          stop: async () => {
            await worker.terminate();
          },
        });
        return;
      }
      const call = pending.get(message.id);
      if (!call) return;
      pending.delete(message.id);
      if (message.ok) call.resolve(message.result);
      else call.reject(new FunctionError(message.error));
    });
  });
