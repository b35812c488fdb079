"""ML jobs: items/s and peak memory of each real job (embedding, tone classification,
similarity index), each in a fresh process."""

from __future__ import annotations

import json
import subprocess
import sys

from bench.context import BenchContext
from bench.results import ScenarioResult
from bench.server import REPO

JOBS = {
    "embedding": "persona.embedding (MiniLM-L6 in numpy, 384-d)",
    "tone": "persona.tone.classification (MiniLM embedding + softmax regression)",
    "index": "persona.index.rebuild (embed + top-5 cosine neighbours, checkpointed chunks)",
}


def run(ctx: BenchContext) -> ScenarioResult:
    count = ctx.pick(32, 512)
    result = ScenarioResult(
        "ml-jobs",
        "7. ML jobs: items/s and peak memory",
        ctx.command("ml-jobs"),
        {"items_per_job": count, "text_words": 40, "threads": "one BLAS thread (the jobs pin it)"},
    )
    for job, description in JOBS.items():
        completed = subprocess.run(
            [sys.executable, "-m", "bench.peers.ml_job", job, str(count)],
            capture_output=True, text=True, check=True, cwd=REPO, timeout=1800,
        )  # fmt: skip
        measured = json.loads(completed.stdout.strip().splitlines()[-1])
        result.add(
            description,
            items_per_s=round(measured["items_per_s"], 1),
            model_load_s=round(measured["load_s"], 2),
            rss_after_load_mb=round(measured["rss_after_load_mb"]),
            peak_rss_mb=round(measured["peak_rss_mb"]),
        )
    result.notes.append("peak RSS is the whole process's high-water mark (ru_maxrss).")
    return result
