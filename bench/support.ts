import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = fileURLToPath(new URL('../', import.meta.url));
export const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));

export const percentile = (sorted: readonly number[], p: number): number => {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)] ?? Number.NaN;
};

export const summarise = (samples: readonly number[]) => {
  const sorted = [...samples].sort((a, b) => a - b);
  const round = (value: number) => Math.round(value * 1000) / 1000;
  return {
    count: sorted.length,
    p50: round(percentile(sorted, 50)),
    p90: round(percentile(sorted, 90)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted.at(-1) ?? Number.NaN),
    mean: round(sorted.reduce((sum, value) => sum + value, 0) / sorted.length),
  };
};

export interface Started {
  output: () => string;
  match: RegExpMatchArray;
  stop: () => Promise<void>;
}

/** Starts a Node process and waits for a line; the bench's servers run in processes of their own. */
export const startProcess = (
  args: string[],
  env: Record<string, string>,
  ready: RegExp,
): Promise<Started> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: PROJECT_ROOT,
      env: { ...process.env, ...env },
    });
    let output = '';
    const exited = new Promise<void>((done) => child.on('exit', () => done()));
    const timer = setTimeout(() => reject(new Error(`not ready after 30 s:\n${output}`)), 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const match = output.match(ready);
      if (match) {
        clearTimeout(timer);
        child.stdout.off('data', onData);
        child.stdout.on('data', () => undefined);
        resolve({
          output: () => output,
          match,
          stop: async () => {
            child.kill('SIGINT');
            await exited;
          },
        });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before ready:\n${output}`));
    });
  });

export const writeResults = async (name: string, results: unknown): Promise<string> => {
  await mkdir(RESULTS_DIR, { recursive: true });
  const file = `${RESULTS_DIR}${name}.json`;
  await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
  return file;
};

/** The machine a result was measured on; other work on it skews every number, the load says how much. */
export const machineInfo = (loadBefore: number | undefined) => ({
  cpus: cpus().length,
  model: cpus()[0]?.model,
  node: process.version,
  load_average_1m: { before: loadBefore, after: loadavg()[0] },
});

/** The 1-minute load average now, to pass to machineInfo when the run ends. */
export const loadNow = (): number | undefined => loadavg()[0];

export const machineLine = (machine: ReturnType<typeof machineInfo>): string =>
  `${machine.cpus} CPUs (${machine.model}), Node ${machine.node}, load average ${machine.load_average_1m.before?.toFixed(2)} before, ${machine.load_average_1m.after?.toFixed(2)} after`;
