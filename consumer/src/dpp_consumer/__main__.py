"""`python -m dpp_consumer`: run one worker configured from the environment."""

from __future__ import annotations

from dpp_consumer.service import run_worker

if __name__ == "__main__":
    run_worker()
