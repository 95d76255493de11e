"""Word-level vocabulary of the caption grammar, saved as a Hugging Face tokenizer.json.

Hugging Face's JavaScript tokenizers implement WordPiece but not WordLevel, so the
vocabulary is saved as WordPiece with whole words only (no `##` pieces): a word that is
not in the vocabulary becomes `[UNK]` as a whole, exactly as a word-level model would.
`encode` below mirrors that pipeline (lower-casing, splitting on whitespace and
punctuation) so that training sees the ids the runtime will produce.
"""
from __future__ import annotations

import json
import re

from shapes_world import COLOR_NAMES, SHAPES, SIZES

PAD, UNK = "[PAD]", "[UNK]"
MAX_LENGTH = 16
WORDS = (
    ["a", "an", "there", "is", "image", "of", "photo"]
    + list(SIZES)
    + COLOR_NAMES
    + SHAPES
    + ["left", "right", "above", "below"]
    + [".", ","]
)
VOCAB = {tok: i for i, tok in enumerate([PAD, UNK] + WORDS)}
PAD_ID, UNK_ID = VOCAB[PAD], VOCAB[UNK]
# The `Whitespace` pre-tokenizer of Hugging Face tokenizers.
_SPLIT = re.compile(r"\w+|[^\w\s]+")


def encode(text: str, max_length: int = MAX_LENGTH) -> tuple[list[int], list[int]]:
    """Token ids and attention mask, truncated and right-padded to max_length."""
    ids = [VOCAB.get(w, UNK_ID) for w in _SPLIT.findall(text.lower())][:max_length]
    mask = [1] * len(ids)
    pad = max_length - len(ids)
    return ids + [PAD_ID] * pad, mask + [0] * pad


def tokenizer_json() -> dict:
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {"id": VOCAB[t], "content": t, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": True}
            for t in (PAD, UNK)
        ],
        "normalizer": {"type": "Lowercase"},
        "pre_tokenizer": {"type": "Whitespace"},
        "post_processor": None,
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {
            "type": "WordPiece",
            "unk_token": UNK,
            "continuing_subword_prefix": "##",
            "max_input_chars_per_word": 100,
            "vocab": VOCAB,
        },
    }


def save(path: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(tokenizer_json(), f, indent=2, ensure_ascii=False)
        f.write("\n")
