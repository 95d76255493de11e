"""Pairs as training arrays, and splits written to disk as the runtime will read them."""
from __future__ import annotations

import io
import json
import os
from multiprocessing import Pool

import numpy as np
from PIL import Image

import shapes_world as sw
import tokenizer

SPLIT_SEEDS = {"train": 1001, "val": 1002, "test": 1003, "parity": 1004}
# Runtime-like resizing for the augmentation of training images.
_RESAMPLERS = [Image.BILINEAR, Image.BICUBIC, Image.LANCZOS, Image.BOX]


def _augment_image(img: np.ndarray, scene: sw.Scene, rng: np.random.Generator) -> np.ndarray:
    """Training only: rendered at another size and resized to 128, or JPEG-compressed,
    as the evaluation images and users' photos reach the model."""
    if rng.random() < 0.3:
        size = int(rng.integers(96, 320))
        big, _, _ = sw.render(scene, size)
        img = np.asarray(Image.fromarray(big).resize((sw.REFERENCE_SIZE,) * 2,
                                                     _RESAMPLERS[int(rng.integers(len(_RESAMPLERS)))]))
    if rng.random() < 0.2:
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format="JPEG", quality=int(rng.integers(70, 96)))
        img = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    return img


GRID = 16  # the match head's detection grid over the 128x128 input (8 px a cell)


def detection_targets(scene: sw.Scene) -> np.ndarray:
    """Per mentioned object, over the 16x16 grid: 1 at the centre cell of every object that
    fits the mention (shape, colour, and size when stated), 2 at the centre of every object
    that does not (a hard negative: often it differs in one attribute only), -1 (ignored)
    around centres, 0 elsewhere; a mention the caption does not have is ignored everywhere."""
    out = np.full((2, GRID, GRID), -1, dtype=np.int8)
    for k, mention in enumerate(scene.caption.mentions):
        row = np.zeros((GRID, GRID), dtype=np.int8)
        centres = [(int(o.cy // 8), int(o.cx // 8), sw.mention_matches(mention, o)) for o in scene.objects]
        for y, x, _ in centres:
            row[max(0, y - 1):y + 2, max(0, x - 1):x + 2] = -1
        for y, x, fits in centres:
            row[y, x] = 1 if fits else 2
        out[k] = row
    return out.reshape(2, GRID * GRID)


def attribute_targets(scene: sw.Scene) -> tuple[np.ndarray, np.ndarray]:
    """Auxiliary targets that make the match head's two sides name the same things: the
    colour, shape and size of the object centred in each grid cell ([3, 256], -1 where none),
    and of each mentioned object ([2, 3]: size 0 when the caption drops it; -1 for a mention
    the caption does not have)."""
    cells = np.full((3, GRID * GRID), -1, dtype=np.int8)
    for o in scene.objects:
        c = int(o.cy // 8) * GRID + int(o.cx // 8)
        cells[:, c] = (sw.COLOR_NAMES.index(o.color), sw.SHAPES.index(o.shape), list(sw.SIZES).index(o.size))
    mentions = np.full((2, 3), -1, dtype=np.int8)
    for k, m in enumerate(scene.caption.mentions):
        mentions[k] = (sw.COLOR_NAMES.index(m.color), sw.SHAPES.index(m.shape), 0 if m.size is None else 1 + list(sw.SIZES).index(m.size))
    return cells, mentions


def size_targets(scene: sw.Scene) -> tuple[np.ndarray, np.ndarray]:
    """Targets of the shape head's "largest object" pathway, over the 16x16 grid: each cell
    whose centre lies in an object's circumscribed circle carries that object's radius / 10
    and shape index; other cells radius 0 and shape -1 (ignored). `shape` is the shape of the
    largest object by radius, and near-ties (under 1 px apart) were most of its errors:
    a radius read at every cell of every object teaches the features to measure it."""
    radius = np.zeros(GRID * GRID, dtype=np.float32)
    shape = np.full(GRID * GRID, -1, dtype=np.int8)
    centres = (np.arange(GRID) + 0.5) * (sw.REFERENCE_SIZE / GRID)
    cy, cx = np.meshgrid(centres, centres, indexing="ij")
    for o in scene.objects:
        # At least the centre cell, so that the smallest objects always have one.
        inside = ((cx - o.cx) ** 2 + (cy - o.cy) ** 2 <= o.r ** 2).reshape(-1)
        inside[int(o.cy // 8) * GRID + int(o.cx // 8)] = True
        radius[inside] = o.r / 10.0
        shape[inside] = sw.SHAPES.index(o.shape)
    return radius, shape


MAX_OBJECTS = 3
BOX_SIZE_UNIT = 32.0  # px of the 128 px input: the detection head predicts log(size / this)


def objects_targets(scene: sw.Scene) -> dict[str, np.ndarray]:
    """Targets of the `objects` head over the 16x16 grid (CenterNet-like), in the 128 px frame.

    The cell holding the centre of an object's box is its positive cell (1 in the heatmap of
    its shape); around it the heatmap falls off as a Gaussian whose width grows with the box, so
    that neighbours are penalised less (a box centre near a cell edge could be read from either
    cell). Box centres of two objects are at least 16 px (two cells) apart, so no cell holds two.
    Boxes are regressed at the positive cell and its 8 neighbours, weighted by the Gaussian (at
    least 0.2), each relative to its own cell: a neighbour scored high enough to pass the
    threshold then predicts the object's box, and the runtime's NMS folds it into the object's.
    A neighbour shared by two objects regresses the nearer one's box.
    Returned: `det_heat` [6, 256], `det_box` [4, 256] (centre offset from the cell centre in
    cells, log(width / 32 px), log(height / 32 px)), `det_weight` [256], and the raw truth
    `boxes` [3, 4] (x0, y0, x1, y1 in px) with `labels` [3] (-1 where no object)."""
    heat = np.zeros((len(sw.SHAPES), GRID, GRID), dtype=np.float32)
    box = np.zeros((4, GRID, GRID), dtype=np.float32)
    weight = np.zeros((GRID, GRID), dtype=np.float32)
    boxes = np.zeros((MAX_OBJECTS, 4), dtype=np.float32)
    labels = np.full(MAX_OBJECTS, -1, dtype=np.int8)
    cell = sw.REFERENCE_SIZE / GRID
    gy, gx = np.mgrid[0:GRID, 0:GRID].astype(np.float32)
    for k, o in enumerate(scene.objects):
        x0, y0, x1, y1 = sw.object_box(o)
        boxes[k] = (x0, y0, x1, y1)
        cls = sw.SHAPES.index(o.shape)
        labels[k] = cls
        bx, by, bw, bh = (x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0
        ci, cj = int(by // cell), int(bx // cell)
        sigma = max(0.35, 0.15 * (bw + bh) / 2 / cell)
        g = np.exp(-((gx - cj) ** 2 + (gy - ci) ** 2) / (2 * sigma * sigma))
        g[ci, cj] = 1.0
        heat[cls] = np.maximum(heat[cls], g)
        w = np.where((np.abs(gx - cj) <= 1) & (np.abs(gy - ci) <= 1), np.maximum(g, 0.2), 0.0)
        near = w > weight
        weight[near] = w[near]
        box[0][near] = bx / cell - (gx[near] + 0.5)
        box[1][near] = by / cell - (gy[near] + 0.5)
        box[2][near] = np.log(bw / BOX_SIZE_UNIT)
        box[3][near] = np.log(bh / BOX_SIZE_UNIT)
    return {"det_heat": heat.reshape(len(sw.SHAPES), -1).astype(np.float16),
            "det_box": box.reshape(4, -1), "det_weight": weight.reshape(-1).astype(np.float16),
            "boxes": boxes, "labels": labels}


def make_example(args: tuple[str, int]) -> dict:
    split, index = args
    augment = split == "train"
    scene = sw.sample_scene(SPLIT_SEEDS[split], index, augment=augment)
    img, mask, classes = sw.render(scene)
    if augment:
        img = _augment_image(img, scene, np.random.default_rng([SPLIT_SEEDS[split], index, 7]))
    ids, attn = tokenizer.encode(scene.caption.text())
    gt = sw.ground_truth(scene)
    colors = np.zeros(len(sw.COLOR_NAMES), dtype=np.float32)
    for c in gt["colors"]:
        colors[sw.COLOR_NAMES.index(c)] = 1.0
    cell_attrs, mention_attrs = attribute_targets(scene)
    cell_radius, cell_shape = size_targets(scene)
    return {
        "cell_radius": cell_radius,
        "cell_shape": cell_shape,
        "detect": detection_targets(scene),
        "cell_attrs": cell_attrs,
        "mention_attrs": mention_attrs,
        "image": img,
        "mask": mask,
        "classes": classes,
        **objects_targets(scene),
        "ids": np.asarray(ids, dtype=np.int64),
        "attn": np.asarray(attn, dtype=np.int64),
        "shape": sw.SHAPES.index(gt["shape"]),
        "colors": colors,
        "count": gt["count"],
        "match": gt["match"],
    }


def build_arrays(split: str, n: int, workers: int = 2) -> dict[str, np.ndarray]:
    with Pool(workers) as pool:
        examples = pool.map(make_example, [(split, i) for i in range(n)], chunksize=256)
    out = {}
    for key in examples[0]:
        out[key] = np.stack([e[key] for e in examples])
    return out


def write_pairs(split: str, indices: list[int], out_dir: str, sizes: list[int] | None = None,
                formats: dict[int, str] | None = None, with_masks: bool = True) -> list[dict]:
    """Write pairs as `pairs/<id>.<ext>` + `pairs/<id>.txt` (a folder `fusebatch infer` reads
    as it is), ground truth to `truth.jsonl`, target masks to `masks/<id>.png` and class maps
    of the `scene` task to `scenes/<id>.png` (8-bit greyscale, values 0..6).

    `sizes[k]` renders the k-th pair at another canvas size (the scene scaled), so
    the runtime's resize path is exercised; `formats` maps a size to png/jpeg/webp.
    Truth lines name each task's expected value under the task's name (`objects`: boxes in
    pixels of the delivered image; `mask` and `scene`: PNG paths relative to truth.jsonl);
    `world` describes the drawn scene (caption, objects in the 128 px reference frame).
    """
    pairs_dir = os.path.join(out_dir, "pairs")
    os.makedirs(pairs_dir, exist_ok=True)
    if with_masks:
        os.makedirs(os.path.join(out_dir, "masks"), exist_ok=True)
        os.makedirs(os.path.join(out_dir, "scenes"), exist_ok=True)
    records = []
    for k, index in enumerate(indices):
        scene = sw.sample_scene(SPLIT_SEEDS[split], index)
        size = sizes[k] if sizes else sw.REFERENCE_SIZE
        fmt = (formats or {}).get(size, "png")
        img, mask, classes = sw.render(scene, size)
        pair_id = f"{split}-{index:05d}"
        ext = {"png": "png", "jpeg": "jpg", "webp": "webp"}[fmt]
        image_name = f"pairs/{pair_id}.{ext}"
        save_args = {"quality": 92} if fmt in ("jpeg", "webp") else {}
        Image.fromarray(img).save(os.path.join(out_dir, image_name), format=fmt.upper(), **save_args)
        text = scene.caption.text()
        with open(os.path.join(pairs_dir, f"{pair_id}.txt"), "w", encoding="utf-8") as f:
            f.write(text)
        record = {"id": pair_id, "image": image_name, "text": text, "width": size, "height": size,
                  **sw.ground_truth(scene), "objects": sw.objects_truth(scene, size)}
        if with_masks:
            record["mask"] = f"masks/{pair_id}.png"
            record["mask_pixels"] = int(mask.sum())
            Image.fromarray(mask).save(os.path.join(out_dir, record["mask"]), optimize=True)
            record["scene"] = f"scenes/{pair_id}.png"
            Image.fromarray(classes, mode="L").save(os.path.join(out_dir, record["scene"]), optimize=True)
        record["world"] = sw.scene_record(scene)
        records.append(record)
    with open(os.path.join(out_dir, "truth.jsonl"), "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    return records
