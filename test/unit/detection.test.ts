/**
 * The detection kind on hand-computed tensors: box formats and units, the way back through
 * stretch, letterbox and crop, thresholds, NMS, the cap and the order; the graph check; and
 * COCO's average precision.
 */
import { describe, expect, it } from 'vitest';
import { checkManifestAgainstGraph } from '../../lambdas/core/graph-check.js';
import { averagePrecision, type DetectionTask } from '../../lambdas/core/kinds/detection.js';
import { type DecodeContext, kindOf } from '../../lambdas/core/kinds/index.js';
import { ModelManifestSchema, TaskSchema } from '../../lambdas/core/manifest.js';
import { placementFor, type Size } from '../../lambdas/core/placement.js';

const detectionTask = (over: object = {}) =>
  TaskSchema.parse({
    name: 'objects',
    kind: 'detection',
    output: 'boxes',
    scores: 'scores',
    labels: ['cat', 'dog'],
    scoreThreshold: 0.5,
    ...over,
  }) as DetectionTask;

const input: Size = { width: 100, height: 100 };
const ctx = (original: Size = input, mode: 'stretch' | 'contain' | 'cover' = 'stretch'): DecodeContext => ({
  original,
  input,
  placement: placementFor(mode, original, input),
  maskFormat: 'png',
  saveDense: async () => null,
});
const slice = (values: number[], dims: number[]) => ({ values: Float32Array.from(values), dims });

/** Decodes K boxes with per-class scores [K, C]. */
const decode = (task: DetectionTask, boxes: number[][], scores: number[][], c = ctx()) =>
  kindOf(task).decode(
    task,
    [slice(boxes.flat(), [boxes.length, 4]), slice(scores.flat(), [scores.length, scores[0].length])],
    c,
  );

describe('Kind: detection decoding', () => {
  it.each([
    ['xyxy', 'pixels', [10, 20, 50, 60]],
    ['xywh', 'pixels', [10, 20, 40, 40]],
    ['cxcywh', 'pixels', [30, 40, 40, 40]],
    ['xyxy', 'normalized', [0.1, 0.2, 0.5, 0.6]],
    ['cxcywh', 'normalized', [0.3, 0.4, 0.4, 0.4]],
  ])('reads %s boxes in %s as the same box', async (boxFormat, boxUnits, box) => {
    // Act
    const result = await decode(detectionTask({ boxFormat, boxUnits }), [box], [[0.9, 0.1]]);
    // Assess
    expect(result).toEqual([{ label: 'cat', score: 0.9, box: { x: 10, y: 20, width: 40, height: 40 } }]);
  });

  it('maps boxes back through a letterbox (contain) on a wide image, clips to it and drops boxes in the padding', async () => {
    // A 200×100 image letterboxed into 100×100: scale 0.5, 25 px of padding above and below.
    const result = await decode(
      detectionTask(),
      [
        [10, 35, 30, 45], // inside the image
        [0, 0, 50, 40], // reaches into the top padding: clipped at y = 0
        [0, 0, 10, 20], // wholly in the padding
      ],
      [
        [0.9, 0],
        [0.8, 0],
        [0.7, 0],
      ],
      ctx({ width: 200, height: 100 }, 'contain'),
    );
    expect(result).toEqual([
      { label: 'cat', score: 0.9, box: { x: 20, y: 20, width: 40, height: 20 } },
      { label: 'cat', score: 0.8, box: { x: 0, y: 0, width: 100, height: 30 } },
    ]);
  });

  it('maps boxes back through a centre crop (cover) on a wide image, clipped to the image', async () => {
    // A 200×100 image covered into 100×100: scale 1, 50 px cut away on the left and the right.
    const result = await decode(
      detectionTask(),
      [
        [10, 10, 60, 30],
        [90, 0, 100, 100],
      ],
      [
        [0, 0.9],
        [0, 0.6],
      ],
      ctx({ width: 200, height: 100 }, 'cover'),
    );
    expect(result).toEqual([
      { label: 'dog', score: 0.9, box: { x: 60, y: 10, width: 50, height: 20 } },
      { label: 'dog', score: 0.6, box: { x: 140, y: 0, width: 10, height: 100 } },
    ]);
  });

  it('stretches boxes back on each axis separately', async () => {
    const result = await decode(detectionTask(), [[10, 10, 20, 20]], [[0.9, 0]], ctx({ width: 50, height: 300 }));
    expect(result[0].box).toEqual({ x: 5, y: 30, width: 5, height: 30 });
  });

  it('keeps scores at or above the threshold, after the activation, best first, ties in label order', async () => {
    // Sigmoid of logit 0 is 0.5 (kept), of -1 is 0.27 (dropped); the two 0.73 tie: cat first.
    const result = await decode(
      detectionTask({ activation: 'sigmoid' }),
      [
        [0, 0, 10, 10],
        [20, 20, 30, 30],
      ],
      [
        [0, 1],
        [1, -1],
      ],
    );
    expect(result.map((d) => [d.label, d.score, d.box.x])).toEqual([
      ['cat', 0.731059, 20],
      ['dog', 0.731059, 0],
      ['cat', 0.5, 0],
    ]);
  });

  it('takes softmax over the labels of each box', async () => {
    const result = await decode(detectionTask({ activation: 'softmax' }), [[0, 0, 10, 10]], [[Math.log(3), 0]]);
    expect(result).toEqual([{ label: 'cat', score: 0.75, box: { x: 0, y: 0, width: 10, height: 10 } }]);
  });

  it('suppresses overlapping boxes with NMS, per label or across labels, and caps the count', async () => {
    // Boxes 0 and 1 overlap with IoU 0.81 (> 0.5); box 2 overlaps neither.
    const boxes = [
      [0, 0, 10, 10],
      [0, 0, 9, 9],
      [50, 50, 60, 60],
    ];
    const scores = [
      [0.9, 0],
      [0, 0.8],
      [0.7, 0],
    ];
    // Act
    const none = await decode(detectionTask(), boxes, scores);
    const perLabel = await decode(detectionTask({ nms: { iou: 0.5, perClass: true } }), boxes, scores);
    const across = await decode(detectionTask({ nms: { iou: 0.5, perClass: false } }), boxes, scores);
    const capped = await decode(detectionTask({ nms: { perClass: false }, maxDetections: 1 }), boxes, scores);
    // Assess
    expect(none.map((d) => d.score)).toEqual([0.9, 0.8, 0.7]);
    expect(perLabel.map((d) => d.score)).toEqual([0.9, 0.8, 0.7]); // different labels never suppress
    expect(across.map((d) => d.score)).toEqual([0.9, 0.7]);
    expect(capped.map((d) => d.score)).toEqual([0.9]);
  });

  it('reads integer labels beside scores [K], and a one-label detector from scores alone', async () => {
    // Prepare
    const withClasses = detectionTask({ classes: 'labels' });
    const single = detectionTask({ labels: ['face'] });
    const boxes = slice([0, 0, 10, 10, 20, 20, 40, 40], [2, 4]);
    // Act
    const labelled = await kindOf(withClasses).decode(
      withClasses,
      [boxes, slice([0.6, 0.9], [2]), slice([1, 0], [2])],
      ctx(),
    );
    const faces = await kindOf(single).decode(single, [boxes, slice([0.6, 0.2], [2])], ctx());
    // Assess
    expect(labelled.map((d) => [d.label, d.score])).toEqual([
      ['cat', 0.9],
      ['dog', 0.6],
    ]);
    expect(faces.map((d) => [d.label, d.score])).toEqual([['face', 0.6]]);
  });
});

describe('Kind: detection against the graph', () => {
  const manifest = (task: object) =>
    ModelManifestSchema.parse({
      schemaVersion: 1,
      name: 'm',
      version: '1',
      inputs: {
        image: { tensor: 'image', width: 100, height: 100, resize: 'stretch', mean: [0, 0, 0], std: [1, 1, 1] },
        text: { maxLength: 4, idsTensor: 'ids' },
      },
      tasks: [{ name: 'objects', kind: 'detection', output: 'boxes', scores: 'scores', labels: ['a', 'b'], ...task }],
    });
  const inputs = [
    { name: 'image', type: 'float32', shape: ['n', 3, 100, 100] },
    { name: 'ids', type: 'int64', shape: ['n', 4] },
  ];
  const check = (task: object, scores: (number | string)[], boxes: (number | string)[] = ['n', 300, 4]) =>
    checkManifestAgainstGraph(manifest(task), inputs, [
      { name: 'boxes', type: 'float32', shape: boxes },
      { name: 'scores', type: 'float32', shape: scores },
      { name: 'labels', type: 'int64', shape: ['n', 300] },
    ]);

  it('accepts per-class scores, and scores with a labels output', () => {
    expect(check({}, ['n', 300, 2])).toEqual([]);
    expect(check({ classes: 'labels' }, ['n', 300])).toEqual([]);
  });

  it('names what does not fit: boxes not 4 wide, per-class scores for other labels, a box count that differs, scores with no label', () => {
    expect(check({}, ['n', 300, 2], ['n', 300, 5])).toEqual([
      "tasks.0.output: output 'boxes' has shape [n, 300, 5]; a detection task with 2 labels needs [batch, ?, 4]",
    ]);
    expect(check({}, ['n', 300, 3])).toEqual([
      "tasks.0.scores: output 'scores' has shape [n, 300, 3]; a detection task with 2 labels needs [batch, ?] or [batch, ?, 2]",
    ]);
    expect(check({}, ['n', 200, 2])).toEqual(['tasks.0.scores: has 200 boxes per image, the boxes output 300']);
    expect(check({ activation: 'softmax' }, ['n', 300])).toEqual([
      'tasks.0.activation: softmax needs per-class scores [batch, K, C]',
      'tasks.0.classes: scores [batch, K] carry no label: name the labels output, or give per-class scores [batch, K, 2]',
    ]);
  });
});

describe('Kind: detection metric', () => {
  it('computes COCO’s 101-point interpolated average precision', () => {
    // Detections by score: right, wrong, right, over 2 true boxes. Precision 1, 1/2, 2/3 at
    // recall 1/2, 1/2, 1; its envelope is 1 up to recall 1/2 (51 points), then 2/3 (50 points).
    expect(
      averagePrecision(
        [
          { score: 0.9, tp: true },
          { score: 0.8, tp: false },
          { score: 0.7, tp: true },
        ],
        2,
      ),
    ).toBeCloseTo((51 + (50 * 2) / 3) / 101, 12);
    expect(averagePrecision([{ score: 0.5, tp: true }], 1)).toBe(1);
    expect(averagePrecision([{ score: 0.5, tp: false }], 1)).toBe(0);
    expect(averagePrecision([], 3)).toBe(0);
  });

  it('scores a pair right only when every true box is found with its label and nothing else, and adds up mAP', async () => {
    // Prepare
    const task = detectionTask();
    const kind = kindOf(task);
    const io = { loadTruthImage: async () => null as never, loadPredicted: async () => null };
    const truth = [
      { label: 'cat', box: { x: 0, y: 0, width: 10, height: 10 } },
      { label: 'dog', box: { x: 50, y: 50, width: 20, height: 20 } },
    ];
    const exact = [
      { label: 'dog', score: 0.9, box: { x: 50, y: 50, width: 20, height: 20 } },
      { label: 'cat', score: 0.8, box: { x: 0, y: 0, width: 10, height: 10 } },
    ];
    // IoU 0.64 with the cat: a match at 0.5 to 0.6, not from 0.65 up; the dog's box is labelled cat.
    const loose = [
      { label: 'cat', score: 0.9, box: { x: 0, y: 0, width: 8, height: 8 } },
      { label: 'cat', score: 0.7, box: { x: 50, y: 50, width: 20, height: 20 } },
    ];
    // Act
    const a = await kind.score(task, exact, truth, io);
    const b = await kind.score(task, loose, truth, io);
    const tally = kind.tally(task);
    tally.add(a);
    tally.add(b);
    const summary = tally.summary(2);
    // Assess
    expect(a).toMatchObject({ right: true, note: '2 of 2 found' });
    expect(b).toMatchObject({ right: false, note: '1 of 2 found, 1 extra' });
    // At IoU 0.5: cats 0.9 (tp), 0.8 (tp), 0.7 (fp) over 2 → AP 1; dogs 0.9 (tp) over 2 → AP 51/101.
    expect(summary.value).toBeCloseTo((1 + 51 / 101) / 2, 12);
    expect(summary.more?.map_50_95).toBeLessThan(summary.value);
  });
});
