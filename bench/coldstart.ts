import { execFileSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { createApp } from '../lib/app.ts';
import { readStackModel } from '../local/stack-model.ts';
import type { CfnTemplate } from '../local/template.ts';
import { loadNow, machineInfo, machineLine, summarise, writeResults } from './support.ts';

/**
 * `npm run bench:coldstart`: each function's bundle exactly as `cdk deploy`
 * ships it (esbuild through the stack, minified), its size, and its module
 * initialisation in a fresh Node process (import to ready, median of RUNS),
 * with and without --enable-source-maps, next to an empty handler bundled
 * the same way in the same run. Writes bench/results/coldstart.json.
 */

const RUNS = Number(process.env.BENCH_RUNS ?? 10);
const loadBefore = loadNow();
const ROOT = fileURLToPath(new URL('../', import.meta.url));
// Inside the project, so the bundles find @aws-sdk in node_modules as Lambda's runtime provides it.
const WORK = join(ROOT, 'node_modules', '.cache', 'hookline', 'coldstart');

const outdir = await mkdtemp(join(tmpdir(), 'hookline-coldstart-'));
const { app, stack } = createApp({ context: {}, outdir, bundle: true, nag: false });
const template = app.synth().getStackArtifact(stack.artifactId).template as CfnTemplate;
const model = readStackModel(stack.stackName, template, { region: 'us-east-1' });
const queueUrls = new Map(
  model.queues.map((queue) => [
    queue.logicalId,
    `https://sqs.us-east-1.amazonaws.com/0/${queue.name}`,
  ]),
);

await rm(WORK, { recursive: true, force: true });
await mkdir(WORK, { recursive: true });

/** Module init of one bundle: a fresh process, import, done; the time in ms. */
const initMs = (file: string, env: Record<string, string>, sourceMaps: boolean): number => {
  const script = `const t=performance.now();await import(${JSON.stringify(file)});process.stdout.write(String(performance.now()-t));`;
  const output = execFileSync(
    process.execPath,
    [...(sourceMaps ? ['--enable-source-maps'] : []), '--input-type=module', '-e', script],
    { env: { PATH: process.env.PATH ?? '', AWS_REGION: 'us-east-1', ...env }, encoding: 'utf8' },
  );
  return Number(output);
};

const measure = async (name: string, bundleDir: string, env: Record<string, string>) => {
  const dir = join(WORK, name);
  await cp(bundleDir, dir, { recursive: true });
  const file = join(dir, 'index.mjs');
  const size = (await stat(file)).size;
  const map = await stat(`${file}.map`).then(
    (found) => found.size,
    () => 0,
  );
  initMs(file, env, false); // the file system's cache warmed, as Lambda's would be
  const plain: number[] = [];
  const withMaps: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    plain.push(initMs(file, env, false));
    withMaps.push(initMs(file, env, true));
  }
  return {
    bundle_kb: Math.round(size / 102.4) / 10,
    source_map_kb: Math.round(map / 102.4) / 10,
    init_ms: summarise(plain),
    init_ms_with_source_maps: summarise(withMaps),
  };
};

const results: Record<string, unknown> = {};
for (const fn of model.functions) {
  const code = template.Resources[fn.logicalId]?.Properties?.Code as { S3Key: string };
  const hash = code.S3Key.replace(/\.zip$/, '');
  const environment = model.resolve(fn.environment, queueUrls) as Record<string, string>;
  results[fn.name] = await measure(fn.name, join(outdir, `asset.${hash}`), environment);
}

// The baseline: an empty handler through the same esbuild options.
const emptyDir = join(WORK, 'empty-source');
await mkdir(emptyDir, { recursive: true });
await writeFile(join(emptyDir, 'index.ts'), 'export const handler = async () => ({});\n');
await build({
  entryPoints: [join(emptyDir, 'index.ts')],
  bundle: true,
  minify: true,
  sourcemap: true,
  format: 'esm',
  platform: 'node',
  target: 'node24',
  outfile: join(emptyDir, 'out', 'index.mjs'),
  logLevel: 'silent',
});
results.empty = await measure('empty', join(emptyDir, 'out'), {});
await rm(outdir, { recursive: true, force: true });

const report = {
  measured_at: new Date().toISOString(),
  machine: machineInfo(loadBefore),
  runs: RUNS,
  goal: { bundle_kb: 500, init_ms: 150 },
  functions: results,
};
const file = await writeResults('coldstart', report);
const rows = Object.entries(results).map(([name, value]) => {
  const r = value as {
    bundle_kb: number;
    init_ms: { p50: number };
    init_ms_with_source_maps: { p50: number };
  };
  return `${name.padEnd(20)} ${String(r.bundle_kb).padStart(8)} KB   init p50 ${r.init_ms.p50.toFixed(1).padStart(7)} ms   with source maps ${r.init_ms_with_source_maps.p50.toFixed(1).padStart(7)} ms`;
});
console.log(rows.join('\n'));
console.log(machineLine(report.machine));
console.log(`written to ${file}`);
