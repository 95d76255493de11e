"""The shapes world of shared/specs/shapes-world.md: scenes, captions, images, ground truth.

A pair is drawn from its own RNG, seeded by (split seed, pair index), so any pair of any
split can be regenerated alone and in any order. Scene geometry is drawn in the reference
frame (S = 128) and scaled at render time, so one scene renders at any canvas size.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, asdict

import numpy as np

REFERENCE_SIZE = 128
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
COLOR_NAMES = list(COLORS)
SIZES = {"small": (8.0, 13.0), "large": (19.0, 26.0)}
RELATIONS = ["left of", "right of", "above", "below"]
PREFIXES = ["there is ", "an image of ", "a photo of "]
MARGIN = 4.0
MIN_GAP = 2.0
RELATION_MIN_OFFSET = 4.0


@dataclass
class SceneObject:
    shape: str
    color: str
    size: str
    r: float
    cx: float
    cy: float
    rgb: tuple[int, int, int]


@dataclass
class Mention:
    size: str | None  # None when the size word is dropped
    color: str
    shape: str


@dataclass
class Caption:
    mentions: list[Mention]
    relation: str | None
    prefix: str
    trailing_stop: bool = False

    def text(self) -> str:
        words: list[str] = []
        for i, m in enumerate(self.mentions):
            if i == 1:
                words.append(self.relation)
            phrase = " ".join(w for w in (m.size, m.color, m.shape) if w)
            words.append(("an " if phrase[0] in "aeiou" else "a ") + phrase)
        body = " ".join(words)
        prefix = self.prefix
        if prefix:
            # "there is a ...", "an image of a ...": the prefix keeps its own article.
            body = prefix + body
        return body + ("." if self.trailing_stop else "")


@dataclass
class Scene:
    background: dict
    objects: list[SceneObject]
    caption: Caption
    is_true: bool
    # Index into `objects` of the object each mention was drawn from (before any
    # falsification), and which mention a falsification changed (-1: the relation).
    referents: list[int] = field(default_factory=list)
    changed_mention: int | None = None
    changed_attribute: str | None = None  # colour, shape, size or relation
    antialias: bool = True
    noise_on_objects: bool = False
    extra: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------
# Geometry


def _boxes_apart(a: SceneObject, b: SceneObject) -> bool:
    gap_x = abs(a.cx - b.cx) - (a.r + b.r)
    gap_y = abs(a.cy - b.cy) - (a.r + b.r)
    return max(gap_x, gap_y) >= MIN_GAP


def relation_holds(rel: str, a: SceneObject, b: SceneObject) -> bool:
    if rel == "left of":
        return a.cx <= b.cx - RELATION_MIN_OFFSET
    if rel == "right of":
        return a.cx >= b.cx + RELATION_MIN_OFFSET
    if rel == "above":
        return a.cy <= b.cy - RELATION_MIN_OFFSET
    if rel == "below":
        return a.cy >= b.cy + RELATION_MIN_OFFSET
    raise ValueError(f"unknown relation {rel!r}; expected one of {RELATIONS}")


def mention_matches(m: Mention, o: SceneObject) -> bool:
    return m.shape == o.shape and m.color == o.color and (m.size is None or m.size == o.size)


def caption_is_true(caption: Caption, objects: list[SceneObject]) -> bool:
    firsts = [o for o in objects if mention_matches(caption.mentions[0], o)]
    if len(caption.mentions) == 1:
        return bool(firsts)
    seconds = [o for o in objects if mention_matches(caption.mentions[1], o)]
    return any(a is not b and relation_holds(caption.relation, a, b) for a in firsts for b in seconds)


# ---------------------------------------------------------------------------
# Sampling


def _sample_objects(rng: np.random.Generator) -> list[SceneObject]:
    count = int(rng.integers(1, 4))
    while True:
        objects: list[SceneObject] = []
        for _ in range(count):
            placed = False
            shape = SHAPES[int(rng.integers(len(SHAPES)))]
            color = COLOR_NAMES[int(rng.integers(len(COLOR_NAMES)))]
            size = "small" if rng.random() < 0.5 else "large"
            lo, hi = SIZES[size]
            r = float(rng.uniform(lo, hi))
            rgb = tuple(int(np.clip(c + rng.integers(-20, 21), 0, 255)) for c in COLORS[color])
            for _attempt in range(100):
                cx = float(rng.uniform(MARGIN + r, REFERENCE_SIZE - MARGIN - r))
                cy = float(rng.uniform(MARGIN + r, REFERENCE_SIZE - MARGIN - r))
                cand = SceneObject(shape, color, size, r, cx, cy, rgb)
                if all(_boxes_apart(cand, o) for o in objects):
                    objects.append(cand)
                    placed = True
                    break
            if not placed:
                break
        if len(objects) == count:
            return objects


def _describe(o: SceneObject, rng: np.random.Generator) -> Mention:
    return Mention(size=None if rng.random() < 0.3 else o.size, color=o.color, shape=o.shape)


def _true_caption(objects: list[SceneObject], rng: np.random.Generator) -> tuple[Caption, list[int]]:
    r = rng.random()
    prefix = "" if r >= 0.6 else PREFIXES[int(r / 0.2)]
    trailing_stop = False
    if len(objects) >= 2 and rng.random() < 0.5:
        i, j = rng.choice(len(objects), size=2, replace=False)
        a, b = objects[int(i)], objects[int(j)]
        holding = [rel for rel in RELATIONS if relation_holds(rel, a, b)]
        rel = holding[int(rng.integers(len(holding)))]
        return Caption([_describe(a, rng), _describe(b, rng)], rel, prefix, trailing_stop), [int(i), int(j)]
    k = int(rng.integers(len(objects)))
    return Caption([_describe(objects[k], rng)], None, prefix, trailing_stop), [k]


def _falsify(caption: Caption, objects: list[SceneObject],
             rng: np.random.Generator) -> tuple[Caption, int, str] | None:
    """Change exactly one attribute (colour, shape, size or relation) so the caption is false."""
    options: list[tuple[str, int]] = []
    for k, m in enumerate(caption.mentions):
        options += [("color", k), ("shape", k)]
        if m.size is not None:
            options.append(("size", k))
    if caption.relation is not None:
        options.append(("relation", -1))
    order = rng.permutation(len(options))
    for idx in order:
        what, k = options[int(idx)]
        if what == "relation":
            values = [v for v in RELATIONS if v != caption.relation]
        else:
            current = getattr(caption.mentions[k], what)
            pool = {"color": COLOR_NAMES, "shape": SHAPES, "size": list(SIZES)}[what]
            values = [v for v in pool if v != current]
        for vi in rng.permutation(len(values)):
            value = values[int(vi)]
            mentions = [Mention(m.size, m.color, m.shape) for m in caption.mentions]
            relation = caption.relation
            if what == "relation":
                relation = value
            else:
                setattr(mentions[k], what, value)
            cand = Caption(mentions, relation, caption.prefix, caption.trailing_stop)
            if not caption_is_true(cand, objects):
                return cand, k, what
    return None


def sample_scene(split_seed: int, index: int, augment: bool = False) -> Scene:
    """Draw pair `index` of the split seeded by `split_seed`.

    `augment` (training only) varies what the spec leaves open or might be read
    differently by another generator: hard or anti-aliased edges, noise over the
    objects too, a trailing full stop.
    """
    rng = np.random.default_rng([split_seed, index])
    background = {
        "angle": float(rng.uniform(0.0, 2.0 * math.pi)),
        "g1": float(rng.uniform(40, 200)),
        "g2": float(rng.uniform(40, 200)),
        "tint": [float(t) for t in rng.uniform(-15, 15, size=3)],
        "noise_seed": int(rng.integers(2**31)),
    }
    while True:
        objects = _sample_objects(rng)
        caption, referents = _true_caption(objects, rng)
        is_true = bool(rng.random() < 0.5)
        changed, changed_attribute = None, None
        if not is_true:
            falsified = _falsify(caption, objects, rng)
            if falsified is None:
                continue
            caption, changed, changed_attribute = falsified
        break
    antialias = True
    noise_on_objects = False
    if augment:
        antialias = bool(rng.random() < 0.5)
        noise_on_objects = bool(rng.random() < 0.25)
        caption.trailing_stop = bool(rng.random() < 0.1)
    return Scene(background, objects, caption, is_true, referents, changed, changed_attribute, antialias,
                 noise_on_objects)


# ---------------------------------------------------------------------------
# Rendering


def _polygon_inside(px: np.ndarray, py: np.ndarray, verts: list[tuple[float, float]]) -> np.ndarray:
    """Even-odd rule point-in-polygon over arrays of points."""
    inside = np.zeros(px.shape, dtype=bool)
    n = len(verts)
    for i in range(n):
        x1, y1 = verts[i]
        x2, y2 = verts[(i + 1) % n]
        crosses = (y1 > py) != (y2 > py)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_at = x1 + (py - y1) * (x2 - x1) / (y2 - y1)
        inside ^= crosses & (px < x_at)
    return inside


def shape_inside(shape: str, dx: np.ndarray, dy: np.ndarray, r: float) -> np.ndarray:
    """Is (dx, dy), relative to the centre (y down), inside the shape of circumradius r?"""
    if shape == "circle":
        return dx * dx + dy * dy <= r * r
    if shape == "square":
        h = r / math.sqrt(2.0)
        return (np.abs(dx) <= h) & (np.abs(dy) <= h)
    if shape == "diamond":
        return np.abs(dx) + np.abs(dy) <= r
    if shape == "cross":
        w = 0.4 * r
        adx, ady = np.abs(dx), np.abs(dy)
        return ((adx <= r) & (ady <= w)) | ((adx <= w) & (ady <= r))
    if shape == "triangle":
        verts = [(r * math.cos(a), r * math.sin(a)) for a in (-math.pi / 2, math.pi / 6, 5 * math.pi / 6)]
        return _polygon_inside(dx, dy, verts)
    if shape == "star":
        verts = []
        for k in range(10):
            rad = r if k % 2 == 0 else 0.45 * r
            a = -math.pi / 2 + k * math.pi / 5
            verts.append((rad * math.cos(a), rad * math.sin(a)))
        return _polygon_inside(dx, dy, verts)
    raise ValueError(f"unknown shape {shape!r}; expected one of {SHAPES}")


def _coverage(o: SceneObject, size: int, scale: float, antialias: bool) -> tuple[slice, slice, np.ndarray]:
    """Fraction of each pixel inside the object, over the object's bounding box."""
    cx, cy, r = o.cx * scale, o.cy * scale, o.r * scale
    x0, x1 = max(0, int(math.floor(cx - r)) - 1), min(size, int(math.ceil(cx + r)) + 1)
    y0, y1 = max(0, int(math.floor(cy - r)) - 1), min(size, int(math.ceil(cy + r)) + 1)
    ss = 4 if antialias else 1
    offsets = (np.arange(ss) + 0.5) / ss
    xs = (np.arange(x0, x1)[:, None] + offsets[None, :]).reshape(-1)
    ys = (np.arange(y0, y1)[:, None] + offsets[None, :]).reshape(-1)
    px, py = np.meshgrid(xs - cx, ys - cy)
    inside = shape_inside(o.shape, px, py, r).astype(np.float32)
    cov = inside.reshape(y1 - y0, ss, x1 - x0, ss).mean(axis=(1, 3))
    return slice(y0, y1), slice(x0, x1), cov


def render(scene: Scene, size: int = REFERENCE_SIZE) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Render to (RGB uint8 [size, size, 3], target mask bool [size, size], class map uint8
    [size, size]). Mask and class map come from the coverage the image was drawn with: a pixel
    belongs to an object when at least half of it is covered (objects never overlap). The class
    map holds 0 for background and 1 + the shape's index in SHAPES for an object's pixels."""
    scale = size / REFERENCE_SIZE
    bg = scene.background
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    ux, uy = math.cos(bg["angle"]), math.sin(bg["angle"])
    proj = (xx - size / 2) * ux + (yy - size / 2) * uy
    half_extent = (abs(ux) + abs(uy)) * size / 2
    t = (proj / half_extent + 1.0) / 2.0
    grey = bg["g1"] + (bg["g2"] - bg["g1"]) * t
    img = grey[..., None] + np.asarray(bg["tint"], dtype=np.float32)[None, None, :]
    noise = np.random.default_rng(bg["noise_seed"]).normal(0.0, 6.0, size=(size, size, 3)).astype(np.float32)
    if not scene.noise_on_objects:
        img = img + noise

    first_shape = scene.caption.mentions[0].shape
    mask = np.zeros((size, size), dtype=bool)
    classes = np.zeros((size, size), dtype=np.uint8)
    for o in scene.objects:
        ys, xs, cov = _coverage(o, size, scale, scene.antialias)
        colour = np.asarray(o.rgb, dtype=np.float32)
        img[ys, xs] = img[ys, xs] * (1.0 - cov[..., None]) + colour * cov[..., None]
        covered = cov >= 0.5
        if o.shape == first_shape:
            mask[ys, xs] |= covered
        classes[ys, xs][covered] = 1 + SHAPES.index(o.shape)
    if scene.noise_on_objects:
        img = img + noise
    return np.clip(np.rint(img), 0, 255).astype(np.uint8), mask, classes


# Half-extents of each shape's tight axis-aligned box, in units of its circumscribed radius r:
# (left, top, right, bottom) distances from the centre (image y grows downwards), from the
# geometry of the spec (not from drawn pixels, so anti-aliasing does not move them).
_BOX_EXTENTS = {
    "circle": (1.0, 1.0, 1.0, 1.0),
    "diamond": (1.0, 1.0, 1.0, 1.0),
    "cross": (1.0, 1.0, 1.0, 1.0),
    "square": (1 / math.sqrt(2.0),) * 4,
    "triangle": (math.cos(math.radians(30)), 1.0, math.cos(math.radians(30)), 0.5),
    "star": (math.cos(math.radians(18)), 1.0, math.cos(math.radians(18)), math.sin(math.radians(54))),
}


def object_box(o: SceneObject, size: int = REFERENCE_SIZE) -> tuple[float, float, float, float]:
    """The tight box of the object's geometry, (x0, y0, x1, y1) in pixels of an image of
    `size` px (scene geometry is in the 128 px reference frame and scales with size / 128)."""
    left, top, right, bottom = _BOX_EXTENTS[o.shape]
    s = size / REFERENCE_SIZE
    return ((o.cx - left * o.r) * s, (o.cy - top * o.r) * s, (o.cx + right * o.r) * s, (o.cy + bottom * o.r) * s)


def objects_truth(scene: Scene, size: int = REFERENCE_SIZE) -> list[dict]:
    """Ground truth of the `objects` task: one box per object, labelled by shape, with its
    top-left corner, width and height in pixels of the delivered image."""
    out = []
    for o in scene.objects:
        x0, y0, x1, y1 = object_box(o, size)
        out.append({"label": o.shape, "box": {"x": x0, "y": y0, "width": x1 - x0, "height": y1 - y0}})
    return out


def ground_truth(scene: Scene) -> dict:
    largest = max(scene.objects, key=lambda o: o.r)
    colors = sorted({o.color for o in scene.objects}, key=COLOR_NAMES.index)
    return {
        "shape": largest.shape,
        "colors": colors,
        "count": len(scene.objects),
        "match": 1 if scene.is_true else 0,
    }


def scene_record(scene: Scene) -> dict:
    """The scene as plain data, for ground-truth files."""
    return {
        "caption": scene.caption.text(),
        "objects": [
            {k: v for k, v in asdict(o).items() if k != "rgb"} | {"rgb": list(o.rgb)} for o in scene.objects
        ],
    }
