"""Quality metrics of a classifier on labelled data: accuracy and macro-averaged F1."""

from __future__ import annotations

from collections.abc import Sequence


def accuracy(expected: Sequence[str], predicted: Sequence[str]) -> float:
    """Share of predictions equal to the expected label."""
    if len(expected) != len(predicted) or not expected:
        raise ValueError("need two non-empty label sequences of equal length")
    return sum(e == p for e, p in zip(expected, predicted, strict=True)) / len(expected)


def macro_f1(expected: Sequence[str], predicted: Sequence[str], labels: Sequence[str]) -> float:
    """Unweighted mean of per-label F1, so a small class counts as much as a large one."""
    if len(expected) != len(predicted) or not expected:
        raise ValueError("need two non-empty label sequences of equal length")
    scores = []
    for label in labels:
        tp = sum(e == label and p == label for e, p in zip(expected, predicted, strict=True))
        fp = sum(e != label and p == label for e, p in zip(expected, predicted, strict=True))
        fn = sum(e == label and p != label for e, p in zip(expected, predicted, strict=True))
        denominator = 2 * tp + fp + fn
        scores.append(2 * tp / denominator if denominator else 0.0)
    return sum(scores) / len(scores)
