/**
 * lambdas/ is what ships (the Lambda and Batch bundles are built from its entry points): it must
 * not reach into the commands (cli/) or local mode (local/), nor import a package that only they,
 * the CDK app or the tests use. The bundles' own tests check what they carry; this keeps the tree
 * honest before anything is bundled.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const NOT_SHIPPED_PACKAGES = [
  'aws-cdk-lib',
  'constructs',
  'cdk-nag',
  's3rver',
  '@duckdb/node-api',
  'commander',
  'cli-progress',
  'playwright-core',
  'tsx',
  'vitest',
];
/** Runs the engine thread from TypeScript source through tsx (tests, the CLI); bundles ship engine-worker.mjs. */
const SOURCE_RUN_ONLY = new Set(['lambdas/adapters/engines/engine-worker-tsx.mjs']);
const IMPORT_SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])([^'"]+)\1/g;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(full);
    return /\.(ts|mts|mjs)$/.test(e.name) ? [full] : [];
  });
}

function importsOf(file: string): string[] {
  return [...readFileSync(file, 'utf8').matchAll(IMPORT_SPECIFIER)].map((m) => m[2]);
}

describe('Source layout: lambdas/ holds only what ships', () => {
  const files = sourceFiles(path.join(root, 'lambdas'));

  it('finds the runtime tree', () => {
    expect(files.map((f) => path.relative(root, f))).toEqual(
      expect.arrayContaining(['lambdas/entry/worker.ts', 'lambdas/entry/batch-worker.ts', 'lambdas/core/pipeline.ts']),
    );
  });

  it('imports nothing from cli/ or local/', () => {
    const reaching = files.flatMap((file) =>
      importsOf(file)
        .filter((s) => s.startsWith('.'))
        .map((s) => path.relative(root, path.resolve(path.dirname(file), s)))
        .filter((target) => target.startsWith(`cli${path.sep}`) || target.startsWith(`local${path.sep}`))
        .map((target) => `${path.relative(root, file)} -> ${target}`),
    );
    expect(reaching).toEqual([]);
  });

  it('imports no package that only the commands, local mode, the CDK app or the tests use', () => {
    const offending = files
      .filter((file) => !SOURCE_RUN_ONLY.has(path.relative(root, file)))
      .flatMap((file) =>
        importsOf(file)
          .filter((s) => NOT_SHIPPED_PACKAGES.some((p) => s === p || s.startsWith(`${p}/`)))
          .map((s) => `${path.relative(root, file)} -> ${s}`),
      );
    expect(offending).toEqual([]);
  });
});
