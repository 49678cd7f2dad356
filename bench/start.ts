import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startProcess, summarise, writeResults } from './support.ts';

/**
 * `npm run bench:start`: how long `node local/start.ts` takes from spawn to
 * serving, first on an empty data folder (creates tables and the dev key),
 * then restarting over it, both with the synthesized template cached; and a
 * start with the template cache emptied, which pays for `cdk synth`. Writes
 * bench/results/start.json.
 */
const RUNS = Number(process.env.BENCH_RUNS ?? 5);

const timeToReady = async (dataDir: string) => {
  const began = performance.now();
  const runtime = await startProcess(
    ['local/start.ts'],
    { PORT: '0', SQS_PORT: '0', DYNAMODB_PORT: '0', HOOKLINE_DATA_DIR: dataDir },
    /Ready in (\d+) ms/,
  );
  const wall = performance.now() - began;
  await runtime.stop();
  return { wall, reported: Number(runtime.match[1]) };
};

const TEMPLATE_CACHE = fileURLToPath(
  new URL('../node_modules/.cache/hookline/templates', import.meta.url),
);

const uncached: number[] = [];
for (let run = 0; run < Math.min(RUNS, 3); run++) {
  await rm(TEMPLATE_CACHE, { recursive: true, force: true });
  const dataDir = await mkdtemp(join(tmpdir(), 'hookline-start-bench-'));
  try {
    uncached.push((await timeToReady(dataDir)).wall);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

const fresh: number[] = [];
const restart: number[] = [];
const reported: number[] = [];
for (let run = 0; run < RUNS; run++) {
  const dataDir = await mkdtemp(join(tmpdir(), 'hookline-start-bench-'));
  try {
    const first = await timeToReady(dataDir);
    const second = await timeToReady(dataDir);
    fresh.push(first.wall);
    restart.push(second.wall);
    reported.push(first.reported, second.reported);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

const report = {
  measured_at: new Date().toISOString(),
  node: process.version,
  runs: RUNS,
  spawn_to_ready_ms: {
    empty_data_folder: summarise(fresh),
    restart: summarise(restart),
    // Includes the synth in a child process (aws-cdk-lib loaded, no bundling).
    empty_template_cache: summarise(uncached),
  },
  // What "Ready in N ms" printed: from process start, module loading included.
  printed_ready_ms: summarise(reported),
};
const file = await writeResults('start', report);
console.log(JSON.stringify(report, null, 2));
console.log(`written to ${file}`);
