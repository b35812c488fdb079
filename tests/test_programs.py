"""Every program a test or the benchmark starts is in tests/programs.tsv, which `./dev test`
installs from: a test that calls an unlisted program fails here, on any machine."""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

from tests.fixtures.programs import PROGRAMS_FILE, listed_programs

ROOT = Path(__file__).resolve().parents[1]
SUBPROCESS_CALLS = {"run", "Popen", "check_output", "check_call", "call"}


def called_programs(source: str) -> set[str]:
    """Programs named literally in a file: the first item of a command list handed to
    subprocess, and the argument of `shutil.which`/`which`."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        first = node.args[0]
        if name in SUBPROCESS_CALLS and isinstance(first, ast.List | ast.Tuple) and first.elts:
            head = first.elts[0]
            if isinstance(head, ast.Constant) and isinstance(head.value, str):
                found.add(Path(head.value).name)
        elif (
            name in {"which", "_which"}
            and isinstance(first, ast.Constant)
            and isinstance(first.value, str)
        ):
            found.add(first.value)
    return found


def test_the_scanner_finds_programs_and_the_list_would_reject_a_new_one() -> None:
    sample = (
        "import shutil, subprocess\n"
        "subprocess.run(['frobnicate', '-x'])\n"
        "shutil.which('gizmo')\n"
        "subprocess.Popen(cmd)\n"
    )
    assert called_programs(sample) == {"frobnicate", "gizmo"}
    assert {"frobnicate", "gizmo"}.isdisjoint(listed_programs())


def test_every_program_the_tests_and_benchmarks_call_is_installed_by_the_test_command() -> None:
    files = [*ROOT.joinpath("tests").rglob("*.py"), *ROOT.joinpath("bench").rglob("*.py")]
    called: dict[str, str] = {}
    for path in files:
        for program in called_programs(path.read_text()):
            called.setdefault(program, str(path.relative_to(ROOT)))
    allowed = listed_programs() | {"python", "python3"}
    # Alternatives probed but never required (the Docker engine, other Chromium names).
    optional = {"chromium-browser", "google-chrome"}
    missing = {p: where for p, where in called.items() if p not in allowed | optional}
    assert not missing, f"add these to {PROGRAMS_FILE.name} (and they get installed): {missing}"
    assert {"wrk", "tmux", "chromium", "java"} <= set(called) | listed_programs()


def test_the_test_command_installs_every_listed_apt_package() -> None:
    """`./dev test` reads the apt column of the list; a package that does not exist would fail
    the install, so check each is known to apt here (no network: the local package index)."""
    packages = {
        line.split("\t")[2]
        for line in PROGRAMS_FILE.read_text().splitlines()
        if line and not line.startswith("#") and line.split("\t")[1] == "apt"
    }
    dev = (ROOT / "dev").read_text()
    assert "tests/programs.tsv" in dev
    for package in sorted(packages):
        shown = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", package],
            capture_output=True,
            text=True,
            check=False,
        )
        assert "install ok installed" in shown.stdout, f"{package} is not installed"
