#!/usr/bin/env python3
"""Build the seed article's two model bundles: models/seed-multitask and models/seed-multimodal.

    /usr/bin/python3 models/seed/build.py            # train, export, fixtures, evaluate, cards
    /usr/bin/python3 models/seed/build.py --cards    # only rewrite the two MODEL_CARD.md files

The article (shared/specs/seed-models.md) gives two small PyTorch models. They are defined
below as it prints them; MultiModalModel's `forward` cannot run as printed and gets the one
change the spec permits (see the comment in it). Each is trained for a few minutes on
shapes-world pairs rendered at 64x64 (the project's generator, models/reference/train/
shapes_world.py), exported to ONNX (opset 17, dynamic batch), and written as a bundle with
model.json, parity fixtures (PyTorch's raw outputs for 8 pairs) and a model card. The
held-out metrics in the cards are measured from the ONNX files with onnxruntime-node by
models/seed/evaluate-onnx.ts, which this script runs (it needs `npm ci` first).

Data: train split seed 2001 (augment=True: hard or anti-aliased edges, noise over objects,
trailing full stops), held-out split seed 2003 (written to models/seed/.data/test, not
committed), parity split seed 2004 (the 8 fixture pairs).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import time
import unicodedata

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "models", "reference", "train"))
import shapes_world as sw  # noqa: E402  (the project's generator)
from export import read_tensors, write_tensors  # noqa: E402  (the parity fixtures' format)

MULTITASK_DIR = os.path.join(ROOT, "models", "seed-multitask")
MULTIMODAL_DIR = os.path.join(ROOT, "models", "seed-multimodal")
WEIGHTS_DIR = os.path.join(HERE, "weights")
DATA_DIR = os.path.join(HERE, ".data")

SIZE = 64  # the canvas the seed models see (shapes_world scales every length by SIZE / 128)
HEAD = SIZE // 2  # the heads' maps: MaxPool2d(2) halves the input
SPLIT_SEEDS = {"train": 2001, "test": 2003, "parity": 2004}
OPSET = 17
MEAN, STD = 0.5, 0.5
MAX_LENGTH = 8  # words per caption the text tensor holds (longer captions are truncated)
EMBED_DIM = 100  # nn.LSTM(input_size=100)
PARITY_PAIRS = 8


# ---------------------------------------------------------------------------
# The article's models


# Verbatim from the article.
class MultiTaskModel(nn.Module):
    def __init__(self):
        super(MultiTaskModel, self).__init__()
        self.shared_layers = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=2, stride=2)
        )
        self.task_specific_layers = nn.ModuleDict({
            'task1': nn.Conv2d(64, 1, kernel_size=3, stride=1, padding=1),
            'task2': nn.Conv2d(64, 1, kernel_size=3, stride=1, padding=1)
        })

    def forward(self, x):
        x = self.shared_layers(x)
        outputs = {}
        for task_name, layer in self.task_specific_layers.items():
            outputs[task_name] = layer(x)
        return outputs


# The article's __init__ verbatim; `forward` with the one permitted change (marked CHANGED).
class MultiModalModel(nn.Module):
    def __init__(self):
        super(MultiModalModel, self).__init__()
        self.image_encoder = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=2, stride=2)
        )
        self.text_encoder = nn.LSTM(input_size=100, hidden_size=64, num_layers=2)
        self.fusion_layer = nn.Linear(64 + 64, 128)
        self.classifier = nn.Linear(128, 1)

    def forward(self, image, text):
        image_features = self.image_encoder(image)
        # CHANGED (the article's forward cannot run): it concatenated the 4-D map
        # [N, 64, H/2, W/2] with nn.LSTM's (output, (h, c)) tuple. The smallest change that
        # runs keeps every layer and only reshapes what is concatenated:
        # 1. average-pool the image map over its spatial axes -> [N, 64];
        image_features = image_features.mean(dim=(2, 3))
        # 2. take the LSTM's last layer's final hidden state h[-1] -> [N, 64].
        _, (h, _) = self.text_encoder(text)
        text_features = h[-1]
        # Unchanged from here on.
        fused_features = self.fusion_layer(torch.cat((image_features, text_features), dim=1))
        output = self.classifier(fused_features)
        return output


# ---------------------------------------------------------------------------
# Captions to words to vectors: the rule the runtime implements

# Every word the shapes-world generator can write (prefixes, articles, sizes, colours, shapes,
# relations). Index 0 of the embedding is the zero vector of padding and unknown words.
VOCAB = (
    ["a", "an", "there", "is", "image", "of", "photo"]
    + list(sw.SIZES)
    + sw.COLOR_NAMES
    + sw.SHAPES
    + ["left", "right", "above", "below"]
)
WORD_INDEX = {w: i + 1 for i, w in enumerate(VOCAB)}

# JavaScript's \s: Unicode Zs plus these (tab, LF, VT, FF, CR, BOM, line and paragraph separators).
_JS_SPACE = set("\t\n\x0b\x0c\r\ufeff\u2028\u2029")


def _is_break(ch: str) -> bool:
    """Whitespace, punctuation or a symbol: JavaScript's /[\\s\\p{P}\\p{S}]/u for one character."""
    cat = unicodedata.category(ch)
    return ch in _JS_SPACE or cat == "Zs" or cat[0] in "PS"


def words_of(text: str) -> list[str]:
    """Lower-case, then split on runs of whitespace, punctuation and symbols; empty pieces are dropped.
    In JavaScript: text.toLowerCase().split(/[\\s\\p{P}\\p{S}]+/u).filter(Boolean)."""
    words, current = [], []
    for ch in text.lower():
        if _is_break(ch):
            if current:
                words.append("".join(current))
                current = []
        else:
            current.append(ch)
    if current:
        words.append("".join(current))
    return words


def word_ids(text: str, max_length: int = MAX_LENGTH) -> list[int]:
    """Each word's row in the embedding (0: not a vocabulary word), truncated and 0-padded to max_length."""
    ids = [WORD_INDEX.get(w, 0) for w in words_of(text)][:max_length]
    return ids + [0] * (max_length - len(ids))


def text_tensor(texts: list[str], vectors: dict[str, np.ndarray], dim: int = EMBED_DIM,
                max_length: int = MAX_LENGTH) -> torch.Tensor:
    """The runtime's rule: [max_length, N, dim] float32, sequence-first; word k of text n at
    [k, n]; a word not in `vectors` and every position past the text's end are zeros."""
    out = np.zeros((max_length, len(texts), dim), dtype=np.float32)
    for n, text in enumerate(texts):
        for k, w in enumerate(words_of(text)[:max_length]):
            if w in vectors:
                out[k, n] = vectors[w]
    return torch.from_numpy(out)


def write_vectors(path: str, table: np.ndarray) -> None:
    """GloVe's text format: `word v1 ... v100` a line, no header; %.9g round-trips float32 exactly."""
    with open(path, "w", encoding="utf-8") as f:
        for w in VOCAB:
            f.write(w + " " + " ".join("%.9g" % v for v in table[WORD_INDEX[w]]) + "\n")


def read_vectors(path: str) -> dict[str, np.ndarray]:
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split(" ")
            out[parts[0]] = np.asarray([float(v) for v in parts[1:]], dtype=np.float32)
    return out


# ---------------------------------------------------------------------------
# Pairs and targets


def objects_mask(scene: sw.Scene, size: int) -> np.ndarray:
    """Every object's pixels at a size x size canvas: at least half the pixel covered
    (4x4 supersampling, the generator's own coverage)."""
    mask = np.zeros((size, size), dtype=bool)
    for o in scene.objects:
        ys, xs, cov = sw._coverage(o, size, size / sw.REFERENCE_SIZE, True)
        mask[ys, xs] |= cov >= 0.5
    return mask


def centres_heatmap(scene: sw.Scene, size: int) -> np.ndarray:
    """A Gaussian of peak 1 around each object's centre, sigma = r / 3 (r the circumradius),
    evaluated at the pixel centres of a size x size grid; the maximum where two meet."""
    scale = size / sw.REFERENCE_SIZE
    c = (np.arange(size, dtype=np.float64) + 0.5)
    yy, xx = np.meshgrid(c, c, indexing="ij")
    heat = np.zeros((size, size), dtype=np.float64)
    for o in scene.objects:
        sigma = o.r * scale / 3.0
        d2 = (xx - o.cx * scale) ** 2 + (yy - o.cy * scale) ** 2
        heat = np.maximum(heat, np.exp(-d2 / (2.0 * sigma * sigma)))
    return heat.astype(np.float32)


def make_split(split: str, n: int) -> dict[str, np.ndarray]:
    images, masks, heats, ids, match = [], [], [], [], []
    for index in range(n):
        scene = sw.sample_scene(SPLIT_SEEDS[split], index, augment=split == "train")
        img, _ = sw.render(scene, SIZE)
        images.append(img)
        masks.append(objects_mask(scene, HEAD))
        heats.append(centres_heatmap(scene, HEAD))
        ids.append(word_ids(scene.caption.text()))
        match.append(1.0 if scene.is_true else 0.0)
    return {
        "image": np.stack(images),
        "mask": np.stack(masks).astype(np.float32)[:, None],
        "heat": np.stack(heats)[:, None],
        "ids": np.asarray(ids, dtype=np.int64),
        "match": np.asarray(match, dtype=np.float32)[:, None],
    }


def to_input(images: np.ndarray) -> torch.Tensor:
    """uint8 [N, H, W, 3] RGB -> float32 [N, 3, H, W]: (x / 255 - 0.5) / 0.5, as model.json tells the runtime."""
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 255.0
    return ((x - MEAN) / STD).contiguous()


def save_png16(path: str, values: np.ndarray) -> None:
    """Values in [0, 1] as a 16-bit greyscale PNG (0 -> 0, 1 -> 65535)."""
    levels = np.clip(np.rint(values * 65535.0), 0, 65535).astype("<u2")
    Image.fromarray(levels, mode="I;16").save(path)


def write_pairs(split: str, n: int, out_dir: str, with_text: bool, with_maps: bool) -> list[dict]:
    """`pairs/<id>.png` at exactly SIZE x SIZE (and `pairs/<id>.txt`), `truth.jsonl`, and for
    the multitask model the truth maps `truth/<id>.task1.png` (objects' mask) and
    `truth/<id>.task2.png` (centres heatmap), 16-bit over [0, 1] at SIZE x SIZE."""
    os.makedirs(os.path.join(out_dir, "pairs"), exist_ok=True)
    if with_maps:
        os.makedirs(os.path.join(out_dir, "truth"), exist_ok=True)
    records = []
    for index in range(n):
        scene = sw.sample_scene(SPLIT_SEEDS[split], index)
        img, _ = sw.render(scene, SIZE)
        pair_id = f"{split}-{index:05d}"
        image = f"pairs/{pair_id}.png"
        Image.fromarray(img).save(os.path.join(out_dir, image))
        record = {"id": pair_id, "image": image, "width": SIZE, "height": SIZE}
        text = scene.caption.text()
        if with_text:
            with open(os.path.join(out_dir, "pairs", f"{pair_id}.txt"), "w", encoding="utf-8") as f:
                f.write(text)
            record |= {"text": text, "words": words_of(text)[:MAX_LENGTH], "match": 1 if scene.is_true else 0}
        if with_maps:
            record["task1"] = f"truth/{pair_id}.task1.png"
            record["task2"] = f"truth/{pair_id}.task2.png"
            save_png16(os.path.join(out_dir, record["task1"]), objects_mask(scene, SIZE).astype(np.float32))
            save_png16(os.path.join(out_dir, record["task2"]), centres_heatmap(scene, SIZE))
            record["centres"] = [[o.cx * SIZE / sw.REFERENCE_SIZE, o.cy * SIZE / sw.REFERENCE_SIZE]
                                 for o in scene.objects]
        record["scene"] = sw.scene_record(scene)
        records.append(record)
    with open(os.path.join(out_dir, "truth.jsonl"), "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    return records


def load_images(out_dir: str, records: list[dict]) -> np.ndarray:
    return np.stack([np.asarray(Image.open(os.path.join(out_dir, r["image"])).convert("RGB")) for r in records])


# ---------------------------------------------------------------------------
# Training


def batches(n: int, size: int, rng: np.random.Generator):
    order = rng.permutation(n)
    for start in range(0, n, size):
        yield torch.from_numpy(order[start:start + size])


def train_multitask(train: dict, epochs: int, batch: int, lr: float, seed: int) -> tuple[MultiTaskModel, dict]:
    torch.manual_seed(seed)
    model = MultiTaskModel()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    n = len(train["image"])
    steps = epochs * math.ceil(n / batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    images = to_input(train["image"])
    mask, heat = torch.from_numpy(train["mask"]), torch.from_numpy(train["heat"])
    rng = np.random.default_rng(seed)
    history = []
    t0 = time.time()
    for epoch in range(epochs):
        model.train()
        total = {"task1": 0.0, "task2": 0.0}
        for idx in batches(n, batch, rng):
            out = model(images[idx])
            l1 = F.binary_cross_entropy_with_logits(out["task1"], mask[idx])
            l2 = F.binary_cross_entropy_with_logits(out["task2"], heat[idx])
            opt.zero_grad()
            (l1 + l2).backward()
            opt.step()
            sched.step()
            total["task1"] += l1.item() * len(idx)
            total["task2"] += l2.item() * len(idx)
        row = {"epoch": epoch + 1, "task1_bce": round(total["task1"] / n, 5), "task2_bce": round(total["task2"] / n, 5),
               "seconds": round(time.time() - t0, 1)}
        history.append(row)
        print("multitask", row, flush=True)
    info = {"train_pairs": n, "epochs": epochs, "batch": batch, "lr": lr, "seed": seed,
            "threads": torch.get_num_threads(),
            "optimizer": "Adam, one-cycle learning rate", "loss": "BCE-with-logits(task1) + BCE-with-logits(task2)",
            "training_seconds": round(time.time() - t0, 1), "history": history}
    return model, info


def train_multimodal(train: dict, epochs: int, batch: int, lr: float, seed: int):
    torch.manual_seed(seed)
    model = MultiModalModel()
    # The word vectors, learned with the model; row 0 is the zero vector of padding and
    # unknown words and stays zero (padding_idx: initialised to zeros, never updated).
    embedding = nn.Embedding(len(VOCAB) + 1, EMBED_DIM, padding_idx=0)
    params = list(model.parameters()) + list(embedding.parameters())
    opt = torch.optim.Adam(params, lr=lr)
    n = len(train["image"])
    steps = epochs * math.ceil(n / batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    images = to_input(train["image"])
    ids, match = torch.from_numpy(train["ids"]), torch.from_numpy(train["match"])
    rng = np.random.default_rng(seed)
    history = []
    t0 = time.time()
    for epoch in range(epochs):
        model.train()
        loss_sum, right = 0.0, 0
        for idx in batches(n, batch, rng):
            text = embedding(ids[idx]).transpose(0, 1)  # [N, 8, 100] -> [8, N, 100], sequence-first
            logit = model(images[idx], text)
            loss = F.binary_cross_entropy_with_logits(logit, match[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += loss.item() * len(idx)
            right += int(((logit > 0).float() == match[idx]).sum())
        row = {"epoch": epoch + 1, "bce": round(loss_sum / n, 5), "train_accuracy": round(right / n, 4),
               "seconds": round(time.time() - t0, 1)}
        history.append(row)
        print("multimodal", row, flush=True)
    info = {"train_pairs": n, "epochs": epochs, "batch": batch, "lr": lr, "seed": seed,
            "threads": torch.get_num_threads(),
            "optimizer": "Adam, one-cycle learning rate", "loss": "BCE-with-logits(match)",
            "training_seconds": round(time.time() - t0, 1), "history": history}
    return model, embedding.weight.detach().numpy().copy(), info


# ---------------------------------------------------------------------------
# Export and bundles

IMAGE_INPUT = {
    "tensor": "image", "width": SIZE, "height": SIZE, "resize": "stretch", "channelOrder": "rgb",
    "layout": "nchw", "mean": [MEAN] * 3, "std": [STD] * 3,
}


def multitask_manifest() -> dict:
    return {
        "schemaVersion": 1,
        "name": "seed-multitask",
        "version": "1.0.0",
        "description": "The seed article's MultiTaskModel (a shared conv encoder, two one-channel heads), "
                       "trained on 64x64 shapes-world images: task1 the objects' pixels, task2 a heatmap of "
                       "object centres (see MODEL_CARD.md).",
        "model": "model.onnx",
        "maxBatchSize": 32,
        "inputs": {"image": dict(IMAGE_INPUT)},
        "tasks": [
            {"name": "task1", "kind": "map", "output": "task1", "activation": "sigmoid", "range": [0, 1],
             "label": "the objects' pixels"},
            {"name": "task2", "kind": "map", "output": "task2", "activation": "sigmoid", "range": [0, 1],
             "label": "object centres"},
        ],
    }


def multimodal_manifest() -> dict:
    return {
        "schemaVersion": 1,
        "name": "seed-multimodal",
        "version": "1.0.0",
        "description": "The seed article's MultiModalModel (conv image encoder, 2-layer LSTM over word vectors, "
                       "linear fusion), trained on 64x64 shapes-world pairs to score whether the caption is true "
                       "(see MODEL_CARD.md).",
        "model": "model.onnx",
        "maxBatchSize": 32,
        "inputs": {
            "image": dict(IMAGE_INPUT),
            "text": {"vectors": "vectors.txt", "tensor": "text", "maxLength": MAX_LENGTH, "layout": "seq-first",
                     "lowercase": True, "oov": "zero"},
        },
        "tasks": [{"name": "match", "kind": "score", "output": "logit", "activation": "sigmoid", "threshold": 0.5}],
    }


def write_json(path: str, value: dict) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=2, ensure_ascii=False)
        f.write("\n")


def export_multitask(model: MultiTaskModel, path: str, dynamic: bool = True) -> None:
    model.eval()
    example = torch.zeros(1, 3, SIZE, SIZE)
    axes = {"image": {0: "batch"}, "task1": {0: "batch"}, "task2": {0: "batch"}} if dynamic else None
    torch.onnx.export(model, (example,), path, input_names=["image"], output_names=["task1", "task2"],
                      dynamic_axes=axes, opset_version=OPSET, do_constant_folding=True)
    onnx.checker.check_model(onnx.load(path), full_check=True)


def export_multimodal(model: MultiModalModel, path: str) -> None:
    """Exported with a batch-1 example, so that no batch size is baked into the LSTM's initial
    states (as the reference bundle's export does); the batch axis is 0 of image and logit, 1 of text."""
    model.eval()
    example = (torch.zeros(1, 3, SIZE, SIZE), torch.zeros(MAX_LENGTH, 1, EMBED_DIM))
    axes = {"image": {0: "batch"}, "text": {1: "batch"}, "logit": {0: "batch"}}
    torch.onnx.export(model, example, path, input_names=["image", "text"], output_names=["logit"],
                      dynamic_axes=axes, opset_version=OPSET, do_constant_folding=True)
    onnx.checker.check_model(onnx.load(path), full_check=True)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def build_multitask(train: dict, args) -> None:
    model, info = train_multitask(train, args.multitask_epochs, args.batch, args.lr, args.seed)
    bundle = MULTITASK_DIR
    os.makedirs(bundle, exist_ok=True)
    torch.save(model.state_dict(), os.path.join(WEIGHTS_DIR, "multitask.pt"))
    export_multitask(model, os.path.join(bundle, "model.onnx"))
    write_json(os.path.join(bundle, "model.json"), multitask_manifest())

    parity = os.path.join(bundle, "fixtures", "parity")
    shutil.rmtree(parity, ignore_errors=True)
    records = write_pairs("parity", PARITY_PAIRS, parity, with_text=False, with_maps=True)
    model.eval()
    with torch.no_grad():
        out = model(to_input(load_images(parity, records)))
    write_tensors(os.path.join(parity, "outputs"), {"task1": out["task1"], "task2": out["task2"]})
    info |= {"parameters": parameter_count(model), "generation_seconds": args.generation_seconds}
    write_json(os.path.join(bundle, "training.json"), info)


def build_multimodal(train: dict, args) -> None:
    model, table, info = train_multimodal(train, args.multimodal_epochs, args.batch, args.lr, args.seed)
    bundle = MULTIMODAL_DIR
    os.makedirs(bundle, exist_ok=True)
    torch.save({"model": model.state_dict(), "embedding": torch.from_numpy(table)},
               os.path.join(WEIGHTS_DIR, "multimodal.pt"))
    export_multimodal(model, os.path.join(bundle, "model.onnx"))
    write_json(os.path.join(bundle, "model.json"), multimodal_manifest())
    write_vectors(os.path.join(bundle, "vectors.txt"), table)
    # Everything from here on uses the vectors as read back from the file, as the runtime does.
    vectors = read_vectors(os.path.join(bundle, "vectors.txt"))
    readback = max(float(np.abs(vectors[w] - table[WORD_INDEX[w]]).max()) for w in VOCAB)

    parity = os.path.join(bundle, "fixtures", "parity")
    shutil.rmtree(parity, ignore_errors=True)
    records = write_pairs("parity", PARITY_PAIRS, parity, with_text=True, with_maps=False)
    text = text_tensor([r["text"] for r in records], vectors)
    model.eval()
    with torch.no_grad():
        logit = model(to_input(load_images(parity, records)), text)
    write_tensors(os.path.join(parity, "outputs"), {"text": text, "logit": logit})
    info |= {"parameters": parameter_count(model), "word_vector_parameters": int(table.size - EMBED_DIM),
             "vocabulary": VOCAB, "vectors_readback_max_abs_diff": readback,
             "additivity": additivity_check(model, vectors),
             "generation_seconds": args.generation_seconds}
    write_json(os.path.join(bundle, "training.json"), info)


def additivity_check(model: MultiModalModel, vectors: dict[str, np.ndarray]) -> dict:
    """fusion_layer and classifier are two linear layers with nothing between them, so the logit
    is a(image) + b(text): for images i, j and captions s, t, logit(i,s) + logit(j,t) -
    logit(i,t) - logit(j,s) is 0. Measured over test pairs to show it."""
    recs = [sw.sample_scene(SPLIT_SEEDS["test"], k) for k in range(16)]
    imgs = to_input(np.stack([sw.render(s, SIZE)[0] for s in recs]))
    text = text_tensor([s.caption.text() for s in recs], vectors)
    model.eval()
    with torch.no_grad():
        n = len(recs)
        grid = torch.stack([model(imgs, text[:, [t] * n])[:, 0] for t in range(n)], dim=1).double()  # [image, text]
    image_term, text_term = grid.mean(1), grid.mean(0)  # a(image) and b(text), each up to a constant
    interaction = grid - image_term[:, None] - text_term[None, :] + grid.mean()
    return {"pairs": n, "logit_spread": float(grid.max() - grid.min()),
            "image_term_spread": float(image_term.max() - image_term.min()),
            "text_term_spread": float(text_term.max() - text_term.min()),
            "max_abs_interaction": float(interaction.abs().max())}


def write_test_sets(n: int) -> None:
    out = os.path.join(DATA_DIR, "test")
    shutil.rmtree(out, ignore_errors=True)
    write_pairs("test", n, out, with_text=True, with_maps=True)


def evaluate() -> None:
    """Held-out metrics and parity from onnxruntime-node (models/seed/evaluate-onnx.ts)."""
    subprocess.run(["npx", "tsx", os.path.join(HERE, "evaluate-onnx.ts")], cwd=ROOT, check=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train-pairs", type=int, default=4000)
    ap.add_argument("--test-pairs", type=int, default=1000)
    ap.add_argument("--multitask-epochs", type=int, default=3)
    ap.add_argument("--multimodal-epochs", type=int, default=3)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", choices=["multitask", "multimodal"], default=None)
    ap.add_argument("--no-eval", action="store_true", help="skip evaluate-onnx.ts and the cards")
    ap.add_argument("--cards", action="store_true", help="only rewrite the model cards")
    args = ap.parse_args()
    if args.cards:
        write_cards()
        return
    torch.set_num_threads(args.threads)
    os.makedirs(WEIGHTS_DIR, exist_ok=True)
    t0 = time.time()
    train = make_split("train", args.train_pairs)
    write_test_sets(args.test_pairs)
    args.generation_seconds = round(time.time() - t0, 1)
    print(f"{args.train_pairs} training pairs and {args.test_pairs} test pairs in {args.generation_seconds} s",
          flush=True)
    if args.only in (None, "multitask"):
        build_multitask(train, args)
    if args.only in (None, "multimodal"):
        build_multimodal(train, args)
    if not args.no_eval:
        evaluate()
        write_cards()


# ---------------------------------------------------------------------------
# Model cards

BUILD_COMMAND = """npm ci --no-audit --no-fund          # once: onnxruntime-node for the evaluation
/usr/bin/python3 models/seed/build.py  # trains both, exports, writes fixtures, evaluates, writes the cards"""

ARTICLE_MULTIMODAL_FORWARD = """    def forward(self, image, text):
        image_features = self.image_encoder(image)
        text_features = self.text_encoder(text)
        fused_features = self.fusion_layer(torch.cat((image_features, text_features), dim=1))
        output = self.classifier(fused_features)
        return output"""


def _source(obj) -> str:
    """A class's source as build.py has it."""
    import inspect
    return inspect.getsource(obj).rstrip("\n")


def _history_table(history: list[dict]) -> str:
    keys = [k for k in history[0] if k != "epoch"]
    rows = ["| epoch | " + " | ".join(keys) + " |", "| --- |" + " --- |" * len(keys)]
    rows += ["| " + " | ".join(str(h[k]) for k in ["epoch"] + keys) + " |" for h in history]
    return "\n".join(rows)


def _load(bundle: str) -> tuple[dict, dict]:
    with open(os.path.join(bundle, "training.json")) as f:
        training = json.load(f)
    with open(os.path.join(bundle, "metrics.json")) as f:
        metrics = json.load(f)
    return training, metrics


def _common_training(t: dict) -> str:
    return (f"{t['train_pairs']:,} shapes-world pairs rendered at {SIZE}x{SIZE} (train split seed "
            f"{SPLIT_SEEDS['train']}, the generator's training augmentation on), {t['epochs']} epochs, batch "
            f"{t['batch']}, {t['optimizer']} (peak {t['lr']}), torch seed {t['seed']}, {t['threads']} CPU "
            f"threads on a 2-core machine that was running another training at the same time: "
            f"**{t['training_seconds']:.0f} s of training** (plus {t['generation_seconds']:.0f} s drawing the "
            f"training and test pairs).")


def _image_preprocessing() -> str:
    return (f"RGB, stretched to {SIZE}x{SIZE}, `(x / 255 - {MEAN}) / {STD}` per channel, NCHW float32 "
            f"(model.json `inputs.image`). Pairs rendered at exactly {SIZE}x{SIZE} are not resized.")


def write_multitask_card(bundle: str) -> None:
    t, m = _load(bundle)
    p = m["parity"]
    card = f"""# seed-multitask: the seed article's multi-task model

The project started from an article on multi-task and multi-modal learning in PyTorch. This
bundle is its `MultiTaskModel`, unchanged, trained for a few minutes on the shapes world so
that its two heads mean something: **task1** is the objects' pixels and **task2** a heatmap of
object centres. It is a small test model for the runtime's `map` kind, not a good segmenter.

Rebuild (both seed bundles):

```sh
{BUILD_COMMAND}
```

## The model (as the article prints it)

```python
{_source(MultiTaskModel)}
```

No change. {t['parameters']:,} parameters. A 3x3 convolution, ReLU and 2x2 max-pooling are
shared; each head is one 3x3 convolution, so an output cell sees an 8x8-pixel window of the
input.

## Inputs and outputs (model.onnx, opset {OPSET})

| tensor | dtype | shape | dynamic axes |
| --- | --- | --- | --- |
| input `image` | float32 | [N, 3, {SIZE}, {SIZE}] | 0 (`batch`) |
| output `task1` | float32 | [N, 1, {HEAD}, {HEAD}] | 0 (`batch`) |
| output `task2` | float32 | [N, 1, {HEAD}, {HEAD}] | 0 (`batch`) |

Image preprocessing: {_image_preprocessing()} Both outputs are logits; model.json declares
them as `map` tasks with a sigmoid and range [0, 1] (the runtime upsamples bilinearly to the
original image, then applies the sigmoid).

## What the outputs were trained to mean

Both heads are trained with BCE-with-logits against targets at {HEAD}x{HEAD} (one target
cell per 2x2 input pixels), their losses summed:

- `task1`, **the objects' pixels**: 1 where a cell is at least half covered by any object
  (every object, whatever the caption says; the generator's own 4x4-supersampled coverage),
  else 0.
- `task2`, **object centres**: a Gaussian of peak 1 around each object's centre with sigma =
  r / 3 (r the object's circumscribed radius; 1.3 to 4.3 px at {SIZE}x{SIZE}), evaluated at each cell's
  centre; the maximum where two overlap. Sigma grows with the object so that a large object's
  centre is not asked of a window that sees only its flat interior.

## Training

{_common_training(t)} Loss per epoch (BCE, mean over the training pairs):

{_history_table(t['history'])}

## Held-out metrics (ONNX Runtime, not PyTorch)

Measured from `model.onnx` with {m['engine']} by `models/seed/evaluate-onnx.ts`
on {m['pairs']:,} held-out pairs (test split seed {SPLIT_SEEDS['test']}, rendered at {SIZE}x{SIZE}), each output
upsampled bilinearly to {SIZE}x{SIZE} and passed through the sigmoid, as the runtime does:

| metric | value |
| --- | --- |
| task1: mean IoU (sigmoid > 0.5) against the objects' mask at {SIZE}x{SIZE} | **{m['task1_mean_iou']:.3f}** |
| task2: mean distance from the map's peak pixel (centre) to the nearest true object centre | **{m['task2_peak_to_nearest_centre_px']:.2f} px** |
| task2: share of images whose peak is within 2 px of a true centre | {m['task2_peak_within_2px']:.3f} |
| for scale: mean distance from the image centre to the nearest true object centre | {m['task2_baseline_image_centre_to_nearest_centre_px']:.2f} px |
| task1: mean absolute error against the 0/1 mask (the `map` kind's metric) | {m['task1_mean_abs_error']:.4f} |
| task2: mean absolute error against the truth heatmap | {m['task2_mean_abs_error']:.4f} |

## Parity

`fixtures/parity/`: {p['pairs']} pairs (`pairs/<id>.png`, parity split seed {SPLIT_SEEDS['parity']}, rendered at exactly
{SIZE}x{SIZE}) and PyTorch's raw `task1` and `task2` for them ([{p['pairs']}, 1, {HEAD}, {HEAD}] float32 each) in
`outputs.json` + `outputs.bin` (the reference bundle's format). `truth.jsonl` gives each pair's
scene, its object centres in {SIZE}x{SIZE} pixels, and truth maps `truth/<id>.task1.png` (objects' mask)
and `truth/<id>.task2.png` (centres heatmap): 16-bit grey PNGs at {SIZE}x{SIZE} whose 0 and 65535 stand for 0 and 1.
onnxruntime-node against PyTorch: max abs difference {p['task1_max_abs_diff']:.2g} (task1), {p['task2_max_abs_diff']:.2g} (task2);
batches of 1 and 3 against the batch of 8: {p['batch_1_3_vs_8_max_abs_diff']:.2g}.

## Files

| file | what |
| --- | --- |
| `model.onnx` | the exported model |
| `model.json` | the manifest: image input, tasks `task1` and `task2` (kind `map`) |
| `training.json` | the training run's settings and loss history |
| `metrics.json` | the held-out metrics and parity above, as written by evaluate-onnx.ts |
| `fixtures/parity/` | the parity pairs, truth and PyTorch outputs |

Weights: `models/seed/weights/multitask.pt` (state_dict), used by
`models/seed/build_test_models.py` for the fixed-batch test model.

## Limitations

A few minutes of training of a two-layer convolutional model. Its maps are {HEAD}x{HEAD}, so object edges
are soft once upsampled, and an output cell sees only an 8x8-pixel window, less than a large
object (19 to 26 px across at {SIZE}x{SIZE}): inside a large object's flat interior it cannot tell where
the centre is.
"""
    with open(os.path.join(bundle, "MODEL_CARD.md"), "w", encoding="utf-8") as f:
        f.write(card)


def write_multimodal_card(bundle: str) -> None:
    t, m = _load(bundle)
    p = m["parity"]
    a = t["additivity"]
    card = f"""# seed-multimodal: the seed article's multi-modal model

The project started from an article on multi-task and multi-modal learning in PyTorch. This
bundle is its `MultiModalModel` (an image encoder and a two-layer LSTM over word vectors,
fused by a linear layer), with the one change its `forward` needs to run, trained for a few
minutes on shapes-world pairs to score whether the caption is true of the image. It is a
test model for the runtime's word-vector text input (`vectors.txt`, sequence-first), not a
good matcher: see *What it can learn* below.

Rebuild (both seed bundles):

```sh
{BUILD_COMMAND}
```

## The model

```python
{_source(MultiModalModel)}
```

`__init__` is the article's, layer for layer. The article's `forward` was:

```python
{ARTICLE_MULTIMODAL_FORWARD}
```

**The change, and why.** As printed, `forward` cannot run: `torch.cat` is given a 4-D image
map `[N, 64, H/2, W/2]` and `nn.LSTM`'s `(output, (h, c))` tuple. The smallest change that
runs keeps every layer and only reshapes what is concatenated: the image map is
average-pooled over its spatial axes (`.mean(dim=(2, 3))`, `[N, 64]`) and the text
features are the last LSTM layer's final hidden state `h[-1]` (`[N, 64]`). Nothing else
differs; no layer was added. {t['parameters']:,} parameters (plus {t['word_vector_parameters']:,} in the word vectors, which
live in `vectors.txt`, outside the graph).

## Inputs and outputs (model.onnx, opset {OPSET})

| tensor | dtype | shape | dynamic axes |
| --- | --- | --- | --- |
| input `image` | float32 | [N, 3, {SIZE}, {SIZE}] | 0 (`batch`) |
| input `text` | float32 | [{MAX_LENGTH}, N, {EMBED_DIM}], sequence-first | 1 (`batch`) |
| output `logit` | float32 | [N, 1] | 0 (`batch`) |

No lengths tensor: the LSTM runs over all {MAX_LENGTH} positions, padding included, exactly as in training.

Image preprocessing: {_image_preprocessing()}

Text: the caption's words as {EMBED_DIM}-d vectors from `vectors.txt`:

1. lower-case the caption;
2. split it on runs of whitespace, punctuation and symbols, dropping empty pieces
   (JavaScript: `text.toLowerCase().split(/[\\s\\p{{P}}\\p{{S}}]+/u).filter(Boolean)`; build.py's
   `words_of` is the same rule in Python);
3. keep the first {MAX_LENGTH} words (longer captions are truncated: a shapes-world caption has up to
   13 words, so the second object of a two-object caption is often cut; intended, the
   article's model is small);
4. word k of pair n goes to `text[k, n, :]`: its row of `vectors.txt`, or zeros when the word
   is not in the file; positions past the caption's end are zeros.

`vectors.txt` is GloVe's text format: `word v1 ... v{EMBED_DIM}` a line, space-separated, no header,
{len(t['vocabulary'])} words (every word the generator writes: {', '.join(t['vocabulary'])}). Floats are written
with `%.9g`, which round-trips float32 exactly (read back, the largest difference from the
trained table is {t['vectors_readback_max_abs_diff']:g}), and the parity outputs were computed from the vectors as read
back from the file. model.json: `"text": {{"vectors": "vectors.txt", "tensor": "text", "maxLength": {MAX_LENGTH},
"layout": "seq-first", "lowercase": true, "oov": "zero"}}`.

## What the output was trained to mean

`logit`: whether the caption is true of the image (shapes-world's `match`: 1 when every
mentioned object exists with the stated attributes and the stated relation holds; half of
all pairs are true), trained with BCE-with-logits; model.json's `match` task applies a
sigmoid and a 0.5 threshold. The word vectors are an `nn.Embedding` over the vocabulary,
learned jointly with the model (row 0, the zero vector of padding and unknown words, fixed).

## Training

{_common_training(t)} Loss per epoch:

{_history_table(t['history'])}

## Held-out metrics (ONNX Runtime, not PyTorch)

Measured from `model.onnx` with {m['engine']} by `models/seed/evaluate-onnx.ts`
on {m['pairs']:,} held-out pairs (test split seed {SPLIT_SEEDS['test']}, rendered at {SIZE}x{SIZE}), with the text rule
above implemented again in TypeScript:

| metric | value |
| --- | --- |
| match accuracy (logit > 0) | **{m['match_accuracy']:.3f}** |
| share of true captions | {m['true_share']:.3f} |
| share predicted true | {m['predicted_true_share']:.3f} |

## What it can learn

Chance, in effect, and that is the article's architecture, not the training: `fusion_layer`
and `classifier` are two linear layers with no activation between them, so the logit is a
linear function of `[image_features, text_features]`, that is **a(image) + b(text)**. A sum
of an image-only term and a text-only term cannot tell whether a caption fits an image: in
the shapes world neither the image nor the caption alone says anything about `match` (a
pair's caption is made true or false at random, half each). The
build measures it on every pairing of {a['pairs']} held-out images with {a['pairs']} held-out captions: the logits
span {a['logit_spread']:.3f} (the image term alone {a['image_term_spread']:.3f}, the text term alone {a['text_term_spread']:.3f}), while
what is left after removing each image's and each caption's mean effect, the interaction, is
at most {a['max_abs_interaction']:.1g}: float rounding. The spec allows only the forward change above, so no
non-linearity was added. The bundle is still a fair test of the runtime: the logit depends on
both the image and the words, so a wrong image path, word-vector lookup or tensor layout shows
in the parity check (1e-4).

## Parity

`fixtures/parity/`: {p['pairs']} pairs (`pairs/<id>.png` at exactly {SIZE}x{SIZE} and `pairs/<id>.txt`, parity split seed
{SPLIT_SEEDS['parity']}), and in `outputs.json` + `outputs.bin` (the reference bundle's format) the `text` tensor
PyTorch was given ([{MAX_LENGTH}, {p['pairs']}, {EMBED_DIM}] float32, so a runtime can check its words-to-vectors step) and
PyTorch's raw `logit` ([{p['pairs']}, 1]). `truth.jsonl` gives each pair's caption, its words as read
(truncated to {MAX_LENGTH}), `match` and the scene. onnxruntime-node against PyTorch: max abs difference
{p['logit_max_abs_diff']:.2g} (logit); the TypeScript text tensor against PyTorch's: {p['text_tensor_max_abs_diff']:.2g}; batches of 1 and 3
against the batch of 8: {p['batch_1_3_vs_8_max_abs_diff']:.2g}.

## Files

| file | what |
| --- | --- |
| `model.onnx` | the exported model |
| `model.json` | the manifest: image and word-vector text inputs, task `match` (kind `score`) |
| `vectors.txt` | the learned word vectors, GloVe text format |
| `training.json` | the training run's settings and loss history, the additivity check |
| `metrics.json` | the held-out metrics and parity above, as written by evaluate-onnx.ts |
| `fixtures/parity/` | the parity pairs, truth, text tensor and PyTorch outputs |

Weights: `models/seed/weights/multimodal.pt` (the model's state_dict and the embedding table).
"""
    with open(os.path.join(bundle, "MODEL_CARD.md"), "w", encoding="utf-8") as f:
        f.write(card)


def write_cards() -> None:
    write_multitask_card(MULTITASK_DIR)
    write_multimodal_card(MULTIMODAL_DIR)


if __name__ == "__main__":
    main()
