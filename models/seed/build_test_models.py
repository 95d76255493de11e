#!/usr/bin/env python3
"""Tiny ONNX models for the runtime's tests, in test/fixtures/models/ (after build.py):

    /usr/bin/python3 models/seed/build_test_models.py

- seed-multitask-batch1/: the trained seed MultiTaskModel (models/seed/weights/multitask.pt)
  exported with a fixed batch of 1 (no dynamic axes); outputs for the seed-multitask parity pairs.
- vectors-batch-first-lengths/: text only, word vectors batch-first [N, 6, 4] plus an int64
  lengths [N]; score [N, 1] = a linear layer over the mean of the first lengths[n] vectors.
- ids-seq-first/: text only, token ids sequence-first [6, N] from a WordPiece tokenizer.json
  (whole words); embedding [N, 8] = the mean of the 6 positions' embeddings (pad embeds to 0).

The text models are untrained (seeded). Each folder has model.json, outputs.json + outputs.bin
(PyTorch's raw outputs, and the input tensors they were given; outputs.json's `inputs` says
which tensors are inputs and which texts they encode) and what its text input needs.
models/seed/check-test-models.ts runs them in onnxruntime-node against the recorded outputs.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import numpy as np
import onnx
import torch
import torch.nn as nn

import build
from build import MultiTaskModel, write_json, write_tensors

OUT = os.path.join(build.ROOT, "test", "fixtures", "models")
OPSET = build.OPSET


def check(path: str) -> None:
    onnx.checker.check_model(onnx.load(path), full_check=True)


def add_inputs(folder: str, inputs: dict) -> None:
    """outputs.json as write_tensors writes it, plus `inputs`: what a test feeds."""
    path = os.path.join(folder, "outputs.json")
    with open(path) as f:
        index = json.load(f)
    index["inputs"] = inputs
    write_json(path, index)


# ---------------------------------------------------------------------------
# seed-multitask-batch1


def multitask_batch1() -> None:
    folder = os.path.join(OUT, "seed-multitask-batch1")
    os.makedirs(folder, exist_ok=True)
    model = MultiTaskModel()
    model.load_state_dict(torch.load(os.path.join(build.WEIGHTS_DIR, "multitask.pt")))
    model.eval()
    build.export_multitask(model, os.path.join(folder, "model.onnx"), dynamic=False)
    manifest = build.multitask_manifest()
    manifest |= {"name": "seed-multitask-batch1", "maxBatchSize": 1,
                 "description": "The seed-multitask model exported with a fixed batch of 1 (no dynamic axes)."}
    write_json(os.path.join(folder, "model.json"), manifest)
    parity = os.path.join(build.MULTITASK_DIR, "fixtures", "parity")
    with open(os.path.join(parity, "truth.jsonl")) as f:
        records = [json.loads(line) for line in f if line.strip()]
    images = build.to_input(build.load_images(parity, records))
    with torch.no_grad():
        outs = [model(images[i:i + 1]) for i in range(len(records))]  # one pair at a time, as the graph runs
    write_tensors(os.path.join(folder, "outputs"), {
        "task1": torch.cat([o["task1"] for o in outs]),
        "task2": torch.cat([o["task2"] for o in outs]),
    })
    add_inputs(folder, {
        "pairs": os.path.relpath(os.path.join(parity, "pairs"), build.ROOT),
        "ids": [r["id"] for r in records],
        "note": "row k of each output is pair ids[k], run alone (batch 1)",
    })


# ---------------------------------------------------------------------------
# vectors-batch-first-lengths

VECTOR_WORDS = ["<unk>", "a", "red", "blue", "circle", "square", "big", "small"]
VECTOR_DIM, VECTOR_LENGTH = 4, 6
VECTOR_TEXTS = [
    "a red circle",
    "Big, BLUE square!",
    "a small red circle and a big blue square",  # 9 words: truncated to 6
    "zebra",  # not a word of the file: the <unk> vector
]


class MeanOfLengths(nn.Module):
    """score = linear(mean of the first lengths[n] word vectors of pair n)."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(VECTOR_DIM, 1)

    def forward(self, text, lengths):  # text [N, L, D] batch-first, lengths [N] int64
        positions = torch.arange(text.shape[1], dtype=torch.int64).unsqueeze(0)  # [1, L]
        keep = (positions < lengths.unsqueeze(1)).to(text.dtype).unsqueeze(2)  # [N, L, 1]
        count = keep.sum(dim=1).clamp(min=1.0)
        return self.linear((text * keep).sum(dim=1) / count)


def vectors_batch_first_lengths() -> None:
    folder = os.path.join(OUT, "vectors-batch-first-lengths")
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(7)
    # Two decimals, so that the file's values are easy to read (and exact as text).
    table = {w: np.round(rng.uniform(-1, 1, VECTOR_DIM), 2) for w in VECTOR_WORDS}
    with open(os.path.join(folder, "vectors.txt"), "w", encoding="utf-8") as f:
        for w in VECTOR_WORDS:
            f.write(w + " " + " ".join("%.9g" % v for v in table[w]) + "\n")
    vectors = build.read_vectors(os.path.join(folder, "vectors.txt"))

    torch.manual_seed(7)
    model = MeanOfLengths().eval()
    text = np.zeros((len(VECTOR_TEXTS), VECTOR_LENGTH, VECTOR_DIM), dtype=np.float32)
    lengths = []
    for n, caption in enumerate(VECTOR_TEXTS):
        words = build.words_of(caption)[:VECTOR_LENGTH]
        for k, w in enumerate(words):
            text[n, k] = vectors.get(w, vectors["<unk>"])
        lengths.append(len(words))
    text_t, lengths_t = torch.from_numpy(text), torch.tensor(lengths, dtype=torch.int64)
    with torch.no_grad():
        score = model(text_t, lengths_t)
    torch.onnx.export(model, (text_t[:1], lengths_t[:1]), os.path.join(folder, "model.onnx"),
                      input_names=["text", "lengths"], output_names=["score"],
                      dynamic_axes={"text": {0: "batch"}, "lengths": {0: "batch"}, "score": {0: "batch"}},
                      opset_version=OPSET, do_constant_folding=True)
    check(os.path.join(folder, "model.onnx"))
    write_json(os.path.join(folder, "model.json"), {
        "schemaVersion": 1,
        "name": "vectors-batch-first-lengths",
        "version": "1.0.0",
        "description": "Test model: word vectors batch-first [N, 6, 4] and lengths [N]; score = linear layer "
                       "over the mean of the first lengths[n] vectors (untrained).",
        "model": "model.onnx",
        "maxBatchSize": 8,
        "inputs": {"text": {"vectors": "vectors.txt", "tensor": "text", "maxLength": VECTOR_LENGTH,
                            "layout": "batch-first", "lowercase": True, "oov": {"word": "<unk>"},
                            "lengthsTensor": "lengths"}},
        "tasks": [{"name": "score", "kind": "score", "output": "score", "activation": "sigmoid", "threshold": 0.5}],
    })
    write_tensors(os.path.join(folder, "outputs"), {"text": text_t, "lengths": lengths_t, "score": score})
    add_inputs(folder, {
        "tensors": ["text", "lengths"],
        "texts": VECTOR_TEXTS,
        "note": "words: lower-cased, split on runs of whitespace, punctuation and symbols, the first 6 kept; "
                "a word not in vectors.txt takes the <unk> vector; lengths = words kept; padding zeros",
    })


# ---------------------------------------------------------------------------
# ids-seq-first

PAD, UNK = "[PAD]", "[UNK]"
ID_WORDS = ["a", "the", "red", "green", "blue", "circle", "square", "star", "big", "small", "."]
ID_VOCAB = {tok: i for i, tok in enumerate([PAD, UNK] + ID_WORDS)}
ID_LENGTH, ID_DIM = 6, 8
ID_TEXTS = [
    "a red circle",
    "The big blue square.",
    "a small green star, a red circle",  # ',' is [UNK]; 8 tokens: truncated to 6
]
# Hugging Face's `Whitespace` pre-tokenizer, after the `Lowercase` normalizer.
_SPLIT = re.compile(r"\w+|[^\w\s]+")


def tokenizer_json() -> dict:
    """WordPiece with whole words only (Hugging Face's JavaScript tokenizers have no WordLevel), as
    models/reference/train/tokenizer.py does: a word not in the vocabulary is [UNK] as a whole."""
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {"id": ID_VOCAB[t], "content": t, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": True}
            for t in (PAD, UNK)
        ],
        "normalizer": {"type": "Lowercase"},
        "pre_tokenizer": {"type": "Whitespace"},
        "post_processor": None,
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": UNK, "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": ID_VOCAB},
    }


def encode_ids(text: str) -> list[int]:
    ids = [ID_VOCAB.get(w, ID_VOCAB[UNK]) for w in _SPLIT.findall(text.lower())][:ID_LENGTH]
    return ids + [ID_VOCAB[PAD]] * (ID_LENGTH - len(ids))


class MeanEmbedding(nn.Module):
    """embedding [N, 8] = the mean over the L positions of each token's embedding ([PAD]'s is 0)."""

    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(len(ID_VOCAB), ID_DIM, padding_idx=ID_VOCAB[PAD])

    def forward(self, input_ids):  # [L, N] int64, sequence-first
        return self.embedding(input_ids).mean(dim=0)


def ids_seq_first() -> None:
    folder = os.path.join(OUT, "ids-seq-first")
    os.makedirs(folder, exist_ok=True)
    write_json(os.path.join(folder, "tokenizer.json"), tokenizer_json())
    torch.manual_seed(11)
    model = MeanEmbedding().eval()
    ids = torch.tensor([encode_ids(t) for t in ID_TEXTS], dtype=torch.int64).T.contiguous()  # [L, N]
    with torch.no_grad():
        embedding = model(ids)
    torch.onnx.export(model, (ids[:, :1],), os.path.join(folder, "model.onnx"),
                      input_names=["input_ids"], output_names=["embedding"],
                      dynamic_axes={"input_ids": {1: "batch"}, "embedding": {0: "batch"}},
                      opset_version=OPSET, do_constant_folding=True)
    check(os.path.join(folder, "model.onnx"))
    write_json(os.path.join(folder, "model.json"), {
        "schemaVersion": 1,
        "name": "ids-seq-first",
        "version": "1.0.0",
        "description": "Test model: token ids sequence-first [6, N] from tokenizer.json; embedding [N, 8] = mean "
                       "of the positions' embeddings, [PAD]'s being zero (untrained).",
        "model": "model.onnx",
        "maxBatchSize": 8,
        "inputs": {"text": {"tokenizer": "tokenizer.json", "maxLength": ID_LENGTH, "idsTensor": "input_ids",
                            "layout": "seq-first", "padTokenId": ID_VOCAB[PAD]}},
        "tasks": [{"name": "embedding", "kind": "embedding", "output": "embedding"}],
    })
    write_tensors(os.path.join(folder, "outputs"), {"input_ids": ids, "embedding": embedding})
    add_inputs(folder, {
        "tensors": ["input_ids"],
        "texts": ID_TEXTS,
        "note": "input_ids[:, n] is texts[n] through tokenizer.json, truncated to 6 and padded with [PAD] = 0",
    })


README = """# Tiny ONNX models for the runtime's tests

Built by `/usr/bin/python3 models/seed/build_test_models.py` (after `models/seed/build.py`, whose
trained weights the first uses); `npx tsx models/seed/check-test-models.ts` checks each in
onnxruntime-node against its recorded outputs. Each folder: `model.onnx` (opset 17),
`model.json` (a best guess at the manifest), `outputs.json` + `outputs.bin` (PyTorch's raw
outputs, with the input tensors they came from; `inputs` in outputs.json names the input
tensors and the texts or pairs they encode).

- `seed-multitask-batch1/`: the trained seed MultiTaskModel (models/seed-multitask) exported with a fixed batch of 1, no dynamic axes: `image` float32 [1, 3, 64, 64] → `task1`, `task2` float32 [1, 1, 32, 32]; outputs for the 8 pairs of models/seed-multitask/fixtures/parity/pairs, each run alone, stacked to [8, 1, 32, 32].
- `vectors-batch-first-lengths/`: text only, untrained (seed 7): `text` float32 [N, 6, 4] batch-first word vectors from its `vectors.txt` (8 words, 4-d, with `<unk>`, the vector of unknown words) and `lengths` int64 [N] (words kept, at most 6) → `score` float32 [N, 1] = a linear layer over the mean of the first lengths[n] vectors (positions past lengths[n] are ignored, so the lengths tensor changes the result); outputs for 4 texts.
- `ids-seq-first/`: text only, untrained (seed 11): `input_ids` int64 [6, N] sequence-first, from its `tokenizer.json` (WordPiece over whole words, as models/reference/train/tokenizer.py does; [PAD] 0, [UNK] 1, 11 words) → `embedding` float32 [N, 8] = the mean over the 6 positions of each token's embedding ([PAD]'s is zero); outputs for 3 texts.
"""


def main() -> None:
    torch.set_num_threads(2)
    os.makedirs(OUT, exist_ok=True)
    for name in ("seed-multitask-batch1", "vectors-batch-first-lengths", "ids-seq-first"):
        shutil.rmtree(os.path.join(OUT, name), ignore_errors=True)
    multitask_batch1()
    vectors_batch_first_lengths()
    ids_seq_first()
    with open(os.path.join(OUT, "README.md"), "w", encoding="utf-8") as f:
        f.write(README)
    subprocess.run(["npx", "tsx", os.path.join(build.HERE, "check-test-models.ts")], cwd=build.ROOT, check=True)


if __name__ == "__main__":
    main()
