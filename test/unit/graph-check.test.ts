import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkManifestAgainstGraph } from '../../lambdas/core/graph-check.js';
import { ModelManifestSchema, type TokenTextInput } from '../../lambdas/core/manifest.js';
import type { TensorInfo } from '../../lambdas/core/tensor.js';

const manifest = ModelManifestSchema.parse(
  JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../../models/reference/model.json'), 'utf8')),
);
// The reference graph's signature, as onnxruntime reports it.
const inputs: TensorInfo[] = [
  { name: 'image', type: 'float32', shape: ['batch', 3, 128, 128] },
  { name: 'input_ids', type: 'int64', shape: ['batch', 16] },
  { name: 'attention_mask', type: 'int64', shape: ['batch', 16] },
];
const outputs: TensorInfo[] = [
  { name: 'shape_logits', type: 'float32', shape: ['batch', 6] },
  { name: 'colors_logits', type: 'float32', shape: ['batch', 8] },
  { name: 'count', type: 'float32', shape: ['batch', 1] },
  { name: 'match_logit', type: 'float32', shape: ['batch', 1] },
  { name: 'mask_logits', type: 'float32', shape: ['batch', 1, 64, 64] },
  { name: 'objects_boxes', type: 'float32', shape: ['batch', 256, 4] },
  { name: 'objects_scores', type: 'float32', shape: ['batch', 256, 6] },
  { name: 'scene_logits', type: 'float32', shape: ['batch', 7, 64, 64] },
];

describe('Function: checkManifestAgainstGraph', () => {
  it('finds nothing wrong when the manifest matches the graph', () => {
    expect(checkManifestAgainstGraph(manifest, inputs, outputs)).toEqual([]);
  });

  it.each([
    {
      case: 'a misnamed output',
      edit: (m: typeof manifest) => ({
        ...m,
        tasks: m.tasks.map((t, i) => (i === 0 ? { ...t, output: 'logits' } : t)),
      }),
      expected:
        "tasks.0.output: 'logits' (task 'shape') is not an output of the model; its outputs are 'shape_logits', 'colors_logits', 'count', 'match_logit', 'mask_logits', 'objects_boxes', 'objects_scores', 'scene_logits'",
    },
    {
      case: 'a label count that differs from the output width',
      edit: (m: typeof manifest) => ({
        ...m,
        tasks: m.tasks.map((t) => (t.kind === 'multilabel' ? { ...t, labels: t.labels.slice(0, 7) } : t)),
      }),
      expected:
        "tasks.1.output: output 'colors_logits' has shape [batch, 8]; a multilabel task with 7 labels needs [batch, 7]",
    },
    {
      case: 'an input size that differs from the graph',
      edit: (m: typeof manifest) => ({ ...m, inputs: { ...m.inputs, image: { ...m.inputs.image, width: 224 } } }),
      expected:
        "inputs.image.tensor: input 'image' has shape [batch, 3, 128, 128]; the manifest implies [batch, 3, 128, 224]",
    },
    {
      case: 'a wrong layout',
      edit: (m: typeof manifest) => ({
        ...m,
        inputs: { ...m.inputs, image: { ...m.inputs.image, layout: 'nhwc' as const } },
      }),
      expected:
        "inputs.image.tensor: input 'image' has shape [batch, 3, 128, 128]; the manifest implies [batch, 128, 128, 3]",
    },
    {
      case: 'a text length that differs from the graph',
      edit: (m: typeof manifest) => ({ ...m, inputs: { ...m.inputs, text: { ...m.inputs.text, maxLength: 32 } } }),
      expected: "inputs.text.idsTensor: input 'input_ids' has shape [batch, 16]; the manifest implies [batch, 32]",
    },
    {
      case: 'a graph input the manifest does not feed',
      edit: (m: typeof manifest) => ({
        ...m,
        inputs: { ...m.inputs, text: { ...(m.inputs.text as TokenTextInput), attentionMaskTensor: undefined } },
      }),
      expected: "inputs: the model's input 'attention_mask' is not named anywhere in inputs of the manifest",
    },
  ])('reports $case with the field and what was expected', ({ edit, expected }) => {
    expect(checkManifestAgainstGraph(edit(manifest) as typeof manifest, inputs, outputs)).toContain(expected);
  });

  it('reports a wrong element type', () => {
    const intIds = inputs.map((t) => (t.name === 'input_ids' ? { ...t, type: 'int32' } : t));
    expect(checkManifestAgainstGraph(manifest, intIds, outputs)).toEqual([
      "inputs.text.idsTensor: input 'input_ids' has type int32; expected int64",
    ]);
  });
});
