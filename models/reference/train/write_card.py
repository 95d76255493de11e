"""Write models/reference/MODEL_CARD.md from training.json and the ONNX Runtime metrics.

Standard library only, so the card can be rewritten without PyTorch.
"""
from __future__ import annotations

import argparse
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
BUNDLE = os.path.dirname(HERE)


def pct(x: float) -> str:
    return f"{100 * x:.2f} %"


def metric_rows(m: dict) -> str:
    rows = [
        ("shape", "accuracy", m["shape_accuracy"], "≥ 98 %"),
        ("colors", "micro-F1", m["colors_micro_f1"], "≥ 98 %"),
        ("count", "accuracy after rounding", m["count_accuracy"], "≥ 98 %"),
        ("match", "accuracy (score > 0.5)", m["match_accuracy"], "≥ 95 %"),
        ("mask", f"mean IoU, {m['mask_nonempty_pairs']} pairs with a non-empty target", m["mask_mean_iou"], "≥ 85 %"),
        ("mask", f"empty target predicted empty, {m['mask_empty_pairs']} pairs", m["mask_empty_predicted_empty"],
         "≥ 95 %"),
    ]
    if "objects_map50" in m:
        rows += [
            ("objects", "mAP@0.5 (COCO 101-point, at the manifest's scoreThreshold and maxDetections)", m["objects_map50"], "≥ 95 %"),
            ("objects", "mAP@0.5:0.95", m["objects_map50_95"], "—"),
        ]
    if "scene_mean_iou" in m:
        rows.append(("scene", "mean IoU over the 7 classes", m["scene_mean_iou"], "≥ 85 %"))
    return "\n".join(f"| `{t}` | {what} | {pct(v)} | {bar} |" for t, what, v, bar in rows)


def per_class_rows(m: dict) -> str:
    """Per-class AP of `objects` and IoU of `scene` (labels in the manifest's order)."""
    ap = m.get("objects_per_class", {})
    iou = m.get("scene_iou_per_class", {})
    rows = []
    for label in iou or ap:
        a = ap.get(label)
        cells = [pct(a["ap50"]), pct(a["ap50_95"])] if a else ["—", "—"]
        rows.append(f"| `{label}` | {cells[0]} | {cells[1]} | {pct(iou[label]) if label in iou else '—'} |")
    return "\n".join(rows)


def independent_check(test: dict) -> str:
    """The independent generator's scores (check/metrics.json, written by build.sh) beside the test split's."""
    path = os.path.join(BUNDLE, "check", "metrics.json")
    if not os.path.exists(path):
        return "Not run for this build: see `check/README.md`."
    ind = json.load(open(path))
    keys = [("shape accuracy", "shape_accuracy"), ("colors micro-F1", "colors_micro_f1"),
            ("count accuracy", "count_accuracy"), ("match accuracy", "match_accuracy"),
            ("mask mean IoU", "mask_mean_iou"), ("empty predicted empty", "mask_empty_predicted_empty"),
            ("objects mAP@0.5", "objects_map50"), ("objects mAP@0.5:0.95", "objects_map50_95"),
            ("scene mean IoU", "scene_mean_iou")]
    keys = [(name, k) for name, k in keys if k in test and k in ind]
    rows = "\n".join(f"| {name} | {pct(test[k])} | {pct(ind[k])} | {100 * (ind[k] - test[k]):+.2f} |"
                      for name, k in keys)
    worst = max(100 * (test[k] - ind[k]) for _, k in keys)
    return f"""`check/independent_generator.py` was written from the spec alone, sharing no code with
`train/`; `build.sh` draws {ind['pairs']:,} pairs with it and scores this model on them in ONNX Runtime. The
largest drop from the test split is {max(worst, 0):.2f} points (the acceptance allows 3).

| task | test split | independent generator | points |
| --- | --- | --- | --- |
{rows}"""


def stages(info: dict) -> list[dict]:
    """Training runs in order: a resumed run keeps the run it started from under `previous`."""
    return (stages(info["previous"]) if info.get("previous") else []) + [info]


def schedule_text(info: dict) -> str:
    runs = stages(info)
    parts = [f"{r['epochs']} epochs at a one-cycle learning rate peaking at {r['lr']}" for r in runs]
    first = f"AdamW, batch {info['batch']}, {parts[0]}"
    if len(runs) == 1:
        return first
    return first + "; then resumed from that checkpoint for " + "; then ".join(parts[1:]) + \
        f" ({sum(r['epochs'] for r in runs)} epochs in all)"


def torch_new_tasks(m: dict) -> str:
    if "objects_map50" not in m:
        return ""
    return (f", objects mAP@0.5 {pct(m['objects_map50'])} (mAP@0.5:0.95 {pct(m['objects_map50_95'])}),"
            f" scene mean IoU {pct(m['scene_mean_iou'])}")


def last_new_tasks(val: dict) -> str:
    if "objects_map50" not in val:
        return ""
    return f", objects mAP@0.5 {pct(val['objects_map50'])}, scene mean IoU {pct(val['scene_mean_iou'])}"


def training_minutes(info: dict) -> float:
    return sum(r["training_seconds"] for r in stages(info)) / 60


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--total-seconds", type=float, default=None, help="wall time of the whole build")
    args = ap.parse_args()
    info = json.load(open(os.path.join(BUNDLE, "training.json")))
    test = json.load(open(os.path.join(BUNDLE, "metrics.json")))
    evalset = json.load(open(os.path.join(BUNDLE, "fixtures", "eval", "metrics.json")))
    torch_test = info["pytorch_test_metrics"]
    manifest = json.load(open(os.path.join(BUNDLE, "model.json")))
    manifest_objects = next(t for t in manifest["tasks"] if t["name"] == "objects")
    onnx_bytes = os.path.getsize(os.path.join(BUNDLE, "model.onnx"))
    macs = info["macs_per_pair"]
    last = info["history"][-1]
    if args.total_seconds:
        info["total_seconds"] = round(args.total_seconds)
    total = sum(r.get("total_seconds") or 0 for r in stages(info))
    if args.total_seconds:
        with open(os.path.join(BUNDLE, "training.json"), "w") as f:
            json.dump(info, f, indent=2)
            f.write("\n")

    card = f"""# Model card: shapes-reference 1.0.0

The project's default model (`models/reference/`): a fused image + text network with seven task
heads, trained on the procedurally drawn *shapes world* of `shared/specs/shapes-world.md`. It
exists to exercise and measure fusebatch end to end; it knows nothing outside that world.

## Bundle
| file | what |
| --- | --- |
| `model.onnx` | ONNX opset 17, dynamic batch axis, {onnx_bytes / 1e6:.2f} MB |
| `model.json` | manifest: inputs with their preprocessing, tokenizer, and each task's output, kind, labels, activation, threshold |
| `tokenizer.json` | Hugging Face tokenizer (WordPiece over whole words: lower-cased, split on whitespace and punctuation, unknown words → `[UNK]`) |
| `fixtures/parity/` | 32 pairs at 128×128 and PyTorch's raw output tensors for each (`outputs.json` + `outputs.bin`) |
| `fixtures/eval/` | 300 test-split pairs rendered at 96 to 512 px (PNG, JPEG, WebP), masks (`masks/`), scene class maps (`scenes/`, 8-bit greyscale, class index 0–6 per pixel), `truth.jsonl`: per task its expected value (`objects`: boxes `x`, `y` (top left), `width`, `height` in pixels of the delivered image; `mask`, `scene`: PNG paths), and `world`, the drawn scene (not a task: caption and objects, whose `r`, `cx`, `cy` are in pixels of the 128 px canvas it was drawn on, before the resize) |
| `training.json`, `metrics.json` | training log; test-split metrics from ONNX Runtime |

## Architecture
Inputs: `image` float32 [N,3,128,128] (RGB, `(x/255 - 0.5) / 0.25`), `input_ids` and
`attention_mask` int64 [N,16].

- **Image encoder** (shared): strided stem conv 3→16 (stride 2, 64×64), then three stages of one
  stride-2 conv and one residual conv: 32 ch at 32×32, 64 ch at 16×16, 128 ch at 8×8. Batch norm
  and ReLU throughout. No convolution runs at the full 128×128 input resolution.
- **Text encoder**: embedding (64) → bidirectional LSTM (2×64) token states; the sentence vector
  is their mean over the attention mask, projected and layer-normed.
- **Fusion for the mask**: the 16×16 map, with two coordinate channels, goes through two convs
  each FiLM-conditioned on the sentence vector, then a decoder back to 64×64 through skips from the
  32×32 and 64×64 encoder features.
- **Fusion for match**: two queries, each reading the caption's token states with its own
  attention (the words of one mentioned object), score every 16×16 location of an image key map
  (built from the 16×16 features, coordinates and each cell's mean input colour; a bilinear form
  plus a bias): > 0 where an object fits the mentioned object. The head reads
  each query's best score (does such an object exist?) and the softmax-weighted position (where?),
  with the sentence vector (which relation?).
- **Heads**: `colors` (8 logits) and `count` (a value) from average- and max-pooled 8×8 features;
  `shape` (6-way logits) from the same pooled features plus a "largest object" pathway: over the
  16×16 key features, a radius map and per-cell shape logits; a softmax over the radius map picks
  the cells of the largest object, and their shape logits are added. `match` (one logit) as above;
  `mask` (logits at 64×64, half the input resolution). Activations and thresholds are in `model.json`.
- **Objects** (detection, image only; CenterNet-like): the 16×16 key features plus a projection of
  the 8×8 features (wider context), summed, give per cell 6 class logits (`objects_scores`
  [N,256,6], raw: the runtime applies a sigmoid per class, a score threshold and NMS) and a box,
  decoded in the graph (`objects_boxes` [N,256,4], cxcywh normalised to the 128×128 input: the
  cell's centre plus a predicted offset, width and height 32 px × exp of a prediction). A cell is
  trained to score an object when it holds the centre of the object's box.
- **Scene** (semantic segmentation, image only): a decoder from the detection features back to
  64×64 through (added) skips from the 32×32 and 64×64 encoder features: `scene_logits` [N,7,64,64],
  raw logits of background and the 6 shapes; the runtime upsamples them to the image and takes the
  argmax per pixel.

| | |
| --- | --- |
| parameters | {info['parameters']:,} |
| multiply-accumulates per pair | {macs / 1e6:.1f} M |
| FLOPs per pair (2 × MACs) | {2 * macs / 1e6:.1f} M |

## Training data
Pairs are drawn by `train/shapes_world.py`, each from its own RNG seeded by (split seed, index),
so every split is reproducible pair by pair. Splits: train seed 1001 ({info['train_pairs']:,} pairs),
validation seed 1002 ({info['val_pairs']:,}), test seed 1003 (2,000), parity seed 1004 (32): the
seeds differ, so training never sees a validation or test pair.

Training pairs vary what the spec leaves open or another generator may read differently: hard or
anti-aliased edges (50 %), noise over the objects as well as the background (25 %), a trailing full
stop (10 %), drawn at 96–320 px and resized to 128 with a random filter (30 %), JPEG-compressed at
quality 70–95 (20 %). Validation, test and fixtures follow the spec as written (anti-aliased edges,
noise on the background only).

## Training
{schedule_text(info)},
losses: cross-entropy (`shape`), binary cross-entropy (`colors`, `match`), smooth L1 (`count`),
binary cross-entropy + Dice on 2×2-averaged targets (`mask`), and a detection loss on the match
queries' score maps (training only; not in the exported graph): 1 at the centre of every object that
fits the mentioned object, 0 elsewhere, with the centres of objects that do not fit (often one
attribute off) weighted as heavily as those that do. The shape head's radius map is trained
with smooth L1 towards radius / 10 on every cell inside an object's circumscribed circle (0 off
objects), and its per-cell shape logits with cross-entropy on those cells: `shape` is the shape of
the largest object, and most of its errors were near-ties, two objects under 1 px apart in radius.
`objects`: CenterNet's penalty-reduced focal loss on the class logits (1 at the cell holding an
object's box centre, in its shape's channel, with a Gaussian around it whose width grows with the
box, weighting down the negatives near it), and smooth L1 on the raw box (offset in cells, log
sizes) at that cell and its 8 neighbours, weighted by the Gaussian (at least 0.2), so a neighbour
that passes the score threshold predicts the same box and NMS folds it in. `scene`: cross-entropy
against each 64×64 pixel's class shares of its 2×2 input pixels, plus a Dice term per class.

PyTorch {info['torch']} (Debian), {info['threads']} CPU threads. Data generation took
{info['generation_seconds']:.0f} s and training {training_minutes(info):.1f} min{f"; the whole build {total / 60:.1f} min" if total else ""}.
Last epoch, validation: match {pct(last['val']['match_accuracy'])}, mask IoU {pct(last['val']['mask_mean_iou'])}{last_new_tasks(last['val'])}.

Reproduce from scratch (needs `apt-get install -y python3-torch python3-onnx python3-pil`):

```
npm run model:train
```

which runs `train/build.sh`: generate, train and export (`train/train.py`), evaluate the exported
model in ONNX Runtime (`train/evaluate-onnx.ts`), and write this card (`train/write_card.py`).

## Metrics
On the 2,000-pair test split, computed from `model.onnx` in ONNX Runtime ({test['engine']}):

| task | metric | value | acceptance |
| --- | --- | --- | --- |
{metric_rows(test)}

`objects` and `scene` per class, same split and engine (AP over the classes present; the scene's IoU
is the sum of intersections over the sum of unions over the split):

| class | AP@0.5 | AP@0.5:0.95 | scene IoU |
| --- | --- | --- | --- |
{per_class_rows(test)}

`objects` is scored as COCO does: every (cell, class) of sigmoid score ≥ 0.05 is a candidate, boxes
are mapped to the image's pixels (x by width / 128, y by height / 128, as the `stretch` resize),
class-agnostic NMS at IoU 0.5, at most 20 detections per image, then per class the 101-point
interpolated precision, averaged over the classes. `train/detection_metrics.py` (PyTorch) and
`train/detection-metrics.ts` (ONNX Runtime) compute the same numbers. The manifest's runtime
settings are stricter: score ≥ {manifest_objects['scoreThreshold']}, at most {manifest_objects['maxDetections']} detections; the threshold is chosen
on the validation split with `train/analyse_objects.py`, which gives precision and recall at the
runtime's settings by threshold.

On the 300-pair evaluation fixture (the same scenes rendered at 96–512 px and stored as PNG, JPEG
and WebP, so the resize path is exercised):

| task | metric | value | acceptance |
| --- | --- | --- | --- |
{metric_rows(evalset)}

PyTorch on the same test split: shape {pct(torch_test['shape_accuracy'])}, colors
{pct(torch_test['colors_micro_f1'])}, count {pct(torch_test['count_accuracy'])}, match
{pct(torch_test['match_accuracy'])}, mask IoU {pct(torch_test['mask_mean_iou'])}, empty
{pct(torch_test['mask_empty_predicted_empty'])}{torch_new_tasks(torch_test)}. Batch sizes 1, 3 and 32 give outputs that differ by
at most {test['batch_1_3_32_max_abs_diff']:.1e}.

## Independent check
{independent_check(test)}

## Limits
- Trained on synthetic scenes only: flat-coloured shapes on grey gradients, captions from one
  grammar and a 30-word vocabulary. Anything else is out of distribution.
- Square 128×128 input; other aspect ratios are stretched (`resize: stretch`).
- The mask and the scene are predicted at 64×64 and upsampled; thin star points of small objects
  lose detail.
- `objects` has one candidate per 8×8 px cell of the input, so two objects whose box centres share
  a cell would yield one detection; the spec's placement (boxes at least 2 px apart) keeps centres
  at least two cells apart.
"""
    with open(os.path.join(BUNDLE, "MODEL_CARD.md"), "w", encoding="utf-8") as f:
        f.write(card)


if __name__ == "__main__":
    main()
