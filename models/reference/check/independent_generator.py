#!/usr/bin/env python3
"""Independent shapes-world generator, written from shared/specs/shapes-world.md only.

It exists to check the acceptance criterion "an independent generator written from the
same spec scores within 3 points": it shares no code with models/reference/train/.

    /usr/bin/python3 models/reference/check/independent_generator.py --out DIR --pairs N --seed S

Writes DIR/pairs/<id>.png (S x S RGB), DIR/pairs/<id>.txt (the caption),
DIR/masks/<id>.png (L, 0 or 255), DIR/scenes/<id>.png (L, class index 0..6 per pixel)
and DIR/truth.jsonl in the layout that models/reference/train/evaluate-onnx.ts reads. Choices where the spec is open are
listed in README.md next to this file.
"""
from __future__ import annotations

import argparse
import json
import math
import os
from dataclasses import dataclass, asdict

import numpy as np
from PIL import Image

SIZE = 128  # reference canvas; every length in the spec is given for it
SHAPES = ["circle", "square", "triangle", "diamond", "star", "cross"]
COLORS = {
    "red": (220, 40, 40),
    "green": (40, 170, 60),
    "blue": (40, 80, 220),
    "yellow": (235, 215, 40),
    "purple": (140, 60, 190),
    "orange": (245, 140, 30),
    "cyan": (40, 200, 210),
    "pink": (240, 120, 180),
}
RADII = {"small": (8.0, 13.0), "large": (19.0, 26.0)}
RELATIONS = ["left of", "right of", "above", "below"]
PREFIXES = ["there is ", "an image of ", "a photo of "]
MARGIN = 4.0  # object bounding boxes stay this far inside the canvas
GAP = 2.0  # minimum distance between two bounding boxes
REL_MIN = 4.0  # centres must differ by this much for a relation to hold
SUPERSAMPLE = 4  # sub-samples per pixel side, for anti-aliased edges


@dataclass
class Obj:
    shape: str
    color: str
    size: str
    r: float
    cx: float
    cy: float
    rgb: list


@dataclass
class Mention:
    """One object named in a caption; size None means the size word was dropped."""

    shape: str
    color: str
    size: str | None


# ---------------------------------------------------------------- scene


def sample_scene(rng: np.random.Generator) -> list[Obj]:
    """1-3 objects, placed by rejection; a scene that cannot be packed is redrawn whole
    so that the attribute distribution is not biased towards small objects."""
    n = int(rng.integers(1, 4))
    while True:
        objs: list[Obj] = []
        for _ in range(n):
            obj = place_object(rng, objs)
            if obj is None:
                break
            objs.append(obj)
        if len(objs) == n:
            return objs


def place_object(rng: np.random.Generator, placed: list[Obj], tries: int = 100) -> Obj | None:
    shape = SHAPES[int(rng.integers(len(SHAPES)))]
    color = list(COLORS)[int(rng.integers(len(COLORS)))]
    size = "small" if rng.random() < 0.5 else "large"
    r = float(rng.uniform(*RADII[size]))
    lo, hi = MARGIN + r, SIZE - MARGIN - r
    for _ in range(tries):
        cx, cy = float(rng.uniform(lo, hi)), float(rng.uniform(lo, hi))
        if all(boxes_apart(cx, cy, r, o) for o in placed):
            rgb = [int(np.clip(c + rng.integers(-20, 21), 0, 255)) for c in COLORS[color]]
            return Obj(shape, color, size, r, cx, cy, rgb)
    return None


def boxes_apart(cx: float, cy: float, r: float, o: Obj) -> bool:
    """Bounding boxes (side 2r) separated by at least GAP along some axis."""
    gap_x = abs(cx - o.cx) - (r + o.r)
    gap_y = abs(cy - o.cy) - (r + o.r)
    return max(gap_x, gap_y) >= GAP


# ---------------------------------------------------------------- drawing


def background(rng: np.random.Generator) -> np.ndarray:
    """Grey gradient across the whole canvas in a random direction, tinted per channel."""
    theta = rng.uniform(0, 2 * math.pi)
    g1, g2 = rng.uniform(40, 200, size=2)
    tint = rng.uniform(-15, 15, size=3)
    ys, xs = np.mgrid[0:SIZE, 0:SIZE] + 0.5
    proj = xs * math.cos(theta) + ys * math.sin(theta)
    t = (proj - proj.min()) / (proj.max() - proj.min())
    grey = g1 + (g2 - g1) * t
    img = grey[..., None] + tint[None, None, :]
    img = img + rng.normal(0, 6, size=img.shape)
    return np.clip(img, 0, 255)


def inside(shape: str, dx: np.ndarray, dy: np.ndarray, r: float) -> np.ndarray:
    """Point-in-shape test; dx, dy relative to the centre, y pointing down."""
    if shape == "circle":
        return dx * dx + dy * dy <= r * r
    if shape == "square":  # corners on the circle
        a = r / math.sqrt(2)
        return (np.abs(dx) <= a) & (np.abs(dy) <= a)
    if shape == "diamond":  # vertices on the circle
        return np.abs(dx) + np.abs(dy) <= r
    if shape == "cross":  # arms reach r, bars 0.8 r wide
        w = 0.4 * r
        ax, ay = np.abs(dx), np.abs(dy)
        return ((ax <= w) & (ay <= r)) | ((ay <= w) & (ax <= r))
    if shape == "triangle":  # apex up, vertices on the circle
        return in_polygon(dx, dy, regular_points(3, r, r))
    if shape == "star":  # one point up, inner radius 0.45 r
        return in_polygon(dx, dy, regular_points(5, r, 0.45 * r))
    raise ValueError(shape)


def regular_points(k: int, outer: float, inner: float) -> np.ndarray:
    """Vertices starting at the top; with inner < outer a k-pointed star (2k vertices).
    A polygon (inner == outer) takes only the k outer vertices."""
    if inner == outer:
        angles = -math.pi / 2 + 2 * math.pi * np.arange(k) / k
        radii = np.full(k, outer)
    else:
        angles = -math.pi / 2 + math.pi * np.arange(2 * k) / k
        radii = np.where(np.arange(2 * k) % 2 == 0, outer, inner)
    return np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)


def in_polygon(x: np.ndarray, y: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Even-odd ray casting; works for the concave star too."""
    result = np.zeros(x.shape, dtype=bool)
    for (x1, y1), (x2, y2) in zip(poly, np.roll(poly, -1, axis=0)):
        crosses = (y1 > y) != (y2 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            xi = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
        result ^= crosses & (x < xi)
    return result


def coverage(obj: Obj) -> np.ndarray:
    """Fraction of each pixel the object covers (SUPERSAMPLE^2 samples per pixel).
    Computed over the padded bounding box only, then pasted into a full canvas."""
    s = SUPERSAMPLE
    x0 = max(0, int(math.floor(obj.cx - obj.r)) - 1)
    x1 = min(SIZE, int(math.ceil(obj.cx + obj.r)) + 1)
    y0 = max(0, int(math.floor(obj.cy - obj.r)) - 1)
    y1 = min(SIZE, int(math.ceil(obj.cy + obj.r)) + 1)
    sub = (np.arange(s) + 0.5) / s
    xs = (np.arange(x0, x1)[:, None] + sub[None, :]).ravel()
    ys = (np.arange(y0, y1)[:, None] + sub[None, :]).ravel()
    dx, dy = np.meshgrid(xs - obj.cx, ys - obj.cy)
    hit = inside(obj.shape, dx, dy, obj.r).astype(np.float32)
    local = hit.reshape(y1 - y0, s, x1 - x0, s).mean(axis=(1, 3))
    full = np.zeros((SIZE, SIZE), dtype=np.float32)
    full[y0:y1, x0:x1] = local
    return full


def render(rng: np.random.Generator, objs: list[Obj]) -> tuple[np.ndarray, list[np.ndarray]]:
    """The image (uint8) and each object's coverage map."""
    img = background(rng)
    covers = [coverage(o) for o in objs]
    for o, a in zip(objs, covers):
        img = img * (1 - a[..., None]) + np.array(o.rgb, dtype=float)[None, None, :] * a[..., None]
    return np.round(img).astype(np.uint8), covers


# ---------------------------------------------------------------- objects and scene


def spec_box(obj: Obj) -> tuple[float, float, float, float]:
    """The `objects` box of the spec's Tasks section, straight from its formulas:
    (left, top, right, bottom) in canvas pixels, y down."""
    cx, cy, r = obj.cx, obj.cy, obj.r
    if obj.shape in ("circle", "diamond", "cross"):
        return cx - r, cy - r, cx + r, cy + r
    if obj.shape == "square":
        h = r / math.sqrt(2)
        return cx - h, cy - h, cx + h, cy + h
    if obj.shape == "triangle":
        half = r * math.cos(math.pi / 6)
        return cx - half, cy - r, cx + half, cy + r / 2
    if obj.shape == "star":
        half = r * math.cos(math.pi / 10)
        return cx - half, cy - r, cx + half, cy + r * math.sin(0.3 * math.pi)
    raise ValueError(obj.shape)


def class_map(objs: list[Obj], covers: list[np.ndarray]) -> np.ndarray:
    """The `scene` target: 0 for background, 1 + the shape's index for pixels at least half
    covered by an object (the same rule as the mask; objects never overlap)."""
    out = np.zeros((SIZE, SIZE), dtype=np.uint8)
    for o, a in zip(objs, covers):
        out[a >= 0.5] = SHAPES.index(o.shape) + 1
    return out


# ---------------------------------------------------------------- captions


def relation_holds(rel: str, a: Obj, b: Obj) -> bool:
    if rel == "left of":
        return b.cx - a.cx >= REL_MIN
    if rel == "right of":
        return a.cx - b.cx >= REL_MIN
    if rel == "above":
        return b.cy - a.cy >= REL_MIN
    if rel == "below":
        return a.cy - b.cy >= REL_MIN
    raise ValueError(rel)


def fits(m: Mention, o: Obj) -> bool:
    return m.shape == o.shape and m.color == o.color and (m.size is None or m.size == o.size)


def caption_true(mentions: list[Mention], rel: str | None, objs: list[Obj]) -> bool:
    """True when some object (or ordered pair of distinct objects) fits the mentions."""
    if len(mentions) == 1:
        return any(fits(mentions[0], o) for o in objs)
    return any(
        fits(mentions[0], a) and fits(mentions[1], b) and relation_holds(rel, a, b)
        for a in objs
        for b in objs
        if a is not b
    )


def mention_of(rng: np.random.Generator, o: Obj) -> Mention:
    return Mention(o.shape, o.color, None if rng.random() < 0.3 else o.size)


def true_caption(rng: np.random.Generator, objs: list[Obj]) -> tuple[list[Mention], str | None]:
    """One mention, or (when there are two objects or more, half the time) two mentions
    and a relation picked among those that hold between their centres."""
    if len(objs) >= 2 and rng.random() < 0.5:
        i, j = rng.choice(len(objs), size=2, replace=False)
        a, b = objs[i], objs[j]
        holding = [rel for rel in RELATIONS if relation_holds(rel, a, b)]
        rel = holding[int(rng.integers(len(holding)))]
        return [mention_of(rng, a), mention_of(rng, b)], rel
    o = objs[int(rng.integers(len(objs)))]
    return [mention_of(rng, o)], None


def falsify(
    rng: np.random.Generator, mentions: list[Mention], rel: str | None, objs: list[Obj]
) -> tuple[list[Mention], str | None] | None:
    """Change exactly one colour, shape, size or the relation, choosing the field first
    (uniformly among those the caption has) and then a value that makes it false.
    None when that field has no such value; the caller then tries again."""
    fields = [(k, f) for k, m in enumerate(mentions) for f in ("color", "shape", "size") if f != "size" or m.size]
    if rel is not None:
        fields.append((None, "relation"))
    k, field = fields[int(rng.integers(len(fields)))]
    candidates = []
    if field == "relation":
        for value in RELATIONS:
            if value != rel and not caption_true(mentions, value, objs):
                candidates.append((mentions, value))
    else:
        values = {"color": list(COLORS), "shape": SHAPES, "size": list(RADII)}[field]
        for value in values:
            if value == getattr(mentions[k], field):
                continue
            changed = [Mention(**{**asdict(m), field: value}) if i == k else m for i, m in enumerate(mentions)]
            if not caption_true(changed, rel, objs):
                candidates.append((changed, rel))
    if not candidates:
        return None
    return candidates[int(rng.integers(len(candidates)))]


def phrase(m: Mention) -> str:
    words = ([m.size] if m.size else []) + [m.color, m.shape]
    article = "an" if words[0][0] in "aeiou" else "a"  # only "orange" starts with a vowel
    return " ".join([article] + words)


def caption_text(rng: np.random.Generator, mentions: list[Mention], rel: str | None) -> str:
    body = phrase(mentions[0]) if rel is None else f"{phrase(mentions[0])} {rel} {phrase(mentions[1])}"
    u = rng.random()
    prefix = PREFIXES[int(u / 0.2)] if u < 0.6 else ""
    return prefix + body


def make_caption(rng: np.random.Generator, objs: list[Obj]) -> tuple[str, list[Mention], int]:
    """A caption that is true with probability 1/2, its mentions and its truth."""
    want_true = rng.random() < 0.5
    while True:
        mentions, rel = true_caption(rng, objs)
        if not want_true:
            changed = falsify(rng, mentions, rel, objs)
            if changed is None:
                continue
            mentions, rel = changed
        assert caption_true(mentions, rel, objs) == want_true
        return caption_text(rng, mentions, rel), mentions, int(want_true)


# ---------------------------------------------------------------- output


def make_pair(rng: np.random.Generator, pid: str, out: str) -> dict:
    objs = sample_scene(rng)
    img, covers = render(rng, objs)
    text, mentions, match = make_caption(rng, objs)
    # Mask: every object with the first named shape, pixels at least half covered.
    mask = np.zeros((SIZE, SIZE), dtype=bool)
    for o, a in zip(objs, covers):
        if o.shape == mentions[0].shape:
            mask |= a >= 0.5
    Image.fromarray(img, "RGB").save(os.path.join(out, "pairs", f"{pid}.png"))
    Image.fromarray(mask.astype(np.uint8) * 255, "L").save(os.path.join(out, "masks", f"{pid}.png"))
    Image.fromarray(class_map(objs, covers), "L").save(os.path.join(out, "scenes", f"{pid}.png"))
    with open(os.path.join(out, "pairs", f"{pid}.txt"), "w", encoding="utf-8") as f:
        f.write(text)
    largest = max(objs, key=lambda o: o.r)
    return {
        "id": pid,
        "image": f"pairs/{pid}.png",
        "text": text,
        "width": SIZE,
        "height": SIZE,
        "shape": largest.shape,
        "colors": [c for c in COLORS if any(o.color == c for o in objs)],
        "count": len(objs),
        "match": match,
        "objects": [
            {"label": o.shape, "box": {"x": x0, "y": y0, "width": x1 - x0, "height": y1 - y0}}
            for o, (x0, y0, x1, y1) in ((o, spec_box(o)) for o in objs)
        ],
        "mask": f"masks/{pid}.png",
        "mask_pixels": int(mask.sum()),
        "scene": f"scenes/{pid}.png",
        "world": {"caption": text, "objects": [asdict(o) for o in objs]},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--pairs", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--prefix", default="ind", help="id prefix")
    args = ap.parse_args()
    os.makedirs(os.path.join(args.out, "pairs"), exist_ok=True)
    os.makedirs(os.path.join(args.out, "masks"), exist_ok=True)
    os.makedirs(os.path.join(args.out, "scenes"), exist_ok=True)
    rng = np.random.default_rng(args.seed)
    with open(os.path.join(args.out, "truth.jsonl"), "w", encoding="utf-8") as f:
        for i in range(args.pairs):
            row = make_pair(rng, f"{args.prefix}-{i:05d}", args.out)
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
