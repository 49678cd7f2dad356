import type fc from 'fast-check';

/**
 * How many cases the fuzz suites run, and from which seed. Each run draws a
 * new seed, which fast-check prints with the failing case's path when a
 * property fails; `FUZZ_SEED=<seed> FUZZ_PATH=<path>` replays exactly that
 * case. `FUZZ_RUNS_SCALE` multiplies every suite's number of runs (0.2 for a
 * quick look, 10 for a long hunt); the defaults fit two cores in seconds.
 */
export const fuzzParameters = <T>(defaultRuns: number): fc.Parameters<T> => {
  const scale = Number(process.env.FUZZ_RUNS_SCALE ?? '1');
  const seed = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
  return {
    numRuns: Math.max(1, Math.round(defaultRuns * (Number.isFinite(scale) ? scale : 1))),
    ...(seed === undefined || !Number.isFinite(seed) ? {} : { seed }),
    ...(process.env.FUZZ_PATH ? { path: process.env.FUZZ_PATH } : {}),
  };
};
