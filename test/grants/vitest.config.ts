import { defineConfig } from 'vitest/config';

/** The second half of `npm test` (test/run.ts): the grants against the calls the suite made. */
export default defineConfig({
  test: {
    root: new URL('../../', import.meta.url).pathname,
    include: ['test/grants/**/*.grants.ts'],
    testTimeout: 60_000,
    allowOnly: false,
  },
});
