"""The numpy MiniLM encoder reproduces sentence-transformers' reference vectors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dpp_consumer.ml.embedding import embed
from dpp_consumer.ml.errors import ModelFilesMissingError
from dpp_consumer.ml.minilm import EMBEDDING_DIM, MAX_SEQ_LENGTH, MiniLMEncoder

REFERENCE = Path(__file__).parent / "fixtures" / "minilm_reference.json"


@pytest.mark.usefixtures("encoder")
def test_matches_reference_vectors_from_sentence_transformers() -> None:
    # Vectors computed by sentence-transformers + PyTorch (see fixtures/make_minilm_reference.py),
    # an implementation independent of ours; covers emoji, German, padding and truncation.
    reference = json.loads(REFERENCE.read_text(encoding="utf-8"))
    expected = np.array(reference["embeddings"], dtype=np.float32)

    # Small batches: the 256-token sentence would otherwise pad all eleven to 256 tokens.
    actual = embed(reference["sentences"], batch_size=4)

    assert actual.shape == expected.shape == (len(reference["sentences"]), EMBEDDING_DIM)
    assert np.abs(actual - expected).max() < 1e-5
    assert (actual * expected).sum(axis=1).min() > 0.99999


def test_padding_does_not_change_a_sentence_embedding(encoder: MiniLMEncoder) -> None:
    short = "The cat sat on the mat."
    long = "A much longer sentence that forces the short one to be padded by many tokens. " * 5

    alone = encoder.encode_batch([short])[0]
    padded = encoder.encode_batch([short, long])[0]

    assert np.abs(alone - padded).max() < 1e-5


def test_inputs_longer_than_the_model_limit_are_truncated(encoder: MiniLMEncoder) -> None:
    ids, mask = encoder.tokenize(["word " * 1000, "short"])

    assert ids.shape == (2, MAX_SEQ_LENGTH)
    assert mask[0].sum() == MAX_SEQ_LENGTH
    assert mask[1].sum() == 3  # [CLS] short [SEP]
    assert ids[0, -1] == 102  # [SEP] kept after truncation


def test_empty_batch_gives_an_empty_matrix(encoder: MiniLMEncoder) -> None:
    assert encoder.encode_batch([]).shape == (0, EMBEDDING_DIM)


def test_a_missing_model_file_is_reported_with_its_path(tmp_path: Path) -> None:
    with pytest.raises(ModelFilesMissingError) as missing:
        MiniLMEncoder.from_directory(tmp_path)
    assert missing.value.path.startswith(str(tmp_path))
