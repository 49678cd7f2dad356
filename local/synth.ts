import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { registerHooks } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * A child process of the local runtime (local/template.ts): synthesizes the
 * stack without bundling and writes { template, inputs } as JSON to the path
 * in argv[3], for the context given as JSON in argv[2]. `inputs` are the
 * project files the synth loaded, so the caller knows when its cached template
 * is stale. Kept apart so aws-cdk-lib never loads into the runtime itself.
 */

const projectRoot = fileURLToPath(new URL('../', import.meta.url));
const loaded = new Set<string>();
registerHooks({
  resolve(specifier, context, nextResolve) {
    const resolved = nextResolve(specifier, context);
    if (resolved.url.startsWith('file:')) {
      const path = fileURLToPath(resolved.url);
      if (path.startsWith(projectRoot) && !path.includes('/node_modules/')) {
        loaded.add(path.slice(projectRoot.length));
      }
    }
    return resolved;
  },
});

const [contextJson = '{}', outputPath] = process.argv.slice(2);
if (!outputPath) throw new Error('usage: node local/synth.ts <context json> <output file>');
const { createApp } = await import('../lib/app.ts');
const outdir = await mkdtemp(join(tmpdir(), 'hookline-synth-'));
try {
  await synthesize(outputPath);
} catch (error) {
  // The stack's own words (a setting out of range, say), without a stack trace.
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
} finally {
  await rm(outdir, { recursive: true, force: true });
}

async function synthesize(output: string) {
  // cdk-nag is left to `cdk synth` and the stack test: it changes nothing in the template.
  const { app, stack } = createApp({
    context: JSON.parse(contextJson),
    outdir,
    bundle: false,
    nag: false,
  });
  const template = app.synth().getStackArtifact(stack.artifactId).template;
  await writeFile(
    output,
    JSON.stringify({ stackName: stack.stackName, template, inputs: [...loaded].sort() }),
  );
}
