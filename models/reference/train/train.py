"""Train the reference model on the shapes world, export it to ONNX, write the bundle.

    /usr/bin/python3 models/reference/train/train.py [--train-pairs 60000] [--epochs 6]

Writes into models/reference/: model.onnx, tokenizer.json, model.json, training.json,
fixtures/parity/, fixtures/eval/; and the 2,000-pair test split into .data/test/
(regenerated from its seed, never committed) for the ONNX Runtime evaluation.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

import data
import detection_metrics
import export
import shapes_world as sw
import tokenizer
from model import FusedShapesNet, count_macs

HERE = os.path.dirname(os.path.abspath(__file__))
BUNDLE = os.path.dirname(HERE)
MEAN, STD = 0.5, 0.25


def to_input(images_u8: np.ndarray) -> torch.Tensor:
    """NHWC uint8 -> normalised NCHW float32, as model.json tells the runtime to do."""
    x = torch.from_numpy(images_u8).permute(0, 3, 1, 2).float().div_(255.0)
    return x.sub_(MEAN).div_(STD).contiguous(memory_format=torch.channels_last)


def batch_tensors(arrays: dict, idx: np.ndarray) -> dict:
    mask = torch.from_numpy(arrays["mask"][idx]).float().unsqueeze(1)
    classes = torch.from_numpy(arrays["classes"][idx])  # uint8, N,128,128
    one_hot = torch.stack([classes == c for c in range(len(sw.SHAPES) + 1)], dim=1).float()
    return {
        "image": to_input(arrays["image"][idx]),
        "ids": torch.from_numpy(arrays["ids"][idx]),
        "attn": torch.from_numpy(arrays["attn"][idx]),
        "shape": torch.from_numpy(arrays["shape"][idx]).long(),
        "colors": torch.from_numpy(arrays["colors"][idx]),
        "count": torch.from_numpy(arrays["count"][idx]).float().unsqueeze(1),
        "match": torch.from_numpy(arrays["match"][idx]).float().unsqueeze(1),
        "detect": torch.from_numpy(arrays["detect"][idx]).float(),
        "cell_attrs": torch.from_numpy(arrays["cell_attrs"][idx]).long(),
        "mention_attrs": torch.from_numpy(arrays["mention_attrs"][idx]).long(),
        "cell_radius": torch.from_numpy(arrays["cell_radius"][idx]),
        "cell_shape": torch.from_numpy(arrays["cell_shape"][idx]).long(),
        "mask128": mask,
        "mask64": F.avg_pool2d(mask, 2),
        "classes128": classes,
        "classes64": F.avg_pool2d(one_hot, 2),  # each class's share of the 2x2 input pixels
        "det_heat": torch.from_numpy(arrays["det_heat"][idx]).float(),
        "det_box": torch.from_numpy(arrays["det_box"][idx]),
        "det_weight": torch.from_numpy(arrays["det_weight"][idx]).float(),
        "boxes": arrays["boxes"][idx],
        "labels": arrays["labels"][idx],
    }


def attribute_loss(model, b) -> torch.Tensor:
    """Cross-entropy of colour, shape and size read from the key map (at object centres) and
    from the match queries (per mention); -1 targets are ignored."""
    cells = model.key_attributes(model.key_map.transpose(1, 2))  # N,HW,16
    mentions = model.query_attributes(model.query_vectors)  # N,2,17
    total = 0.0
    for logits, targets, splits in ((cells, b["cell_attrs"].transpose(1, 2), (8, 6, 2)),
                                    (mentions, b["mention_attrs"], (8, 6, 3))):
        for i, part in enumerate(logits.split(splits, dim=-1)):
            t = targets[..., i].reshape(-1)
            if (t >= 0).any():
                total = total + F.cross_entropy(part.reshape(-1, part.shape[-1]), t, ignore_index=-1)
    return total


def size_loss(model, b) -> torch.Tensor:
    """The shape head's radius map (every cell: its object's radius / 10, 0 off objects) and
    per-cell shapes (cells of objects only)."""
    radius = F.smooth_l1_loss(model.radius_map, b["cell_radius"], beta=0.1)
    shapes = F.cross_entropy(model.cell_shape_logits, b["cell_shape"], ignore_index=-1)
    return 10.0 * radius + shapes


def objects_loss(scores: torch.Tensor, raw_boxes: torch.Tensor, b) -> torch.Tensor:
    """CenterNet's penalty-reduced focal loss on the per-cell class scores (1 at the cell of an
    object's box centre, in its shape's channel; negatives near it weighted down by
    (1 - Gaussian)^4), normalised by the number of objects; and L1 on the raw box (centre offset
    in cells, log sizes) at the positive cells and their neighbours, weighted by the Gaussian."""
    logits = scores.transpose(1, 2)  # N,6,HW
    heat = b["det_heat"]
    pos = (heat >= 0.999).float()
    log_p, log_not_p = F.logsigmoid(logits), F.logsigmoid(-logits)
    p = torch.sigmoid(logits)
    focal = -(pos * (1 - p) ** 2 * log_p + (1 - pos) * (1 - heat) ** 4 * p ** 2 * log_not_p).sum()
    n_pos = pos.sum().clamp(min=1.0)
    weight = b["det_weight"].unsqueeze(-1)  # N,HW,1
    l1 = (F.smooth_l1_loss(raw_boxes, b["det_box"].transpose(1, 2), beta=0.05, reduction="none") * weight).sum()
    return focal / n_pos + 2.0 * l1 / weight.sum().clamp(min=1.0)


def scene_loss(logits: torch.Tensor, b) -> torch.Tensor:
    """Cross-entropy with each 64x64 pixel's class shares as soft targets, plus a Dice term per
    class (over the batch, averaged over classes) so that the small shape classes count as much
    as the background does in the mean IoU."""
    target = b["classes64"]
    log_prob = F.log_softmax(logits, dim=1)
    ce = -(target * log_prob).sum(dim=1).mean()
    prob = log_prob.exp()
    inter = (prob * target).sum(dim=(0, 2, 3))
    dice = 1.0 - (2.0 * inter + 1.0) / (prob.sum(dim=(0, 2, 3)) + target.sum(dim=(0, 2, 3)) + 1.0)
    return ce + dice.mean()


def losses(outputs, b, detection_scores) -> dict:
    shape_logits, colors_logits, count, match_logit, mask_logits = outputs[:5]
    prob = torch.sigmoid(mask_logits)
    inter = (prob * b["mask64"]).sum()
    dice = 1.0 - (2.0 * inter + 1.0) / (prob.sum() + b["mask64"].sum() + 1.0)
    return {
        "shape": F.cross_entropy(shape_logits, b["shape"]),
        "colors": F.binary_cross_entropy_with_logits(colors_logits, b["colors"]),
        "count": F.smooth_l1_loss(count, b["count"]),
        # Weighted up: the one head that needs image, text and their relation; it learns last.
        "match": 2.0 * F.binary_cross_entropy_with_logits(match_logit, b["match"]),
        "mask": 2.0 * (F.binary_cross_entropy_with_logits(mask_logits, b["mask64"]) + dice),
        # Detection: each mention's score is > 0 exactly at the objects that fit it.
        "detect": detection_loss(detection_scores, b["detect"]),
    }


def detection_loss(scores: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """BCE over the grid where the target is not ignored (-1). Object centres, fitting (1) or
    not (2), weigh 10 background cells each: the decisions that matter are between objects
    that differ in one attribute, and a positive weight alone would teach the score to fire
    on near misses."""
    keep = target >= 0
    weight = torch.where(target > 0, torch.full_like(target, 10.0), torch.ones_like(target)) * keep
    per_cell = F.binary_cross_entropy_with_logits(scores, (target == 1).float(), reduction="none")
    return 4.0 * (per_cell * weight).sum() / keep.sum().clamp(min=1)


class Metrics:
    """The issue's per-task metrics, accumulated over batches."""

    def __init__(self):
        self.n = 0
        self.shape_ok = self.count_ok = self.match_ok = 0
        self.tp = self.fp = self.fn = 0
        self.ious: list[float] = []
        self.empty_total = self.empty_ok = 0
        self.objects = detection_metrics.DetectionAP(len(sw.SHAPES))
        self.scene = detection_metrics.SceneIoU(len(sw.SHAPES) + 1)

    def add(self, outputs, b):
        shape_logits, colors_logits, count, match_logit, mask_logits, boxes, scores, scene_logits = outputs
        self.n += len(b["shape"])
        self.shape_ok += int((shape_logits.argmax(1) == b["shape"]).sum())
        self.count_ok += int((count.round() == b["count"]).sum())
        self.match_ok += int(((match_logit > 0).float() == b["match"]).sum())
        pred = colors_logits > 0
        truth = b["colors"] > 0.5
        self.tp += int((pred & truth).sum())
        self.fp += int((pred & ~truth).sum())
        self.fn += int((~pred & truth).sum())
        full = F.interpolate(mask_logits, size=b["mask128"].shape[-2:], mode="bilinear", align_corners=False) > 0
        target = b["mask128"] > 0.5
        for p, t in zip(full, target):
            if t.any():
                self.ious.append(float((p & t).sum()) / float((p | t).sum()))
            else:
                self.empty_total += 1
                self.empty_ok += int(not p.any())
        # The test split is at 128 px, the model's input size: boxes scale by 128.
        size = sw.REFERENCE_SIZE
        for bx, sc, truth, labels in zip(boxes.numpy(), scores.numpy(), b["boxes"], b["labels"]):
            self.objects.add(*detection_metrics.decode(bx, sc, size, size), truth[labels >= 0], labels[labels >= 0])
        scene = F.interpolate(scene_logits, size=b["classes128"].shape[-2:], mode="bilinear", align_corners=False)
        self.scene.add(scene.argmax(1).numpy(), b["classes128"].numpy())

    def summary(self) -> dict:
        return {
            "pairs": self.n,
            "shape_accuracy": self.shape_ok / self.n,
            "colors_micro_f1": 2 * self.tp / max(1, 2 * self.tp + self.fp + self.fn),
            "count_accuracy": self.count_ok / self.n,
            "match_accuracy": self.match_ok / self.n,
            "mask_mean_iou": float(np.mean(self.ious)) if self.ious else 0.0,
            "mask_empty_predicted_empty": self.empty_ok / max(1, self.empty_total),
            **self.objects.summary(sw.SHAPES),
            **self.scene.summary(["background"] + sw.SHAPES),
        }


def evaluate(model, arrays: dict, batch: int = 256) -> dict:
    model.eval()
    m = Metrics()
    with torch.no_grad():
        for start in range(0, len(arrays["shape"]), batch):
            idx = np.arange(start, min(start + batch, len(arrays["shape"])))
            b = batch_tensors(arrays, idx)
            m.add(model(b["image"], b["ids"], b["attn"]), b)
    return m.summary()


def load_checkpoint(path: str) -> FusedShapesNet:
    """A saved state_dict as a model in eval mode (for the diagnostic scripts)."""
    model = FusedShapesNet(len(tokenizer.VOCAB))
    model.load_state_dict(torch.load(path))
    return model.eval()


def previous_run(args) -> dict | None:
    record = os.path.join(args.out, "training.json")
    if not args.resume or not os.path.exists(record):
        return None
    with open(record) as f:
        return json.load(f)


def train(args) -> tuple[FusedShapesNet, dict]:
    torch.manual_seed(args.seed)
    t0 = time.time()
    train_arrays = data.build_arrays("train", args.train_pairs)
    val_arrays = data.build_arrays("val", args.val_pairs)
    gen_seconds = time.time() - t0
    print(f"generated {args.train_pairs} train + {args.val_pairs} val pairs in {gen_seconds:.0f}s", flush=True)

    model = FusedShapesNet(len(tokenizer.VOCAB))
    if args.resume:
        # Continue from a checkpoint (a second schedule on top of the first).
        model.load_state_dict(torch.load(args.resume))
    model = model.to(memory_format=torch.channels_last)
    steps_per_epoch = args.train_pairs // args.batch
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=steps_per_epoch * args.epochs,
                                                pct_start=0.15)
    rng = np.random.default_rng(args.seed)
    history = []
    t_train = time.time()
    for epoch in range(args.epochs):
        model.train()
        order = rng.permutation(args.train_pairs)
        totals: dict[str, float] = {}
        t_epoch = time.time()
        for step in range(steps_per_epoch):
            b = batch_tensors(train_arrays, order[step * args.batch:(step + 1) * args.batch])
            outputs = model(b["image"], b["ids"], b["attn"])
            parts = losses(outputs, b, model.detection_scores)
            parts["attributes"] = attribute_loss(model, b)
            parts["size"] = size_loss(model, b)
            parts["objects"] = objects_loss(outputs[6], model.raw_boxes, b)
            parts["scene"] = scene_loss(outputs[7], b)
            loss = sum(parts.values())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            for k, v in parts.items():
                totals[k] = totals.get(k, 0.0) + float(v)
            if step % 200 == 0:
                print(f"  epoch {epoch} step {step}/{steps_per_epoch} loss {float(loss):.4f}", flush=True)
        val = evaluate(model, val_arrays)
        row = {"epoch": epoch, "seconds": round(time.time() - t_epoch, 1),
               "loss": {k: round(v / steps_per_epoch, 5) for k, v in totals.items()}, "val": val}
        history.append(row)
        print(json.dumps(row), flush=True)
        os.makedirs(os.path.join(args.out, ".data"), exist_ok=True)
        torch.save(model.state_dict(), os.path.join(args.out, ".data", "last-epoch.pt"))
    info = {
        # A resumed run keeps the record of the run it continues, so the card can tell the whole story.
        "previous": previous_run(args),
        "resumed_from": args.resume,
        "train_pairs": args.train_pairs,
        "val_pairs": args.val_pairs,
        "epochs": args.epochs,
        "batch": args.batch,
        "lr": args.lr,
        "seed": args.seed,
        "generation_seconds": round(gen_seconds, 1),
        "training_seconds": round(time.time() - t_train, 1),
        "history": history,
    }
    return model, info


def write_fixtures(model, bundle: str) -> None:
    """Parity set (raw PyTorch outputs) and evaluation set (several sizes, with truth)."""
    fixtures = os.path.join(bundle, "fixtures")
    parity_dir = os.path.join(fixtures, "parity")
    records = data.write_pairs("parity", list(range(32)), parity_dir, with_masks=False)
    images = np.stack([np.asarray(Image.open(os.path.join(parity_dir, r["image"])).convert("RGB")) for r in records])
    encoded = [tokenizer.encode(r["text"]) for r in records]
    ids = torch.tensor([e[0] for e in encoded])
    attn = torch.tensor([e[1] for e in encoded])
    model.eval()
    with torch.no_grad():
        outputs = model(to_input(images).contiguous(), ids, attn)
    export.write_tensors(os.path.join(parity_dir, "outputs"),
                         {"input_ids": ids, "attention_mask": attn,
                          **{name: o for name, o in zip(export.OUTPUT_NAMES, outputs)}})

    sizes_cycle = [96, 128, 160, 200, 256, 320, 384, 512]
    formats = {96: "png", 128: "png", 160: "png", 200: "jpeg", 256: "webp", 320: "jpeg", 384: "webp", 512: "jpeg"}
    sizes = [sizes_cycle[k % len(sizes_cycle)] for k in range(300)]
    data.write_pairs("test", list(range(300)), os.path.join(fixtures, "eval"), sizes=sizes, formats=formats)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train-pairs", type=int, default=60000)
    ap.add_argument("--val-pairs", type=int, default=2000)
    ap.add_argument("--test-pairs", type=int, default=2000)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--out", default=BUNDLE, help="bundle folder (default: models/reference)")
    ap.add_argument("--resume", default=None, help="start from this state_dict instead of from scratch")
    ap.add_argument("--fixtures-only", action="store_true",
                    help="rewrite fixtures and the test split from the saved checkpoint (.data/model.pt); no training")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    if args.fixtures_only:
        model = FusedShapesNet(len(tokenizer.VOCAB))
        model.load_state_dict(torch.load(os.path.join(args.out, ".data", "model.pt")))
        write_fixtures(model, args.out)
        data.write_pairs("test", list(range(args.test_pairs)), os.path.join(args.out, ".data", "test"))
        return

    model, info = train(args)
    os.makedirs(os.path.join(args.out, ".data"), exist_ok=True)
    torch.save(model.state_dict(), os.path.join(args.out, ".data", "model.pt"))
    test_arrays = data.build_arrays("test", args.test_pairs)
    info["pytorch_test_metrics"] = evaluate(model, test_arrays)
    print("test (PyTorch):", json.dumps(info["pytorch_test_metrics"]), flush=True)

    model = model.to(memory_format=torch.contiguous_format)
    tokenizer.save(os.path.join(args.out, "tokenizer.json"))
    export.export_onnx(model, os.path.join(args.out, "model.onnx"))
    export.write_manifest(os.path.join(args.out, "model.json"))
    info.update({
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "macs_per_pair": int(count_macs(model)),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "threads": args.threads,
    })
    with open(os.path.join(args.out, "training.json"), "w") as f:
        json.dump(info, f, indent=2)
        f.write("\n")
    write_fixtures(model, args.out)
    data.write_pairs("test", list(range(args.test_pairs)), os.path.join(args.out, ".data", "test"))
    print("done", flush=True)


if __name__ == "__main__":
    main()
