import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AppContext, createApp } from '../../lib/app.ts';

/**
 * cfn-lint (Python: `pip install cfn-lint`) over the templates a deploy would
 * send, prod (cdk.json's defaults) and dev, synthesized without bundling.
 * .cfnlintrc.yaml is the one place a rule is ignored, with its reason. Where
 * cfn-lint is not installed the templates are still synthesized and read, and
 * one line says the lint did not run.
 */

const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CONFIG_FILE = join(PROJECT_ROOT, '.cfnlintrc.yaml');
const MISSING_LINE =
  'cfn-lint not found on PATH: skipping the template lint (pip install cfn-lint to run it)';

const VARIANTS = {
  prod: {},
  dev: { destroyOnRemoval: true, allowPrivateTargets: true, stackName: 'HooklineDev' },
} as const satisfies Record<string, AppContext>;
type Variant = keyof typeof VARIANTS;

/** One entry of `cfn-lint --format json`. */
interface Finding {
  Filename: string;
  Level: 'Error' | 'Warning' | 'Informational';
  Message: string;
  Location: { Path: readonly (string | number)[] };
  Rule: { Id: string };
}

type LintResult =
  | { status: 'missing' }
  | { status: 'linted'; findings: Finding[]; seconds: number };

/** cfn-lint's exit code is a bitmask of what it found: 2 errors, 4 warnings, 8 informational. */
const FINDING_BITS = 2 | 4 | 8;

/**
 * Lints templates in one cfn-lint run (most of a run is Python starting), with
 * the project's .cfnlintrc.yaml named explicitly, so neither the working
 * directory nor a ~/.cfnlintrc changes the outcome.
 */
const lintTemplates = (templates: readonly string[], env: NodeJS.ProcessEnv = process.env) =>
  new Promise<LintResult>((resolve, reject) => {
    const started = performance.now();
    execFile(
      'cfn-lint',
      ['--format', 'json', '--config-file', CONFIG_FILE, '--', ...templates],
      { cwd: PROJECT_ROOT, env, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const seconds = (performance.now() - started) / 1000;
        // 127: a shell wrapper (a pyenv shim) that found no cfn-lint behind it.
        if (error?.code === 'ENOENT' || error?.code === 127) return resolve({ status: 'missing' });
        const exitCode = error ? error.code : 0;
        if (typeof exitCode !== 'number' || (exitCode & ~FINDING_BITS) !== 0) {
          return reject(new Error(`cfn-lint failed (exit ${exitCode}): ${stderr || stdout}`));
        }
        try {
          resolve({ status: 'linted', findings: JSON.parse(stdout) as Finding[], seconds });
        } catch {
          reject(new Error(`cfn-lint printed no JSON (exit ${exitCode}): ${stderr || stdout}`));
        }
      },
    );
  });

/**
 * A template with one error cfn-lint must report and one warning the project
 * config ignores: proves the lint both runs its rules and reads .cfnlintrc.yaml.
 */
const CANARY_TEMPLATE = {
  Resources: {
    Dead: { Type: 'AWS::SQS::Queue' },
    Queue: {
      Type: 'AWS::SQS::Queue',
      DependsOn: ['Dead'],
      Properties: {
        VisibilityTimeout: 'thirty',
        RedrivePolicy: {
          deadLetterTargetArn: { 'Fn::GetAtt': ['Dead', 'Arn'] },
          maxReceiveCount: 5,
        },
      },
    },
  },
};

let outdir: string;
let canary: string;
const templates = {} as Record<Variant, string>;
let lint: LintResult;

const findingsIn = (template: string) =>
  lint.status === 'linted' ? lint.findings.filter((finding) => finding.Filename === template) : [];

beforeAll(async () => {
  outdir = await mkdtemp(join(tmpdir(), 'hookline-cfn-lint-'));
  for (const [variant, context] of Object.entries(VARIANTS) as [Variant, AppContext][]) {
    const variantOutdir = join(outdir, variant);
    await mkdir(variantOutdir);
    const { app, stack } = createApp({ context, outdir: variantOutdir, bundle: false, nag: false });
    templates[variant] = app.synth().getStackByName(stack.stackName).templateFullPath;
  }
  canary = join(outdir, 'canary.template.json');
  await writeFile(canary, JSON.stringify(CANARY_TEMPLATE));
  lint = await lintTemplates([templates.prod, templates.dev, canary]);
  console.log(
    lint.status === 'missing'
      ? MISSING_LINE
      : `cfn-lint: prod, dev and canary templates linted in ${lint.seconds.toFixed(1)} s`,
  );
});
afterAll(() => rm(outdir, { recursive: true, force: true }));

describe('cfn-lint on the synthesized templates', () => {
  it.each(Object.keys(VARIANTS) as Variant[])('%s: no errors or warnings', async (variant) => {
    const template = JSON.parse(await readFile(templates[variant], 'utf8'));
    expect(Object.keys(template.Resources ?? {}).length).toBeGreaterThan(0);
    expect(
      findingsIn(templates[variant]).map(
        (finding) => `${finding.Rule.Id} ${finding.Location.Path.join('/')}: ${finding.Message}`,
      ),
    ).toEqual([]);
  });

  it('reports what it finds, less the rules .cfnlintrc.yaml ignores', () => {
    if (lint.status === 'missing') return;
    expect(findingsIn(canary).map((finding) => [finding.Level, finding.Rule.Id])).toEqual([
      ['Error', 'E3012'],
    ]);
  });

  it('treats cfn-lint missing from PATH as not installed, not as a failure', async () => {
    await expect(lintTemplates([canary], { ...process.env, PATH: '' })).resolves.toEqual({
      status: 'missing',
    });
  });
});
