/** init-model's drafts from graph signatures: inputs by type and rank, layouts from the dynamic axis, tasks by shape. */
import { describe, expect, it } from 'vitest';
import { draftManifest } from '../../lambdas/core/init-model.js';
import { ModelManifestSchema } from '../../lambdas/core/manifest.js';
import type { TensorInfo } from '../../lambdas/core/tensor.js';

const t = (name: string, type: string, shape: (number | string)[]): TensorInfo => ({ name, type, shape });
const identity = { name: 'm', model: 'model.onnx' };

describe('Function: draftManifest', () => {
  it('reads an NCHW image, token ids with their mask, and tasks of every output shape', () => {
    // Act
    const { manifest, notes } = draftManifest(
      [
        t('pixels', 'float32', ['n', 3, 224, 160]),
        t('ids', 'int64', ['n', 32]),
        t('attention_mask', 'int64', ['n', 32]),
      ],
      [
        t('logits', 'float32', ['n', 5]),
        t('logit', 'float32', ['n', 1]),
        t('depth', 'float32', ['n', 1, 56, 40]),
        t('classes', 'float32', ['n', 21, 56, 40]),
        t('scores', 'float32', ['n', 100]),
        t('boxes', 'float32', ['n', 100, 4]),
        t('labels', 'int64', ['n', 100]),
        t('vector', 'float32', ['n', 512]),
        t('weird', 'float32', ['n', 2, 3, 4, 5]),
      ],
      identity,
    );
    // Assess
    expect(manifest.inputs).toMatchObject({
      image: { tensor: 'pixels', width: 160, height: 224, layout: 'nchw' },
      text: { idsTensor: 'ids', attentionMaskTensor: 'attention_mask', maxLength: 32, layout: 'batch-first' },
    });
    expect((manifest.tasks as { name: string; kind: string }[]).map((task) => [task.name, task.kind])).toEqual([
      ['logits', 'classification'],
      ['logit', 'score'],
      ['depth', 'map'],
      ['classes', 'semantic-segmentation'],
      ['boxes', 'detection'],
      ['vector', 'embedding'],
    ]);
    expect((manifest.tasks as Record<string, unknown>[])[4]).toMatchObject({ scores: 'scores', classes: 'labels' });
    expect(notes).toContain("output 'weird' ([N, 2, 3, 4, 5]) matches no task kind: left out");
    // A draft is refused as it stands.
    expect(ModelManifestSchema.safeParse(manifest).success).toBe(false);
  });

  it('reads word vectors sequence-first when the batch is their second axis, an NHWC image of dynamic size, and lengths', () => {
    const { manifest, notes } = draftManifest(
      [
        t('img', 'float32', ['n', 'h', 'w', 3]),
        t('text', 'float32', [8, 'batch', 100]),
        t('lengths', 'int64', ['batch']),
      ],
      [t('out', 'float32', ['n', 1])],
      identity,
    );
    expect(manifest.inputs).toMatchObject({
      image: { tensor: 'img', layout: 'nhwc', width: 224, height: 224 },
      text: { tensor: 'text', maxLength: 8, layout: 'seq-first', lengthsTensor: 'lengths' },
    });
    expect(notes.some((n) => n.includes('224×224 is a guess'))).toBe(true);
    expect(notes.some((n) => n.includes('64 is a guess'))).toBe(false); // the length, 8, is fixed
    const dynamic = draftManifest([t('ids', 'int64', ['n', 'len'])], [t('out', 'float32', ['n', 1])], identity);
    expect(dynamic.manifest.inputs).toMatchObject({ text: { maxLength: 64 } });
    expect(dynamic.notes).toContain("inputs.text.maxLength: the graph's text length is dynamic; 64 is a guess");
  });

  it('validates once its TODOs are filled and its draft note is removed', () => {
    // Prepare
    const { manifest } = draftManifest(
      [t('image', 'float32', ['n', 3, 64, 64])],
      [t('task1', 'float32', ['n', 1, 32, 32]), t('cls', 'float32', ['n', 2])],
      identity,
    );
    const { draft: _, ...filled } = structuredClone(manifest);
    (filled.tasks as { labels?: string[] }[])[1].labels = ['cat', 'dog'];
    // Act
    const parsed = ModelManifestSchema.safeParse(filled);
    // Assess
    expect(parsed.success).toBe(true);
  });
});
