"""The `objects` head at the runtime's settings, by score threshold (a diagnostic for choosing
the manifest's scoreThreshold): precision, recall and F1 of the detections a user would get
(sigmoid score >= threshold, class-agnostic NMS at IoU 0.5, at most 10 per image; right when
IoU >= 0.5 with an unmatched truth box of the same label), on the validation split.

    /usr/bin/python3 models/reference/train/analyse_objects.py [--checkpoint models/reference/.data/model.pt]
"""
from __future__ import annotations

import argparse
import os

import numpy as np
import torch

import data
import detection_metrics as dm
import shapes_world as sw
from train import BUNDLE, batch_tensors, load_checkpoint


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", default=os.path.join(BUNDLE, ".data", "model.pt"))
    ap.add_argument("--pairs", type=int, default=2000)
    ap.add_argument("--split", default="val")
    args = ap.parse_args()
    torch.set_num_threads(2)
    model = load_checkpoint(args.checkpoint)
    arrays = data.build_arrays(args.split, args.pairs)
    boxes, scores = [], []
    with torch.no_grad():
        for start in range(0, args.pairs, 250):
            b = batch_tensors(arrays, np.arange(start, min(args.pairs, start + 250)))
            out = model(b["image"], b["ids"], b["attn"])
            boxes.append(out[5].numpy())
            scores.append(out[6].numpy())
    boxes, scores = np.concatenate(boxes), np.concatenate(scores)
    size = sw.REFERENCE_SIZE
    n_truth = int((arrays["labels"] >= 0).sum())
    best_scores_right, best_scores_wrong = [], []
    print(f"{args.pairs} {args.split} pairs, {n_truth} objects; runtime settings: NMS 0.5 class-agnostic, 10 per image")
    for threshold in [0.05, 0.1, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.7]:
        tp = fp = 0
        for i in range(args.pairs):
            det_boxes, det_labels, det_scores = dm.decode(boxes[i], scores[i], size, size, min_score=threshold,
                                                          max_detections=10)
            keep = arrays["labels"][i] >= 0
            truth, labels = arrays["boxes"][i][keep], arrays["labels"][i][keep]
            matched = np.zeros(len(truth), dtype=bool)
            ious = dm.iou_matrix(det_boxes, truth) if len(det_boxes) else np.zeros((0, len(truth)))
            for k in range(len(det_boxes)):
                cand = [j for j in range(len(truth)) if not matched[j] and labels[j] == det_labels[k]
                        and ious[k, j] >= 0.5]
                if cand:
                    matched[max(cand, key=lambda j: ious[k, j])] = True
                    tp += 1
                    if threshold == 0.05:
                        best_scores_right.append(det_scores[k])
                else:
                    fp += 1
                    if threshold == 0.05:
                        best_scores_wrong.append(det_scores[k])
        precision = tp / max(1, tp + fp)
        recall = tp / n_truth
        f1 = 2 * precision * recall / max(1e-12, precision + recall)
        print(f"  threshold {threshold:.2f}: precision {precision:.4f} recall {recall:.4f} F1 {f1:.4f} "
              f"(true {tp}, false {fp}, missed {n_truth - tp})")
    right, wrong = np.asarray(best_scores_right), np.asarray(best_scores_wrong)
    print(f"scores of right detections: min {right.min():.3f}, 1st percentile {np.percentile(right, 1):.3f}, "
          f"median {np.median(right):.3f}")
    if len(wrong):
        print(f"scores of wrong detections: max {wrong.max():.3f}, 99th percentile {np.percentile(wrong, 99):.3f}, "
              f"median {np.median(wrong):.3f}")


if __name__ == "__main__":
    main()
