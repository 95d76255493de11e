/**
 * A model of every task kind, for the tests that must see them all (the report, the SQL
 * columns): its manifest and a scripted engine that gives every pair the same raw outputs.
 * The model itself cannot be real here; the pipeline, the kinds, the store and the report are.
 */
import { ModelManifestSchema } from '../../lambdas/core/manifest.js';
import type { RuntimeModel } from '../../lambdas/core/pipeline.js';
import { float32, type InferenceEngine, type TensorData } from '../../lambdas/core/tensor.js';

export const allKindsManifest = ModelManifestSchema.parse({
  schemaVersion: 1,
  name: 'all-kinds',
  version: '1',
  maxBatchSize: 4,
  inputs: {
    image: { tensor: 'image', width: 32, height: 32, resize: 'stretch', mean: [0, 0, 0], std: [1, 1, 1] },
    text: { maxLength: 4, idsTensor: 'ids' },
  },
  tasks: [
    { name: 'kind', kind: 'classification', output: 'kind_logits', labels: ['photo', 'drawing'], topK: 2 },
    { name: 'tags', kind: 'multilabel', output: 'tags_logits', labels: ['red', 'round'] },
    { name: 'match', kind: 'score', output: 'match_logit', threshold: 0.5 },
    { name: 'count', kind: 'regression', output: 'count' },
    { name: 'mask', kind: 'segmentation', output: 'mask_logits', label: 'the object' },
    {
      name: 'objects',
      kind: 'detection',
      output: 'boxes',
      scores: 'box_scores',
      labels: ['cat', 'dog'],
      boxFormat: 'cxcywh',
      boxUnits: 'normalized',
      activation: 'sigmoid',
      scoreThreshold: 0.5,
      nms: { iou: 0.5, perClass: false },
    },
    {
      name: 'scene',
      kind: 'semantic-segmentation',
      output: 'scene_logits',
      labels: ['sky', 'cat', 'dog'],
      background: 'sky',
    },
    {
      name: 'heat',
      kind: 'map',
      output: 'heat',
      activation: 'sigmoid',
      range: [0, 1],
      tolerance: 0.3,
      label: 'object centres',
    },
    { name: 'embedding', kind: 'embedding', output: 'vec', normalize: true },
  ],
});

const plane = (h: number, w: number, f: (x: number, y: number) => number) =>
  Float32Array.from({ length: h * w }, (_, i) => f(i % w, Math.floor(i / w)));

/** One pair's raw outputs: an object in the top-left quarter, a cat, and a dog box that is not sure. */
const ONE_PAIR: Record<string, { data: Float32Array; dims: number[] }> = {
  kind_logits: { data: Float32Array.from([2, 0]), dims: [2] },
  tags_logits: { data: Float32Array.from([3, -3]), dims: [2] },
  match_logit: { data: Float32Array.from([1]), dims: [1] },
  count: { data: Float32Array.from([1.02]), dims: [1] },
  mask_logits: { data: plane(8, 8, (x, y) => (x < 4 && y < 4 ? 5 : -5)), dims: [1, 8, 8] },
  boxes: { data: Float32Array.from([0.25, 0.25, 0.5, 0.5, 0.26, 0.25, 0.5, 0.5, 0.75, 0.75, 0.3, 0.3]), dims: [3, 4] },
  box_scores: { data: Float32Array.from([4, -4, 3, -4, -4, -0.5]), dims: [3, 2] },
  scene_logits: {
    data: Float32Array.from([
      ...plane(8, 8, (x, y) => (x < 4 && y < 4 ? 0 : 3)),
      ...plane(8, 8, (x, y) => (x < 4 && y < 4 ? 3 : 0)),
      ...plane(8, 8, (x, y) => (x >= 5 && y >= 5 ? 4 : -1)),
    ]),
    dims: [3, 8, 8],
  },
  heat: { data: plane(8, 8, (x, y) => 4 - Math.hypot(x - 2, y - 2)), dims: [1, 8, 8] },
  vec: { data: Float32Array.from([3, 4, 0, 0]), dims: [4] },
};

/** The all-kinds model on a scripted engine (every pair gets ONE_PAIR's outputs). */
export function allKindsModel(): RuntimeModel {
  const engine: InferenceEngine = {
    name: 'cpu',
    inputs: [],
    outputs: [],
    async run(feeds) {
      const n = feeds.image.dims[0];
      const out: Record<string, TensorData> = {};
      for (const [name, { data, dims }] of Object.entries(ONE_PAIR)) {
        const batch = new Float32Array(n * data.length);
        for (let i = 0; i < n; i++) batch.set(data, i * data.length);
        out[name] = float32(batch, [n, ...dims]);
      }
      return out;
    },
    close: async () => undefined,
  };
  return {
    manifest: allKindsManifest,
    identity: { name: 'all-kinds', version: '1', sha256: '0'.repeat(64) },
    engine,
    text: { kind: 'ids', encode: () => [1, 2], padId: 0 },
    batchLimit: allKindsManifest.maxBatchSize,
  };
}
