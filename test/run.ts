import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * `npm test`: the whole suite, then the grants check over what it recorded.
 * While the suite runs, every local runtime writes each AWS call its
 * functions make (HOOKLINE_ACCESS_RECORD_DIR); test/grants/grants-used.test.ts
 * then holds the stack's grants to exactly those calls. Arguments go to the
 * first run (`npm test -- --reporter dot`).
 */

const root = fileURLToPath(new URL('../', import.meta.url));
const records = `${root}node_modules/.cache/hookline/access-records`;
rmSync(records, { recursive: true, force: true });
const env = { ...process.env, HOOKLINE_ACCESS_RECORD_DIR: records };
const vitest = (args: string[]) =>
  spawnSync(process.execPath, [`${root}node_modules/vitest/vitest.mjs`, 'run', ...args], {
    cwd: root,
    env,
    stdio: 'inherit',
  }).status ?? 1;

const suite = vitest(process.argv.slice(2));
if (suite !== 0) process.exit(suite);
process.exit(vitest(['--config', 'test/grants/vitest.config.ts']));
