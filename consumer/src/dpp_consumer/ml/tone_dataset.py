"""The labelled persona-tone dataset shipped in the package, with its fixed train/test split."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from typing import Literal

DATASET_RESOURCE = "tone_sentences.json"


@dataclass(frozen=True, slots=True)
class ToneExample:
    """One labelled message."""

    text: str
    label: str
    split: Literal["train", "test"]


@dataclass(frozen=True, slots=True)
class ToneDataset:
    """All examples and the label set, in the order the classifier's outputs use."""

    labels: tuple[str, ...]
    examples: tuple[ToneExample, ...]

    def split(self, name: Literal["train", "test"]) -> tuple[ToneExample, ...]:
        """The examples of one split; "test" rows are held out from training."""
        return tuple(e for e in self.examples if e.split == name)


def load_tone_dataset() -> ToneDataset:
    """Read the dataset bundled at ``dpp_consumer/ml/data/tone_sentences.json``."""
    raw = (
        resources.files("dpp_consumer.ml")
        .joinpath("data")
        .joinpath(DATASET_RESOURCE)
        .read_text("utf-8")
    )
    data = json.loads(raw)
    labels = tuple(str(label) for label in data["labels"])
    examples = tuple(
        ToneExample(text=str(e["text"]), label=str(e["label"]), split=e["split"])
        for e in data["examples"]
    )
    unknown = {e.label for e in examples} - set(labels)
    if unknown:
        raise ValueError(f"tone dataset has examples with undeclared labels: {sorted(unknown)}")
    return ToneDataset(labels=labels, examples=examples)


def texts_digest(texts: list[str] | tuple[str, ...]) -> str:
    """Order-independent fingerprint of a set of texts, to prove which rows a model saw."""
    digest = hashlib.sha256()
    for text in sorted(texts):
        digest.update(text.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()
