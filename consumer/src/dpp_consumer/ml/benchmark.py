"""Command that measures the ML layer on this host: import and load time, throughput, peak RSS.

Run ``python -m dpp_consumer.ml.benchmark`` in a fresh process (load time is only cold once).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from dpp_consumer.ml import embedding, tone
from dpp_consumer.ml.index_checkpoint import FileIndexCheckpoint
from dpp_consumer.ml.similarity_index import Document, build_similarity_index
from dpp_consumer.ml.tone_dataset import load_tone_dataset


def _fresh_import_seconds() -> float:
    # A new interpreter: this one has already imported everything (``-m`` imports the package).
    began = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import dpp_consumer.ml"], check=True)
    return time.perf_counter() - began


def _rate(texts: Sequence[str], repeats: int, threads: int) -> float:
    batches = [list(texts)] * repeats
    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(embedding.embed, batches))
    return len(texts) * repeats / (time.perf_counter() - began)


def _index_seconds(texts: Sequence[str]) -> float:
    documents = [Document(f"doc-{i}", text) for i, text in enumerate(texts)]
    with tempfile.TemporaryDirectory() as scratch:
        checkpoint = FileIndexCheckpoint(Path(scratch) / "index.ckpt")
        began = time.perf_counter()
        build_similarity_index(documents, checkpoint)
        return time.perf_counter() - began


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m dpp_consumer.ml.benchmark``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    import_seconds = _fresh_import_seconds()
    imported = time.perf_counter()
    embedding.shared_encoder()
    encoder_loaded = time.perf_counter()
    tone.shared_tone_classifier()
    tone_loaded = time.perf_counter()

    sentences = [e.text for e in load_tone_dataset().examples]
    # ~150-word documents, the size of a persona's notes or posts.
    documents = [" ".join(sentences[i : i + 12]) for i in range(0, len(sentences), 12)]
    embedding.embed(sentences[:8])  # first call pays one-off allocations
    lines = {
        "cpus": str(os.cpu_count()),
        "load_average_1m": f"{os.getloadavg()[0]:.1f}",
        "python_start_and_import_s": f"{import_seconds:.3f}",
        "encoder_load_s": f"{encoder_loaded - imported:.3f}",
        "tone_load_s": f"{tone_loaded - encoder_loaded:.3f}",
        "sentences_per_s_1_thread": f"{_rate(sentences, args.repeats, 1):.0f}",
        "sentences_per_s_2_threads": f"{_rate(sentences, args.repeats, 2):.0f}",
        "documents_150_words_per_s_1_thread": f"{_rate(documents, args.repeats, 1):.1f}",
        "index_build_320_sentences_file_checkpoint_s": f"{_index_seconds(sentences):.2f}",
        "peak_rss_mib": f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}",
    }
    for key, value in lines.items():
        sys.stdout.write(f"{key}: {value}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
