"""The benchmark's quick mode runs end to end and writes well-formed results (never judged on
speed: the numbers of a quick run mean nothing)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.results import Target, latest_documents, markdown, update_performance_doc
from bench.scenarios import autoscale

REPO = Path(__file__).resolve().parents[2]
SMOKE_SCENARIOS = ("ingest-batch", "end-to-end")


@pytest.mark.slow
def test_quick_mode_writes_results_with_machine_versions_rows_and_targets(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    command = [sys.executable, "-m", "bench", "run", "--quick", "--no-profile",
               "--bootstrap", kafka_bootstrap, "--results-dir", str(tmp_path)]  # fmt: skip
    for scenario in SMOKE_SCENARIOS:
        command += ["--scenario", scenario]
    completed = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=240, check=False
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    documents = {d["scenario"]: d for d in latest_documents(tmp_path)}
    assert set(documents) == set(SMOKE_SCENARIOS)
    for document in documents.values():
        assert document["machine"]["nproc"] >= 1
        assert document["machine"]["cpu_model"]
        assert document["machine"]["ram_gib"] > 0
        for name in ("python", "confluent-kafka", "librdkafka", "kafka"):
            assert document["versions"][name], name
        assert document["parameters"]
        assert document["rows"], "a scenario without measurements"
        for row in document["rows"]:
            assert row["case"] and row["metrics"]
    batch = documents["ingest-batch"]
    assert batch["rows"][0]["baseline"] is None, "the raw baseline comes first"
    assert all(r["ratio"] is not None for r in batch["rows"][1:])
    assert {t["name"] for t in batch["targets"]} == {
        "batch=100: API events/s / raw events/s",
        "batch=500: API events/s / raw events/s",
    }
    end_to_end = documents["end-to-end"]["rows"][0]["metrics"]
    assert end_to_end["not_started"] == 0 and end_to_end["accepted"] == end_to_end["started"]
    print(f"[bench-smoke] scenarios={sorted(documents)} files={len(list(tmp_path.glob('*.json')))}")


@pytest.mark.parametrize(
    "command", [autoscale.WORKER, autoscale.AUTOSCALER], ids=["worker", "autoscaler"]
)
def test_the_processes_the_autoscale_scenario_starts_exist(command: list[str]) -> None:
    """The quick run above leaves the autoscale scenario out (it needs lag to build up); the
    processes it starts must still exist: a stale module path once failed only full runs."""
    answered = subprocess.run(
        [*command, "--help"], cwd=REPO, capture_output=True, text=True, timeout=60, check=False
    )
    assert answered.returncode == 0, answered.stderr[-2000:]
    assert "usage" in answered.stdout.lower(), answered.stdout


def test_table_and_document_update_keep_the_hand_written_text(tmp_path: Path) -> None:
    document = {
        "scenario": "demo", "title": "Demo", "command": "python -m bench run --scenario demo",
        "measured_at": "2026-11-25T00:00:00+00:00", "notes": ["a note"],
        "rows": [{"case": "raw", "metrics": {"events_per_s": 1000.0}, "baseline": None,
                  "ratio": None},
                 {"case": "api", "metrics": {"events_per_s": 700.0}, "baseline": "raw",
                  "ratio": 0.7}],
        "targets": [Target("api / raw", 0.7, 0.6).as_dict(),
                    Target("p99", 12.0, 10.0, higher_is_better=False, unit="ms").as_dict()],
    }  # fmt: skip
    table = markdown([document])
    assert "| api | 700 | raw | 0.7 |" in table
    assert "| api / raw | 0.7 | >= 0.6 | **met** |" in table
    assert "| p99 | 12 ms | <= 10 ms | **not met** |" in table
    doc = tmp_path / "performance.md"
    doc.write_text("# Performance\n\nprose before\n\n<!-- bench:table:begin -->\nstale table\n"
                   "<!-- bench:table:end -->\n\nprose after\n")  # fmt: skip
    update_performance_doc([document], doc)
    text = doc.read_text()
    assert "prose before" in text and "prose after" in text and "stale table" not in text
    assert "| api | 700 | raw | 0.7 |" in text
    json.dumps(document)  # the result documents are plain JSON
