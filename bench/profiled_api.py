"""`python -m bench.profiled_api PORT OUT`: the producer API (one uvicorn process) sampled by
pyinstrument for its whole life; on SIGTERM the profile's text goes to OUT."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import uvicorn
from pyinstrument import Profiler

from bench.profiling import INTERVAL_S, render
from dpp_producer.app import create_app


def main() -> None:
    port, out = int(sys.argv[1]), Path(sys.argv[2])
    # uvicorn re-raises the SIGTERM it handled once it has shut down; a Python handler keeps
    # that from killing the process before the profile is written.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: None)
    profiler = Profiler(interval=INTERVAL_S, async_mode="disabled")
    profiler.start()
    try:
        uvicorn.run(
            create_app(), host="127.0.0.1", port=port, access_log=False, log_level="warning"
        )
    finally:
        profiler.stop()
        out.write_text(render(profiler))


if __name__ == "__main__":
    main()
