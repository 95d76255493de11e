"""Shape errors of a checkpoint by how close the two largest objects' radii are (a diagnostic).

`shape` is the shape of the largest object by circumscribed radius; radii are drawn from a
continuous range, so two objects can differ by a fraction of a pixel. This splits the test
split's shape errors by that gap.

    /usr/bin/python3 models/reference/train/analyse_shape.py [--checkpoint models/reference/.data/model.pt]
"""
from __future__ import annotations

import argparse
import collections
import os

import numpy as np
import torch

import data
import shapes_world as sw
from train import BUNDLE, batch_tensors, load_checkpoint


def gap_bucket(scene: sw.Scene) -> str:
    radii = sorted((o.r for o in scene.objects), reverse=True)
    if len(radii) == 1:
        return "one object"
    gap = radii[0] - radii[1]
    return "gap < 1 px" if gap < 1 else "gap 1-3 px" if gap < 3 else "gap >= 3 px"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", default=os.path.join(BUNDLE, ".data", "model.pt"))
    ap.add_argument("--pairs", type=int, default=2000)
    args = ap.parse_args()
    torch.set_num_threads(2)
    model = load_checkpoint(args.checkpoint)
    arrays = data.build_arrays("test", args.pairs)
    predicted = []
    with torch.no_grad():
        for start in range(0, args.pairs, 250):
            b = batch_tensors(arrays, np.arange(start, min(args.pairs, start + 250)))
            predicted.append(model(b["image"], b["ids"], b["attn"])[0].argmax(1).numpy())
    right = np.concatenate(predicted) == arrays["shape"]
    pairs, wrong = collections.Counter(), collections.Counter()
    for i in range(args.pairs):
        bucket = gap_bucket(sw.sample_scene(data.SPLIT_SEEDS["test"], i))
        pairs[bucket] += 1
        wrong[bucket] += int(not right[i])
    print(f"shape accuracy {right.mean():.4f} on {args.pairs} test pairs")
    for bucket in ["one object", "gap >= 3 px", "gap 1-3 px", "gap < 1 px"]:
        print(f"  {bucket:12s} {pairs[bucket]:5d} pairs, {wrong[bucket]:3d} wrong, "
              f"accuracy {1 - wrong[bucket] / max(1, pairs[bucket]):.4f}")


if __name__ == "__main__":
    main()
