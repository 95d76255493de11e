"""ONNX export, the bundle manifest (model.json), and raw tensors for the parity fixtures."""
from __future__ import annotations

import json
import os

import numpy as np
import onnx
import torch

import shapes_world as sw
import tokenizer
from model import INPUT_NAMES, OUTPUT_NAMES

OPSET = 17
MEAN, STD = 0.5, 0.25
# The runtime keeps a detection whose sigmoid score is at least this (then NMS).
SCORE_THRESHOLD = 0.25  # chosen on the validation split with analyse_objects.py


def export_onnx(model: torch.nn.Module, path: str) -> None:
    """Export with a dynamic batch axis; the example has batch 1 so that no batch size
    is baked into the LSTM's initial states."""
    model.eval()
    example = (
        torch.zeros(1, 3, sw.REFERENCE_SIZE, sw.REFERENCE_SIZE),
        torch.ones(1, tokenizer.MAX_LENGTH, dtype=torch.long),
        torch.ones(1, tokenizer.MAX_LENGTH, dtype=torch.long),
    )
    dynamic = {name: {0: "batch"} for name in INPUT_NAMES + OUTPUT_NAMES}
    torch.onnx.export(model, example, path, input_names=INPUT_NAMES, output_names=OUTPUT_NAMES,
                      dynamic_axes=dynamic, opset_version=OPSET, do_constant_folding=True)
    onnx.checker.check_model(onnx.load(path), full_check=True)


def manifest() -> dict:
    return {
        "schemaVersion": 1,
        "name": "shapes-reference",
        "version": "1.0.0",
        "description": "Reference fused image+text model of the shapes world (see MODEL_CARD.md).",
        "model": "model.onnx",
        "maxBatchSize": 32,
        "inputs": {
            "image": {
                "tensor": "image",
                "width": sw.REFERENCE_SIZE,
                "height": sw.REFERENCE_SIZE,
                "resize": "stretch",
                "channelOrder": "rgb",
                "layout": "nchw",
                "mean": [MEAN] * 3,
                "std": [STD] * 3,
                "background": [255, 255, 255],
            },
            "text": {
                "tokenizer": "tokenizer.json",
                "maxLength": tokenizer.MAX_LENGTH,
                "idsTensor": "input_ids",
                "attentionMaskTensor": "attention_mask",
                "padTokenId": tokenizer.PAD_ID,
            },
        },
        "tasks": [
            {"name": "shape", "kind": "classification", "output": "shape_logits", "labels": sw.SHAPES,
             "activation": "softmax", "topK": 3},
            {"name": "colors", "kind": "multilabel", "output": "colors_logits", "labels": sw.COLOR_NAMES,
             "activation": "sigmoid", "threshold": 0.5},
            {"name": "count", "kind": "regression", "output": "count", "activation": "identity"},
            {"name": "match", "kind": "score", "output": "match_logit", "activation": "sigmoid", "threshold": 0.5},
            {"name": "mask", "kind": "segmentation", "output": "mask_logits", "activation": "sigmoid",
             "threshold": 0.5, "label": "objects with the first shape named in the caption"},
            {"name": "objects", "kind": "detection", "output": "objects_boxes", "scores": "objects_scores",
             "labels": sw.SHAPES, "boxFormat": "cxcywh", "boxUnits": "normalized", "activation": "sigmoid",
             "scoreThreshold": SCORE_THRESHOLD, "maxDetections": 10, "nms": {"iou": 0.5, "perClass": False}},
            {"name": "scene", "kind": "semantic-segmentation", "output": "scene_logits",
             "labels": ["background"] + sw.SHAPES},
        ],
    }


def write_manifest(path: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(manifest(), f, indent=2)
        f.write("\n")


def write_tensors(prefix: str, tensors: dict[str, torch.Tensor]) -> None:
    """Little-endian raw tensors in `<prefix>.bin`, their dtype/shape/offset in `<prefix>.json`."""
    index = {}
    offset = 0
    with open(prefix + ".bin", "wb") as f:
        for name, t in tensors.items():
            arr = t.detach().cpu().numpy()
            arr = arr.astype("<f4" if arr.dtype.kind == "f" else "<i8")
            f.write(arr.tobytes())
            index[name] = {"dtype": "float32" if arr.dtype.kind == "f" else "int64",
                           "shape": list(arr.shape), "offset": offset, "bytes": arr.nbytes}
            offset += arr.nbytes
    with open(prefix + ".json", "w") as f:
        json.dump({"file": os.path.basename(prefix) + ".bin", "tensors": index}, f, indent=2)
        f.write("\n")


def read_tensors(prefix: str) -> dict[str, np.ndarray]:
    with open(prefix + ".json") as f:
        index = json.load(f)["tensors"]
    raw = open(prefix + ".bin", "rb").read()
    out = {}
    for name, meta in index.items():
        dtype = "<f4" if meta["dtype"] == "float32" else "<i8"
        out[name] = np.frombuffer(raw, dtype=dtype, count=int(np.prod(meta["shape"])),
                                  offset=meta["offset"]).reshape(meta["shape"])
    return out
