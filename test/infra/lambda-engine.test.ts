/**
 * What each Lambda engine puts in the package (lib/lambda-engine.ts), read from the real
 * node_modules and from a folder laid out as onnxruntime-node's install script leaves it
 * when it has downloaded the CUDA and TensorRT providers.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolvePipelineConfig } from '../../lib/config.js';
import { enginePackaging, ortNodeLinuxBinaries } from '../../lib/lambda-engine.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

describe('Lambda engine packaging', () => {
  it('defaults to cpu, accepts wasm, and refuses engines Lambda cannot run', () => {
    expect(resolvePipelineConfig({}, {}).lambdaEngine).toBe('cpu');
    expect(resolvePipelineConfig({}, { 'fusebatch:lambdaEngine': 'wasm' }).lambdaEngine).toBe('wasm');
    expect(() => resolvePipelineConfig({ lambdaEngine: 'cuda' as 'cpu' }, {})).toThrow(/lambdaEngine/);
  });

  it('wasm: the two WebAssembly files beside the handler, onnxruntime-node left out, no engine layer', () => {
    const packaging = enginePackaging(ROOT, 'wasm', 'x86_64');
    expect(packaging.files.map((f) => f.to)).toEqual(['ort-wasm-simd-threaded.wasm', 'ort-wasm-simd-threaded.mjs']);
    expect(packaging.externalModules).toEqual(['onnxruntime-node']);
    expect(packaging.layerFiles).toEqual([]);
  });

  it.each([
    ['x86_64', 'x64'],
    ['arm64', 'arm64'],
  ] as const)(
    'cpu on %s: onnxruntime-node’s linux/%s binaries from node_modules in the layer, nothing of another platform, nothing beside the handler',
    (architecture, arch) => {
      const packaging = enginePackaging(ROOT, 'cpu', architecture);
      expect(packaging.files).toEqual([]);
      const layer = packaging.layerFiles.map((f) => f.to);
      // All under the layer's nodejs/node_modules, where Lambda's NODE_PATH looks.
      expect(layer.filter((f) => !f.startsWith('nodejs/node_modules/onnxruntime-'))).toEqual([]);
      const binaries = layer.filter((f) => f.includes('/bin/'));
      expect(binaries.map((f) => f.replace(/napi-v\d+/, 'napi-v*')).sort()).toEqual([
        `nodejs/node_modules/onnxruntime-node/bin/napi-v*/linux/${arch}/libonnxruntime.so.1`,
        `nodejs/node_modules/onnxruntime-node/bin/napi-v*/linux/${arch}/onnxruntime_binding.node`,
      ]);
      expect(packaging.layerFiles.every((f) => f.from === path.join(ROOT, f.to.replace(/^nodejs\//, '')))).toBe(true);
      expect(packaging.externalModules).toEqual(['onnxruntime-node']);
    },
  );

  it('cpu: leaves out provider libraries an install script put beside the CPU runtime', () => {
    // Prepare: linux/x64 as after onnxruntime-node's install script fetched CUDA 12 and TensorRT.
    const root = mkdtempSync(path.join(tmpdir(), 'fusebatch-ort-'));
    const dir = path.join(root, 'node_modules/onnxruntime-node/bin/napi-v6/linux/x64');
    mkdirSync(dir, { recursive: true });
    for (const f of [
      'libonnxruntime.so.1',
      'onnxruntime_binding.node',
      'libonnxruntime_providers_cuda.so',
      'libonnxruntime_providers_tensorrt.so',
      'libonnxruntime_providers_shared.so',
    ]) {
      writeFileSync(path.join(dir, f), 'x');
    }
    // Act
    const found = ortNodeLinuxBinaries(root, 'x86_64');
    // Assess
    expect(found).toEqual([
      'bin/napi-v6/linux/x64/libonnxruntime.so.1',
      'bin/napi-v6/linux/x64/onnxruntime_binding.node',
    ]);
    expect(() => ortNodeLinuxBinaries(root, 'arm64')).toThrow(
      /the cpu engine on arm64 needs onnxruntime-node's linux\/arm64 binaries/,
    );
  });
});
