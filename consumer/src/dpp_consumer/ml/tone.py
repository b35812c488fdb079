"""The persona tone classification job: MiniLM embeddings fed to a shipped softmax regression."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from dpp_consumer.ml.embedding import embed
from dpp_consumer.ml.errors import ModelFilesMissingError
from dpp_consumer.ml.softmax_regression import SoftmaxRegression

WEIGHTS_RESOURCE = "tone_weights.npz"


@dataclass(frozen=True, slots=True)
class ToneScore:
    """The tone of one text: the most likely label and every label's probability."""

    label: str
    confidence: float
    scores: dict[str, float]


def tone_weights_path() -> Path:
    """Where the trained weights live inside the installed package."""
    return Path(str(resources.files("dpp_consumer.ml").joinpath("data").joinpath(WEIGHTS_RESOURCE)))


_classifier: SoftmaxRegression | None = None
_classifier_lock = threading.Lock()


def shared_tone_classifier() -> SoftmaxRegression:
    """The process-wide tone model, read from the package on first use."""
    global _classifier  # noqa: PLW0603 - a deliberate process-wide singleton
    classifier = _classifier
    if classifier is None:
        with _classifier_lock:
            classifier = _classifier
            if classifier is None:
                path = tone_weights_path()
                if not path.is_file():
                    raise ModelFilesMissingError(str(path))
                classifier, _ = SoftmaxRegression.load(path)
                _classifier = classifier
    return classifier


def classify_tone(texts: Sequence[str]) -> list[ToneScore]:
    """Tone of each text (formal, casual, enthusiastic or negative), in input order."""
    if isinstance(texts, str):
        raise TypeError("classify_tone() takes a sequence of texts, not a single string")
    classifier = shared_tone_classifier()
    probabilities = classifier.probabilities(embed(texts))
    results = []
    for row in probabilities:
        best = int(row.argmax())
        results.append(
            ToneScore(
                label=classifier.labels[best],
                confidence=float(row[best]),
                scores={label: float(p) for label, p in zip(classifier.labels, row, strict=True)},
            )
        )
    return results
