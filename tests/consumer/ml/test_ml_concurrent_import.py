"""Jobs import the ML modules lazily from several threads at once; that must never fail."""

from __future__ import annotations

import subprocess
import sys

_RACE = """
import importlib, threading
names = ["dpp_consumer.ml.tone", "dpp_consumer.ml.embedding",
         "dpp_consumer.ml.similarity_index", "dpp_consumer.ml.tone", "dpp_consumer.ml"]
barrier = threading.Barrier(len(names))
errors = []
def load(name):
    barrier.wait()
    try:
        importlib.import_module(name)
    except Exception as error:
        errors.append(repr(error))
threads = [threading.Thread(target=load, args=(name,)) for name in names]
for thread in threads: thread.start()
for thread in threads: thread.join()
import dpp_consumer.ml as ml
assert ml.classify_tone is importlib.import_module("dpp_consumer.ml.tone").classify_tone
print("errors:", errors)
"""


def test_submodules_imported_from_many_threads_at_once_never_deadlock() -> None:
    # A fresh interpreter each round: the race only exists while nothing is imported yet.
    for _round in range(5):
        result = subprocess.run(
            [sys.executable, "-c", _RACE], capture_output=True, text=True, timeout=120, check=False
        )
        assert result.returncode == 0, result.stderr
        assert "errors: []" in result.stdout, result.stdout
