"""The processes of one CLI run, found by a marker in their environment wherever they ended up."""

from __future__ import annotations

from pathlib import Path

from dpp_cli.stack.processes import wait_for

RUN_MARKER = "DPP_TEST_RUN"
# Workers drain on SIGTERM; idle ones leave within seconds. Generous for a loaded machine.
GONE_TIMEOUT_S = 60.0


def run_processes(run_id: str) -> dict[int, str]:
    """Live (non-zombie) processes whose environment carries this run's marker: pid -> argv."""
    needle = f"{RUN_MARKER}={run_id}".encode()
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            state = (entry / "stat").read_text().rsplit(") ", 1)[-1][:1]
            argv = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # exited meanwhile, or not ours to read
        if state != "Z":
            found[int(entry.name)] = argv.strip()
    return found


def assert_none_survive(run_id: str) -> None:
    gone = wait_for(lambda: not run_processes(run_id), GONE_TIMEOUT_S, interval_s=0.1)
    assert gone, f"still running after {GONE_TIMEOUT_S:.0f}s: {run_processes(run_id)}"
