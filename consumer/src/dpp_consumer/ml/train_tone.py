"""Command that trains the tone classifier on the dataset's train split and writes its weights.

Run ``python -m dpp_consumer.ml.train_tone`` after changing the dataset; commit the new
``data/tone_weights.npz``. The L2 strength is chosen by cross-validation on the train split
only; the test split is scored once, for the report, and never steers training.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from dpp_consumer.ml.classification_metrics import accuracy, macro_f1
from dpp_consumer.ml.embedding import embed
from dpp_consumer.ml.minilm import MODEL_NAME
from dpp_consumer.ml.softmax_regression import SoftmaxRegression, fit_softmax_regression
from dpp_consumer.ml.tone import tone_weights_path
from dpp_consumer.ml.tone_dataset import load_tone_dataset, texts_digest

L2_CANDIDATES = (1e-4, 1e-3, 1e-2)
FOLDS = 5


def _predict(model: SoftmaxRegression, features: NDArray[np.float32]) -> list[str]:
    return [model.labels[i] for i in model.probabilities(features).argmax(axis=1)]


def _cross_validated_f1(
    features: NDArray[np.float32],
    targets: NDArray[np.int64],
    labels: tuple[str, ...],
    l2: float,
) -> float:
    # Deterministic interleaved folds: every fold sees every label.
    folds = np.arange(len(targets)) % FOLDS
    scores = []
    for fold in range(FOLDS):
        held = folds == fold
        model = fit_softmax_regression(features[~held], targets[~held], labels, l2=l2)
        expected = [labels[i] for i in targets[held]]
        scores.append(macro_f1(expected, _predict(model, features[held]), labels))
    return float(np.mean(scores))


def train(output: Path) -> dict[str, str]:
    """Train, save to ``output`` and return the metadata written alongside the weights."""
    dataset = load_tone_dataset()
    train_rows, test_rows = dataset.split("train"), dataset.split("test")
    labels = dataset.labels
    features = embed([row.text for row in train_rows])
    targets = np.array([labels.index(row.label) for row in train_rows], dtype=np.int64)
    cv = {l2: _cross_validated_f1(features, targets, labels, l2) for l2 in L2_CANDIDATES}
    best_l2 = max(cv, key=lambda l2: cv[l2])
    model = fit_softmax_regression(features, targets, labels, l2=best_l2)
    expected = [row.label for row in test_rows]
    predicted = _predict(model, embed([row.text for row in test_rows]))
    metadata = {
        "embedding_model": MODEL_NAME,
        "train_digest": texts_digest([row.text for row in train_rows]),
        "train_size": str(len(train_rows)),
        "l2": repr(best_l2),
        "cv_macro_f1": f"{cv[best_l2]:.4f}",
        "test_size": str(len(test_rows)),
        "test_accuracy": f"{accuracy(expected, predicted):.4f}",
        "test_macro_f1": f"{macro_f1(expected, predicted, labels):.4f}",
    }
    model.save(output, **metadata)
    return metadata


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m dpp_consumer.ml.train_tone``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=tone_weights_path())
    args = parser.parse_args(argv)
    metadata = train(args.output)
    for key, value in metadata.items():
        sys.stdout.write(f"{key}: {value}\n")
    sys.stdout.write(f"wrote {args.output}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
