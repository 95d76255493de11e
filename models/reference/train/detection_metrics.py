"""Metrics of the `objects` (detection) and `scene` (semantic segmentation) tasks.

    objects: COCO-style mean average precision. Candidates are every (cell, class) whose
    sigmoid score is at least 0.05; boxes (cxcywh normalised to the 128x128 input) are mapped to
    the delivered image's pixels as the bundle's `stretch` resize does (x by width, y by
    height); class-agnostic NMS at IoU 0.5, as the manifest tells the runtime; at most 20
    detections per image. Per class, detections of all images ranked by score are matched
    greedily to unmatched truth boxes of that class (the best IoU, if at least the threshold);
    AP is the mean over 101 recall points of the interpolated precision (the best precision at
    that recall or more, 0 past the last recall reached); mAP is the mean over the classes
    present in the truth, at IoU 0.5 and averaged over 0.5:0.05:0.95.
    scene: per class, the sum over the split of intersections over the sum of unions of
    predicted and true pixels (prediction: argmax of the logits after bilinear upsampling to
    the delivered size), then the mean over the 7 classes.

models/reference/train/onnx-eval.ts computes the same numbers from model.onnx in ONNX Runtime.
Standard library and numpy only.
"""
from __future__ import annotations

import numpy as np

MIN_SCORE = 0.05
NMS_IOU = 0.5
MAX_DETECTIONS = 20
IOU_THRESHOLDS = [0.5 + 0.05 * i for i in range(10)]


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of boxes (x0, y0, x1, y1) of a [n, 4] with those of b [m, 4]: [n, m]."""
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def decode(boxes: np.ndarray, score_logits: np.ndarray, width: float, height: float,
           min_score: float = MIN_SCORE, nms_iou: float = NMS_IOU,
           max_detections: int = MAX_DETECTIONS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One image's outputs (boxes [K, 4] cxcywh normalised, score logits [K, C]) as detections:
    boxes (x0, y0, x1, y1) in pixels of a width x height image, labels, scores; best first."""
    probs = sigmoid(score_logits.astype(np.float64))
    cell, label = np.nonzero(probs >= min_score)
    scores = probs[cell, label]
    order = np.argsort(-scores, kind="stable")
    cell, label, scores = cell[order], label[order], scores[order]
    b = boxes[cell].astype(np.float64)
    xyxy = np.stack([(b[:, 0] - b[:, 2] / 2) * width, (b[:, 1] - b[:, 3] / 2) * height,
                     (b[:, 0] + b[:, 2] / 2) * width, (b[:, 1] + b[:, 3] / 2) * height], axis=1)
    keep: list[int] = []
    suppressed = np.zeros(len(scores), dtype=bool)
    for i in range(len(scores)):
        if suppressed[i]:
            continue
        keep.append(i)
        if len(keep) == max_detections:
            break
        rest = np.arange(i + 1, len(scores))
        if len(rest):
            suppressed[rest] |= iou_matrix(xyxy[i:i + 1], xyxy[rest])[0] >= nms_iou
    keep_idx = np.asarray(keep, dtype=np.int64)
    return xyxy[keep_idx].reshape(-1, 4), label[keep_idx], scores[keep_idx]


def average_precision(scores: np.ndarray, tp: np.ndarray, n_truth: int) -> float:
    """COCO's 101-point interpolated AP of detections (score, is-true-positive)."""
    if n_truth == 0:
        return float("nan")
    order = np.argsort(-scores, kind="stable")
    tp = tp[order].astype(np.float64)
    tps = np.cumsum(tp)
    fps = np.cumsum(1.0 - tp)
    recall = tps / n_truth
    precision = tps / np.maximum(tps + fps, 1e-12)
    for i in range(len(precision) - 2, -1, -1):  # the envelope: best precision at this recall or more
        precision[i] = max(precision[i], precision[i + 1])
    total = 0.0
    for r in [j / 100 for j in range(101)]:
        k = int(np.searchsorted(recall, r, side="left"))
        total += precision[k] if k < len(recall) else 0.0
    return total / 101


class DetectionAP:
    """Detections and truth boxes of many images, scored as COCO's mAP."""

    def __init__(self, n_classes: int):
        self.n_classes = n_classes
        self.images: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

    def add(self, det_boxes, det_labels, det_scores, truth_boxes, truth_labels) -> None:
        """Detections as `decode` gives them; truth boxes (x0, y0, x1, y1) in the same pixels."""
        self.images.append((np.asarray(det_boxes, np.float64).reshape(-1, 4), np.asarray(det_labels),
                            np.asarray(det_scores, np.float64), np.asarray(truth_boxes, np.float64).reshape(-1, 4),
                            np.asarray(truth_labels)))

    def ap(self, cls: int, threshold: float) -> float:
        scores, tps = [], []
        n_truth = 0
        for boxes, labels, det_scores, truth, truth_labels in self.images:
            t = truth[truth_labels == cls]
            n_truth += len(t)
            d = labels == cls
            if not d.any():
                continue
            db, ds = boxes[d], det_scores[d]
            order = np.argsort(-ds, kind="stable")
            db, ds = db[order], ds[order]
            ious = iou_matrix(db, t) if len(t) else np.zeros((len(db), 0))
            matched = np.zeros(len(t), dtype=bool)
            for i in range(len(db)):
                best, best_iou = -1, threshold
                for j in range(len(t)):
                    if not matched[j] and ious[i, j] >= best_iou:
                        best, best_iou = j, ious[i, j]
                if best >= 0:
                    matched[best] = True
                scores.append(ds[i])
                tps.append(best >= 0)
        return average_precision(np.asarray(scores, np.float64), np.asarray(tps, bool), n_truth)

    def summary(self, labels: list[str]) -> dict:
        per_class = {}
        for c, name in enumerate(labels):
            aps = [self.ap(c, t) for t in IOU_THRESHOLDS]
            if not np.isnan(aps[0]):
                per_class[name] = {"ap50": aps[0], "ap50_95": float(np.mean(aps))}
        return {
            "objects_map50": float(np.mean([v["ap50"] for v in per_class.values()])),
            "objects_map50_95": float(np.mean([v["ap50_95"] for v in per_class.values()])),
            "objects_per_class": per_class,
        }


class SceneIoU:
    """Per-class intersections and unions summed over a split."""

    def __init__(self, n_classes: int):
        self.inter = np.zeros(n_classes, dtype=np.int64)
        self.union = np.zeros(n_classes, dtype=np.int64)

    def add(self, predicted: np.ndarray, truth: np.ndarray) -> None:
        """Class maps of the same shape (any number of images)."""
        n = len(self.inter)
        p = np.bincount(predicted.reshape(-1).astype(np.int64), minlength=n)[:n]
        t = np.bincount(truth.reshape(-1).astype(np.int64), minlength=n)[:n]
        both = predicted.reshape(-1)[predicted.reshape(-1) == truth.reshape(-1)].astype(np.int64)
        i = np.bincount(both, minlength=n)[:n]
        self.inter += i
        self.union += p + t - i

    def summary(self, labels: list[str]) -> dict:
        ious = np.where(self.union > 0, self.inter / np.maximum(self.union, 1), np.nan)
        return {"scene_mean_iou": float(np.nanmean(ious)),  # over the classes present
                "scene_iou_per_class": {name: float(v) for name, v in zip(labels, ious)}}
