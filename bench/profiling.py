"""Sampling profiles (pyinstrument) of the hot paths, kept as text excerpts with the results.

py-spy cannot read this interpreter's version (a uv-managed static build), so profiles are taken
in-process: `profiled_api` runs the producer API under pyinstrument; `profile_call` profiles a
function of the bench process itself. Each profile is a call tree plus a flat self-time list.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from pyinstrument import Profiler

T = TypeVar("T")
INTERVAL_S = 0.001
TREE_LINES = 60
FLAT_LINES = 25


def render(profiler: Profiler) -> str:
    """The top of the call tree and the functions with the most self time."""
    tree = profiler.output_text(unicode=False, color=False, show_all=False)
    flat = profiler.output_text(unicode=False, color=False, flat=True)
    tree_top = "\n".join(tree.strip("\n").splitlines()[:TREE_LINES])
    flat_lines = flat.strip("\n").splitlines()
    # Drop pyinstrument's banner (already above the tree): keep what follows "Profile at".
    start = next((i + 1 for i, line in enumerate(flat_lines) if line.startswith("Profile at")), 0)
    flat_top = "\n".join(line for line in flat_lines[start:][:FLAT_LINES] if line.strip())
    return f"{tree_top}\n\n-- self time, top functions --\n{flat_top}\n"


def profile_call(call: Callable[[], T]) -> tuple[T, str]:
    profiler = Profiler(interval=INTERVAL_S)
    profiler.start()
    try:
        value = call()
    finally:
        profiler.stop()
    return value, render(profiler)
