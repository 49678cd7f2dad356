import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { quantiles } from './e2e-phases.ts';
import type { ProbeExchanges, ProbeSecond } from './e2e-probe.ts';
import { PROJECT_ROOT } from './support.ts';

/**
 * The local runtime for the end-to-end bench, in its own process, with its
 * whole output kept (startProcess drops stdout once ready): the pollers
 * print a line per batch with its size and the handler's time, which is
 * part of the evidence of where latency goes. With `profile`, the process
 * runs under --cpu-prof and with bench/e2e-probe.ts loaded, and what both
 * saw is summarised after it stops.
 */

export interface BenchRuntime {
  match: RegExpMatchArray;
  /** Wall-clock ms at spawn: the profile's time zero, near enough. */
  spawnedAt: number;
  lines(): string[];
  /** Stops the runtime; answers what the profiler and the probe saw, if they ran. */
  stop(): Promise<Profiled | undefined>;
}

export interface Profiled {
  cpu: CpuProfile;
  probe: { seconds: ProbeSecond[]; exchanges: ProbeExchanges };
}

export const startRuntime = async (
  env: Record<string, string>,
  ready: RegExp,
  profile: boolean,
): Promise<BenchRuntime> => {
  const profileDir = profile ? await mkdtemp(join(tmpdir(), 'hookline-e2e-prof-')) : undefined;
  const probeFile = profileDir && join(profileDir, 'probe.json');
  const args = [
    ...(profileDir
      ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, '--import', './bench/e2e-probe.ts']
      : []),
    'local/start.ts',
  ];
  const spawnedAt = performance.timeOrigin + performance.now();
  const child = spawn(process.execPath, args, {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...env, ...(probeFile ? { BENCH_PROBE_FILE: probeFile } : {}) },
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
  });
  const exited = new Promise<void>((done) => child.on('exit', () => done()));
  const match = await new Promise<RegExpMatchArray>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready after 30 s:\n${output}`)), 30_000);
    const check = () => {
      const found = output.match(ready);
      if (!found) return;
      clearTimeout(timer);
      child.stdout.off('data', check);
      resolve(found);
    };
    child.stdout.on('data', check);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before ready:\n${output}`));
    });
  });
  return {
    match,
    spawnedAt,
    lines: () => output.split('\n'),
    stop: async () => {
      child.kill('SIGINT');
      await exited;
      if (!profileDir || !probeFile) return undefined;
      try {
        const [file] = (await readdir(profileDir)).filter((name) => name.endsWith('.cpuprofile'));
        if (!file) throw new Error(`no CPU profile in ${profileDir}`);
        return {
          cpu: JSON.parse(await readFile(join(profileDir, file), 'utf8')) as CpuProfile,
          probe: JSON.parse(await readFile(probeFile, 'utf8')) as Profiled['probe'],
        };
      } finally {
        await rm(profileDir, { recursive: true, force: true });
      }
    },
  };
};

/** "12:00:01.234 delivery: batch of 3, 0 failed, 25 ms" lines, per function. */
export const batchStats = (lines: readonly string[]) => {
  const byFunction = new Map<string, { sizes: number[]; handlerMs: number[] }>();
  for (const line of lines) {
    const found = /^\S+ hookline-(\S+): batch of (\d+), \d+ failed, (\d+) ms$/.exec(line);
    if (!found) continue;
    const [, name = '', size = '', took = ''] = found;
    const stats = byFunction.get(name) ?? { sizes: [], handlerMs: [] };
    stats.sizes.push(Number(size));
    stats.handlerMs.push(Number(took));
    byFunction.set(name, stats);
  }
  return Object.fromEntries(
    [...byFunction].map(([name, { sizes, handlerMs }]) => [
      name,
      {
        batches: sizes.length,
        messages_per_batch: {
          mean: Math.round((sizes.reduce((sum, size) => sum + size, 0) / sizes.length) * 100) / 100,
          ...quantiles(sizes),
        },
        handler_ms: quantiles(handlerMs),
      },
    ]),
  );
};

export interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string };
  }[];
  samples: number[];
  timeDeltas: number[];
}

/** What the runtime's one thread did between `fromMs` and `toMs` after spawn, by package. */
export const summariseProfile = (profile: CpuProfile, fromMs: number, toMs: number) => {
  const owner = new Map(profile.nodes.map((node) => [node.id, ownerOf(node.callFrame)]));
  const totals = new Map<string, number>();
  let at = 0;
  let windowUs = 0;
  profile.samples.forEach((id, index) => {
    at += profile.timeDeltas[index] ?? 0;
    if (at < fromMs * 1000 || at > toMs * 1000) return;
    const delta = profile.timeDeltas[index] ?? 0;
    windowUs += delta;
    const name = owner.get(id) ?? '(unknown)';
    totals.set(name, (totals.get(name) ?? 0) + delta);
  });
  const share = (us: number) => Math.round((us / windowUs) * 1000) / 10;
  const idle = totals.get('(idle)') ?? 0;
  return {
    window_seconds: Math.round(windowUs / 1e5) / 10,
    event_loop_busy_percent: share(windowUs - idle),
    percent_of_window_by_owner: Object.fromEntries(
      [...totals]
        .sort(([, a], [, b]) => b - a)
        .slice(0, 14)
        .map(([name, us]) => [name, share(us)]),
    ),
  };
};

const ownerOf = ({ functionName, url }: { functionName: string; url: string }): string => {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  if (url.startsWith('node:')) return 'node internals';
  // The innermost package: a dependency nested in another's node_modules is its own owner.
  const modules = [...url.matchAll(/node_modules\/((@[^/]+)\/)?([^/]+)/g)].at(-1);
  if (modules)
    return modules[2] === '@aws-sdk' || modules[2] === '@smithy'
      ? `${modules[2]}/*`
      : `${modules[1] ?? ''}${modules[3]}`;
  const own = /\/(functions|local|lib)\//.exec(url);
  return own ? `hookline ${own[1]}/` : url;
};

/** What the probe saw between two wall-clock times; exchanges also per event sent. */
export const summariseProbe = (
  probe: Profiled['probe'],
  from: number,
  to: number,
  events: number,
) => {
  const seconds = probe.seconds.filter(({ at }) => at > from && at <= to + 1000);
  const mean = (values: number[]) =>
    Math.round((values.reduce((sum, value) => sum + value, 0) / values.length) * 10) / 10;
  return {
    event_loop: {
      busy_percent_mean: mean(seconds.map(({ busy }) => busy * 100)),
      busy_percent_by_second: quantiles(seconds.map(({ busy }) => busy * 100)),
      timer_delay_p99_ms_by_second: quantiles(seconds.map(({ delayP99Ms }) => delayP99Ms)),
      timer_delay_max_ms: Math.max(...seconds.map(({ delayMaxMs }) => delayMaxMs)),
    },
    exchanges: Object.fromEntries(
      Object.entries(probe.exchanges)
        .map(([key, list]) => {
          const inWindow = list.filter(([at]) => at >= from && at <= to);
          return [
            key,
            {
              per_event: Math.round((inWindow.length / events) * 100) / 100,
              ms: quantiles(inWindow.map(([, ms]) => ms)),
            },
          ] as const;
        })
        .filter(([, { ms }]) => ms.count > 0)
        .sort(([a], [b]) => a.localeCompare(b)),
    ),
  };
};
