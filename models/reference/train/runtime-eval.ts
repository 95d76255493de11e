/**
 * The reference model's card metrics, computed by fusebatch itself: `infer --truth` over a
 * folder written by train.py (pairs/, masks/, scenes/, truth.jsonl), so the build scores each
 * task with its kind's own metric (lambdas/core/kinds/), the same rule `infer --truth` and the
 * report use. Mapped to the keys of metrics.json that write_card.py reads.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { infer } from '../../../cli/infer.js';
import type { TaskMetrics } from '../../../lambdas/core/evaluation.js';

export async function evaluateWithRuntime(bundle: string, data: string): Promise<Record<string, unknown>> {
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'fusebatch-card-'));
  try {
    const summary = await infer({
      model: bundle,
      input: path.join(data, 'pairs'),
      out: path.join(scratch, 'records.jsonl'),
      truth: path.join(data, 'truth.jsonl'),
      engine: 'cpu',
      threads: 2,
      progress: false,
    });
    if (summary.errors)
      throw new Error(`${summary.errors} pairs of ${data} could not run: ${JSON.stringify(summary.errorsByCode)}`);
    const m = Object.fromEntries((summary.metrics ?? []).map((t) => [t.task, t])) as Record<string, TaskMetrics>;
    const more = (task: string, key: string) => m[task].more?.[key] as number;
    const labels = (prefix: string, task: string) =>
      Object.keys(m[task].more ?? {})
        .filter((k) => k.startsWith(prefix))
        .map((k) => k.slice(prefix.length));
    return {
      pairs: summary.pairs,
      shape_accuracy: m.shape.value,
      colors_micro_f1: m.colors.value,
      count_accuracy: m.count.value,
      match_accuracy: m.match.value,
      mask_mean_iou: m.mask.value,
      mask_nonempty_pairs: m.mask.pairs - more('mask', 'empty_targets'),
      mask_empty_pairs: more('mask', 'empty_targets'),
      mask_empty_predicted_empty: more('mask', 'empty_predicted_empty'),
      objects_map50: m.objects.value,
      objects_map50_95: more('objects', 'map_50_95'),
      objects_per_class: Object.fromEntries(
        labels('ap_50_95_', 'objects').map((l) => [
          l,
          { ap50: more('objects', `ap_50_${l}`), ap50_95: more('objects', `ap_50_95_${l}`) },
        ]),
      ),
      scene_mean_iou: m.scene.value,
      scene_iou_per_class: Object.fromEntries(labels('iou_', 'scene').map((l) => [l, more('scene', `iou_${l}`)])),
    };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
