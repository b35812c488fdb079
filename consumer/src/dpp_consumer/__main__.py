"""`python -m dpp_consumer`: run one worker configured from the environment."""

from __future__ import annotations

import sys

from dpp_consumer.service import run_worker

USAGE = """usage: python -m dpp_consumer

Run one worker until SIGTERM/SIGINT, configured only from the environment (KAFKA_*, DPP_*,
DATABASE_URL; see docs/configuration.md). It takes no arguments: `dpp consumer run --help`
lists the same settings with their defaults.
"""


def main(argv: list[str]) -> int:
    if argv:
        # A worker that ignored `--help` would start consuming: answer instead, and refuse
        # anything else rather than guess.
        asked = argv[0] in ("-h", "--help")
        (sys.stdout if asked else sys.stderr).write(USAGE)
        return 0 if asked else 2
    run_worker()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
