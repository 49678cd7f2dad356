import { readFileSync } from 'node:fs';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as v from 'valibot';

/**
 * Where a running local runtime listens, kept in its data folder (next to the
 * dev key) from the moment it is ready until it stops, so that the CLIs (emit,
 * dlq, keys) find it on whatever ports it got. One definition of the file for
 * the runtime that writes it and the CLIs that read it.
 */

const endpointsSchema = v.object({
  /** The process that runs the runtime: a file whose process is gone is stale. */
  pid: v.pipe(v.number(), v.integer(), v.minValue(1)),
  started_at: v.string(),
  /** The API's base, `.../api/v1`. */
  api: v.string(),
  sqs: v.string(),
  dynamodb: v.string(),
  /** The stack's outputs resolved to the local resources: queue URLs, table names. */
  outputs: v.record(v.string(), v.string()),
});

export type RuntimeEndpoints = v.InferOutput<typeof endpointsSchema>;

/** The data folder `npm start` uses: $HOOKLINE_DATA_DIR, else `.hookline` here; empty: in memory, none. */
export const dataDirFrom = (env: NodeJS.ProcessEnv, cwd = process.cwd()): string | undefined =>
  env.HOOKLINE_DATA_DIR === '' ? undefined : (env.HOOKLINE_DATA_DIR ?? join(cwd, '.hookline'));

export const endpointsFilePath = (dataDir: string): string => join(dataDir, 'endpoints.json');

/** Written whole or not at all: a CLI never reads half a file. */
export const writeEndpointsFile = async (
  dataDir: string,
  endpoints: RuntimeEndpoints,
): Promise<void> => {
  const file = endpointsFilePath(dataDir);
  const partial = `${file}.${endpoints.pid}.tmp`;
  await writeFile(partial, `${JSON.stringify(endpoints, null, 2)}\n`);
  await rename(partial, file);
};

/** Removes the file if this process wrote it, so a stopping runtime never removes a newer one's. */
export const removeEndpointsFile = async (dataDir: string): Promise<void> => {
  const file = endpointsFilePath(dataDir);
  const text = await readFile(file, 'utf8').catch(() => undefined);
  if (text === undefined) return;
  const parsed = v.safeParse(endpointsSchema, safeJson(text));
  if (parsed.success && parsed.output.pid !== process.pid) return;
  await rm(file, { force: true });
};

/** The file is there but names no running runtime, or cannot be read. */
export class StaleEndpointsFileError extends Error {
  override readonly name = 'StaleEndpointsFileError';
}

/**
 * What the runtime that wrote the file in `dataDir` listens on; undefined
 * when there is no file. Synchronous: the CLIs read it once, at start.
 */
export const readEndpointsFile = (
  dataDir: string,
): { file: string; endpoints: RuntimeEndpoints } | undefined => {
  const file = endpointsFilePath(dataDir);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    const reason = error instanceof Error ? error.message : String(error);
    throw new StaleEndpointsFileError(`cannot read ${file}: ${reason}`);
  }
  const parsed = v.safeParse(endpointsSchema, safeJson(text));
  if (!parsed.success) {
    throw new StaleEndpointsFileError(
      `${file} is not a local runtime's endpoints file; delete it, and start the runtime again (npm start)`,
    );
  }
  const endpoints = parsed.output;
  if (!isRunning(endpoints.pid)) {
    throw new StaleEndpointsFileError(
      `${file} names a local runtime (pid ${endpoints.pid}, started ${endpoints.started_at}) that is no longer running: start it again (npm start), or delete the file`,
    );
  }
  return { file, endpoints };
};

const safeJson = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

const isRunning = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return errorCode(error) === 'EPERM';
  }
};

const errorCode = (error: unknown): unknown =>
  typeof error === 'object' && error !== null && 'code' in error ? error.code : undefined;
