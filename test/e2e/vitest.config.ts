import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import base from '../../vitest.config.ts';

/**
 * `npm run test:e2e`: only the end-to-end tests, with the project's test
 * settings otherwise. `npm test` runs them too (they match test/**\/*.test.ts),
 * against the embedded runtime.
 */
export default defineConfig({
  test: {
    ...base.test,
    root: fileURLToPath(new URL('../..', import.meta.url)),
    include: ['test/e2e/**/*.test.ts'],
  },
});
