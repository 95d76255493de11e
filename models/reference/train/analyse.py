"""Match errors of a checkpoint by caption kind, on the validation split (a diagnostic).

    /usr/bin/python3 models/reference/train/analyse.py [--checkpoint models/reference/.data/model.pt]
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", default=os.path.join(BUNDLE, ".data", "model.pt"))
    ap.add_argument("--pairs", type=int, default=2000)
    args = ap.parse_args()
    torch.set_num_threads(2)
    model = load_checkpoint(args.checkpoint)
    arrays = data.build_arrays("val", args.pairs)
    right = np.zeros(args.pairs, dtype=bool)
    with torch.no_grad():
        for start in range(0, args.pairs, 256):
            idx = np.arange(start, min(start + 256, args.pairs))
            b = batch_tensors(arrays, idx)
            logit = model(b["image"], b["ids"], b["attn"])[3]
            right[idx] = ((logit > 0).float() == b["match"]).squeeze(1).numpy()
    groups: dict[str, list[bool]] = collections.defaultdict(list)
    for i in range(args.pairs):
        scene = sw.sample_scene(data.SPLIT_SEEDS["val"], i)
        n = len(scene.caption.mentions)
        kind = "true" if scene.is_true else f"false:{scene.changed_attribute}"
        groups[f"{n} mention(s), {kind}"].append(bool(right[i]))
        groups[f"objects={len(scene.objects)}"].append(bool(right[i]))
    for key in sorted(groups):
        v = groups[key]
        print(f"{key:32s} n={len(v):5d} accuracy={np.mean(v):.3f}")
    print(f"{'all':32s} n={args.pairs:5d} accuracy={right.mean():.3f}")


if __name__ == "__main__":
    main()
