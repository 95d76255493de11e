/**
 * The app stages its layers and the GPU image's build context in temp folders; it removes them
 * when its process exits. The cloud assembly must not depend on them by then.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../lib/app.js';
import { removeStaged } from '../../lib/staging.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const context = JSON.parse(readFileSync(path.join(ROOT, 'cdk.json'), 'utf8')).context;

describe('staging folders', () => {
  const previousTmp = process.env.TMPDIR;
  afterEach(() => {
    process.env.TMPDIR = previousTmp;
  });

  it('leaves nothing in the temp folder once removed, and the assembly keeps every staged asset', () => {
    // Prepare: a temp folder of this test's own, so that only the app's staging lands there.
    const scratch = mkdtempSync(path.join(tmpdir(), 'fusebatch-staging-'));
    const outdir = mkdtempSync(path.join(tmpdir(), 'fusebatch-staging-out-'));
    process.env.TMPDIR = scratch;
    try {
      const { app, stack } = buildApp({
        context: { ...context, 'fusebatch:gpu.enabled': 'true', 'fusebatch:lambdaEngine': 'cpu' },
        outdir,
      });
      app.synth();
      const staged = readdirSync(scratch);
      // Act
      removeStaged();
      // Assess: the sharp layer, the engine layer and the image context were staged, then removed.
      expect(staged.map((d) => d.replace(/-[^-]+$/, '')).sort()).toEqual([
        'fusebatch-batch-image',
        'fusebatch-onnxruntime-layer',
        'fusebatch-sharp-layer',
      ]);
      expect(readdirSync(scratch)).toEqual([]);
      // ...and the assembly holds copies of all three.
      const manifest = JSON.parse(readFileSync(path.join(outdir, `${stack.stackName}.assets.json`), 'utf8')) as {
        files: Record<string, { source: { path: string } }>;
        dockerImages: Record<string, { source: { directory: string } }>;
      };
      const image = Object.values(manifest.dockerImages).map((d) => path.join(outdir, d.source.directory));
      expect(image).toHaveLength(1);
      expect(existsSync(path.join(image[0]!, 'Dockerfile'))).toBe(true);
      expect(existsSync(path.join(image[0]!, 'app', 'index.mjs'))).toBe(true);
      const layerFolders = Object.values(manifest.files)
        .map((f) => path.join(outdir, f.source.path, 'nodejs', 'node_modules'))
        .filter(existsSync)
        .map((modules) => readdirSync(modules).sort());
      expect(layerFolders).toContainEqual(expect.arrayContaining(['onnxruntime-node']));
      expect(layerFolders.some((names) => names.some((n) => n === '@img'))).toBe(true);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
      rmSync(outdir, { recursive: true, force: true });
    }
  }, 180_000);
});
