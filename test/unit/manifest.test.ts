import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatIssues, ModelManifestSchema } from '../../lambdas/core/manifest.js';

const reference = JSON.parse(
  readFileSync(path.resolve(import.meta.dirname, '../../models/reference/model.json'), 'utf8'),
);

describe('Schema: ModelManifestSchema', () => {
  it('accepts the reference manifest and fills defaults', () => {
    // Act
    const manifest = ModelManifestSchema.parse(reference);
    // Assess
    expect(manifest.tasks.map((t) => t.kind)).toEqual([
      'classification',
      'multilabel',
      'regression',
      'score',
      'segmentation',
      'detection',
      'semantic-segmentation',
    ]);
    expect(manifest.inputs.image?.resizeKernel).toBe('lanczos3');
    expect(manifest.model).toBe('model.onnx');
  });

  it('reports every problem at once, each with its path', () => {
    // Prepare
    const broken = structuredClone(reference);
    broken.inputs.image.std = [0.25, 0, 0.25];
    broken.inputs.text.maxLength = -1;
    broken.tasks[0].labels = ['only-one'];
    broken.tasks[1].kind = 'multiclass';
    broken.tasks[2].name = 'Count';
    // Act
    const result = ModelManifestSchema.safeParse(broken);
    // Assess
    expect(result.success).toBe(false);
    const lines = formatIssues(result.error!);
    expect(lines.some((l) => l.startsWith('inputs.image.std:'))).toBe(true);
    expect(lines.some((l) => l.startsWith('inputs.text.maxLength:'))).toBe(true);
    expect(lines.some((l) => l.startsWith('tasks.0.labels:'))).toBe(true);
    expect(lines.some((l) => l.startsWith('tasks.1.kind:'))).toBe(true);
    expect(lines.some((l) => l.startsWith('tasks.2.name:'))).toBe(true);
  });

  it('rejects duplicate task names and a topK above the label count', () => {
    // Prepare
    const broken = structuredClone(reference);
    broken.tasks[1].name = 'shape';
    broken.tasks[0].topK = 7;
    // Act
    const lines = formatIssues(ModelManifestSchema.safeParse(broken).error!);
    // Assess
    expect(lines).toContain("tasks.1.name: duplicate task name 'shape'");
    expect(lines).toContain('tasks.0.topK: topK (7) exceeds the number of labels (6)');
  });

  it('accepts a second model with other tasks and no code of its own', () => {
    // Prepare
    const other = {
      schemaVersion: 1,
      name: 'other',
      version: '0.1',
      inputs: {
        image: {
          tensor: 'pixel_values',
          width: 224,
          height: 224,
          resize: 'cover',
          layout: 'nhwc',
          channelOrder: 'bgr',
          mean: [0.4, 0.4, 0.4],
          std: [0.2, 0.2, 0.2],
        },
        text: { maxLength: 32, idsTensor: 'ids' },
      },
      tasks: [
        { name: 'nsfw', kind: 'score', output: 'nsfw', activation: 'identity' },
        { name: 'tags', kind: 'multilabel', output: 'tags', labels: ['a', 'b'], threshold: 0.3 },
      ],
    };
    // Act
    const manifest = ModelManifestSchema.parse(other);
    // Assess
    expect(manifest.inputs.text).toMatchObject({ tokenizer: 'tokenizer.json' });
    expect(manifest.maxBatchSize).toBe(32);
  });
});
