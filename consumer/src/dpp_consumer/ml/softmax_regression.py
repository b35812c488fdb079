"""Multinomial logistic regression in numpy: fitting, prediction and (de)serialisation."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

Float32Array = NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class SoftmaxRegression:
    """A linear layer plus softmax over ``labels``; tiny, deterministic, and needs no sklearn."""

    labels: tuple[str, ...]
    weights: Float32Array  # (features, labels)
    bias: Float32Array  # (labels,)

    def probabilities(self, features: Float32Array) -> Float32Array:
        """Class probabilities, shape (n, len(labels)), rows summing to 1."""
        logits = features @ self.weights + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        probabilities: Float32Array = (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)
        return probabilities

    def save(self, path: Path, **metadata: str) -> None:
        """Write an ``.npz`` holding the parameters, labels and free-form string metadata."""
        arrays: dict[str, Any] = {
            "weights": self.weights,
            "bias": self.bias,
            "labels": np.array(self.labels),
        }
        arrays.update({f"meta_{key}": np.array(value) for key, value in metadata.items()})
        np.savez(path, **arrays)

    @classmethod
    def load(cls, path: Path) -> tuple[SoftmaxRegression, dict[str, str]]:
        """Read a model written by :meth:`save`, with its metadata."""
        with np.load(path, allow_pickle=False) as data:
            model = cls(
                labels=tuple(str(label) for label in data["labels"]),
                weights=data["weights"].astype(np.float32),
                bias=data["bias"].astype(np.float32),
            )
            metadata = {
                key.removeprefix("meta_"): str(data[key])
                for key in data.files
                if key.startswith("meta_")
            }
        return model, metadata


def fit_softmax_regression(
    features: Float32Array,
    targets: NDArray[np.int64],
    labels: tuple[str, ...],
    *,
    l2: float = 1e-3,
    learning_rate: float = 2.0,
    epochs: int = 3000,
) -> SoftmaxRegression:
    """Fit by full-batch gradient descent on the L2-regularised cross-entropy.

    The problem is convex and small (hundreds of rows, 384 features), so plain gradient
    descent from zeros converges, and is exactly reproducible run to run.
    """
    n, dim = features.shape
    x = features.astype(np.float64)
    onehot = np.zeros((n, len(labels)))
    onehot[np.arange(n), targets] = 1.0
    weights = np.zeros((dim, len(labels)))
    bias = np.zeros(len(labels))
    for _ in range(epochs):
        logits = x @ weights + bias
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True)
        error = (probs - onehot) / n
        weights -= learning_rate * (x.T @ error + l2 * weights)
        bias -= learning_rate * error.sum(axis=0)
    return SoftmaxRegression(
        labels=labels, weights=weights.astype(np.float32), bias=bias.astype(np.float32)
    )
