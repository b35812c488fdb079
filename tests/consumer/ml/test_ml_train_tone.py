"""The training command fits on the train split only and writes loadable weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dpp_consumer.ml import train_tone
from dpp_consumer.ml.softmax_regression import SoftmaxRegression, fit_softmax_regression
from dpp_consumer.ml.tone_dataset import ToneDataset, load_tone_dataset, texts_digest


def test_fit_separates_linearly_separable_classes() -> None:
    rng = np.random.default_rng(0)
    centres = np.eye(3, 8, dtype=np.float32) * 3
    targets = np.repeat(np.arange(3), 20)
    features = (centres[targets] + rng.normal(0, 0.3, (60, 8))).astype(np.float32)

    model = fit_softmax_regression(features, targets, ("a", "b", "c"), epochs=500)

    assert (model.probabilities(features).argmax(axis=1) == targets).mean() == 1.0


@pytest.mark.usefixtures("encoder")
def test_command_trains_on_the_train_split_and_writes_weights(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    full = load_tone_dataset()
    # Every 4th example keeps the run short while keeping all labels and both splits.
    small = ToneDataset(labels=full.labels, examples=full.examples[::4])
    monkeypatch.setattr(train_tone, "load_tone_dataset", lambda: small)
    monkeypatch.setattr(train_tone, "L2_CANDIDATES", (1e-3,))
    output = tmp_path / "tone.npz"

    assert train_tone.main(["--output", str(output)]) == 0

    model, metadata = SoftmaxRegression.load(output)
    assert model.labels == full.labels
    assert model.weights.shape == (384, len(full.labels))
    assert metadata["train_digest"] == texts_digest([e.text for e in small.split("train")])
    assert int(metadata["train_size"]) == len(small.split("train"))
    assert float(metadata["test_macro_f1"]) > 0.6
