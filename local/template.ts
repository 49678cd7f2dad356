import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/**
 * The stack as synthesized: the one source of truth the local runtime runs
 * from. The synth runs in a child process (local/synth.ts) without bundling,
 * and its result is cached under node_modules/.cache/hookline, keyed by the
 * context and checked against the content of every project file the synth
 * loaded (plus cdk.json and the lockfile), so any edit to the stack, its
 * settings or the CDK version synthesizes again.
 */

export type CfnValue = unknown;

export interface CfnResource {
  Type: string;
  Properties?: Record<string, CfnValue>;
  Metadata?: Record<string, CfnValue>;
  DependsOn?: string | string[];
}

export interface CfnTemplate {
  Resources: Record<string, CfnResource>;
  Outputs?: Record<string, { Value: CfnValue; Description?: string }>;
  Parameters?: Record<string, CfnValue>;
}

export interface SynthesizedStack {
  stackName: string;
  template: CfnTemplate;
  /** How the template was had, for the start-up log. */
  source: { cached: boolean; ms: number };
}

const PROJECT_ROOT = fileURLToPath(new URL('../', import.meta.url));
const DEFAULT_CACHE_DIR = join(PROJECT_ROOT, 'node_modules', '.cache', 'hookline', 'templates');
/** Read by the synth without being imported. */
const ALWAYS_INPUTS = ['cdk.json', 'package-lock.json'];

interface CacheEntry {
  stackName: string;
  template: CfnTemplate;
  inputs: { path: string; sha256: string }[];
}

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

const hashInputs = (paths: readonly string[]) =>
  Promise.all(
    paths.map(async (path) => ({
      path,
      sha256: await readFile(join(PROJECT_ROOT, path)).then(sha256, () => 'missing'),
    })),
  );

const readCache = async (file: string): Promise<CacheEntry | undefined> => {
  const entry = await readFile(file, 'utf8').then(
    (text) => JSON.parse(text) as CacheEntry,
    () => undefined,
  );
  if (!entry) return undefined;
  const now = await hashInputs(entry.inputs.map((input) => input.path));
  const fresh = now.every((input, index) => input.sha256 === entry.inputs[index]?.sha256);
  return fresh ? entry : undefined;
};

const synthesize = async (context: Record<string, unknown>): Promise<CacheEntry> => {
  const dir = await mkdtemp(join(tmpdir(), 'hookline-template-'));
  try {
    const output = join(dir, 'stack.json');
    await promisify(execFile)(
      process.execPath,
      [join(PROJECT_ROOT, 'local', 'synth.ts'), JSON.stringify(context), output],
      { cwd: PROJECT_ROOT, maxBuffer: 16 * 1024 * 1024 },
    ).catch((error: Error & { stderr?: string }) => {
      throw new Error(`the stack refused its settings: ${error.stderr?.trim() || error.message}`);
    });
    const result = JSON.parse(await readFile(output, 'utf8')) as {
      stackName: string;
      template: CfnTemplate;
      inputs: string[];
    };
    return {
      stackName: result.stackName,
      template: result.template,
      inputs: await hashInputs([...new Set([...ALWAYS_INPUTS, ...result.inputs])].sort()),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
};

export const synthesizeStack = async (
  context: Record<string, unknown>,
  options: { cacheDir?: string } = {},
): Promise<SynthesizedStack> => {
  const started = performance.now();
  const cacheDir = options.cacheDir ?? DEFAULT_CACHE_DIR;
  const file = join(cacheDir, `${sha256(JSON.stringify(context)).slice(0, 32)}.json`);
  const cached = await readCache(file);
  const entry = cached ?? (await synthesize(context));
  if (!cached) {
    // Written whole, then renamed: parallel test processes never read half a file.
    await mkdir(cacheDir, { recursive: true });
    const partial = `${file}.${process.pid}.${Date.now()}`;
    await writeFile(partial, JSON.stringify(entry));
    await rename(partial, file);
  }
  return {
    stackName: entry.stackName,
    template: entry.template,
    source: { cached: cached !== undefined, ms: Math.round(performance.now() - started) },
  };
};
