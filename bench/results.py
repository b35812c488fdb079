"""Scenario results: measured rows, baselines, ratios and targets, written as JSON and a table."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"
PERFORMANCE_DOC = Path(__file__).resolve().parents[1] / "docs" / "performance.md"
TABLE_BEGIN = "<!-- bench:table:begin -->"
TABLE_END = "<!-- bench:table:end -->"
_HEADLINE_VERSIONS = (
    "python", "confluent-kafka", "librdkafka", "kafka", "fastapi", "uvicorn", "pydantic",
    "sqlalchemy", "faststream", "wrk",
)  # fmt: skip


@dataclass(frozen=True)
class Target:
    """One acceptance target of the issue: `value` compared with `threshold`."""

    name: str
    value: float | None
    threshold: float
    higher_is_better: bool = True
    unit: str = ""

    @property
    def met(self) -> bool | None:
        if self.value is None:
            return None
        if self.higher_is_better:
            return self.value >= self.threshold
        return self.value <= self.threshold

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "met": self.met}


@dataclass(frozen=True)
class Row:
    """One measured line of the table: what ran, and its numbers (`metrics` names -> values)."""

    case: str
    metrics: dict[str, float | int | str | None]
    baseline: str | None = None
    ratio: float | None = None


@dataclass
class ScenarioResult:
    """What one scenario measured; `parameters` say how, `notes` what the reader must know."""

    scenario: str
    title: str
    command: str
    parameters: dict[str, Any]
    rows: list[Row] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    profiles: dict[str, str] = field(default_factory=dict)
    duration_s: float = 0.0
    load_average: dict[str, list[float]] = field(default_factory=dict)

    def add(
        self,
        case: str,
        *,
        baseline: str | None = None,
        ratio: float | None = None,
        **metrics: float | int | str | None,
    ) -> Row:
        """Append a measured row; `ratio` compares it with the row named by `baseline`."""
        row = Row(case, dict(metrics), baseline, None if ratio is None else round(ratio, 3))
        self.rows.append(row)
        return row

    def add_metrics(
        self,
        case: str,
        metrics: dict[str, float | int | str | None],
        *,
        baseline: str | None = None,
        ratio: float | None = None,
    ) -> Row:
        return self.add(case, baseline=baseline, ratio=ratio, **metrics)

    def as_dict(self, machine: dict[str, Any], versions: dict[str, Any]) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "title": self.title,
            "command": self.command,
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "duration_s": round(self.duration_s, 1),
            "load_average": self.load_average,
            "machine": machine,
            "versions": versions,
            "parameters": self.parameters,
            "rows": [asdict(row) for row in self.rows],
            "targets": [target.as_dict() for target in self.targets],
            "notes": self.notes,
            "profiles": self.profiles,
        }


def write_json(document: dict[str, Any], directory: Path = RESULTS_DIR) -> Path:
    """`<directory>/<date>-<scenario>.json` (a later run of the same day replaces it)."""
    directory.mkdir(parents=True, exist_ok=True)
    day = document["measured_at"][:10]
    path = directory / f"{day}-{document['scenario']}.json"
    path.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n")
    return path


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if abs(value) >= 100:
            return f"{value:,.0f}"
        return f"{value:.3g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _met(target: dict[str, Any]) -> str:
    met = target["met"]
    return "not measured" if met is None else ("**met**" if met else "**not met**")


def markdown(documents: list[dict[str, Any]]) -> str:
    """One table per scenario plus a targets table, for docs/performance.md."""
    lines: list[str] = []
    documents = sorted(documents, key=lambda document: str(document["title"]))
    if documents and "machine" in documents[0]:
        machine, versions = documents[0]["machine"], documents[0].get("versions", {})
        lines.append(
            f"Machine: {machine['nproc']} CPUs ({machine['cpu_model']}), "
            f"{machine['ram_gib']} GiB RAM, Linux {machine['kernel']}. Versions: "
            + ", ".join(
                f"{name} {versions[name]}" for name in _HEADLINE_VERSIONS if name in versions
            )
            + "."
        )
        lines.append("")
    for document in documents:
        lines.append(f"### {document['title']}")
        lines.append("")
        load = document.get("load_average", {}).get("before")
        load_text = f", load average before {load[0]:g}" if load else ""
        lines.append(f"`{document['command']}` (measured {document['measured_at']}{load_text})")
        lines.append("")
        names: list[str] = []
        for row in document["rows"]:
            names.extend(name for name in row["metrics"] if name not in names)
        lines.append("| case | " + " | ".join(names) + " | baseline | ratio |")
        lines.append("|---" * (len(names) + 3) + "|")
        for row in document["rows"]:
            cells = [_cell(row["metrics"].get(name)) for name in names]
            lines.append(
                f"| {row['case']} | "
                + " | ".join(cells)
                + f" | {row['baseline'] or ''} | {_cell(row['ratio'])} |"
            )
        if document["targets"]:
            lines.append("")
            lines.append("| target | measured | threshold | result |")
            lines.append("|---|---|---|---|")
            for target in document["targets"]:
                sign = ">=" if target["higher_is_better"] else "<="
                measured = f"{_cell(target['value'])} {target['unit']}".strip()
                threshold = f"{sign} {_cell(target['threshold'])} {target['unit']}".strip()
                lines.append(f"| {target['name']} | {measured} | {threshold} | {_met(target)} |")
        for note in document["notes"]:
            lines.append("")
            lines.append(f"- {note}")
        lines.append("")
    return "\n".join(lines)


def latest_documents(directory: Path = RESULTS_DIR) -> list[dict[str, Any]]:
    """The newest result of every scenario found in `directory`."""
    newest: dict[str, dict[str, Any]] = {}
    for path in sorted(directory.glob("*.json")):
        document = json.loads(path.read_text())
        if not isinstance(document, dict) or "scenario" not in document:
            continue
        newest[document["scenario"]] = document
    return list(newest.values())


def update_performance_doc(documents: list[dict[str, Any]], doc: Path = PERFORMANCE_DOC) -> None:
    """Replace the generated part of docs/performance.md (between the markers), keep the rest."""
    table = f"{TABLE_BEGIN}\n{markdown(documents)}\n{TABLE_END}"
    text = doc.read_text() if doc.exists() else f"# Performance\n\n{TABLE_BEGIN}\n{TABLE_END}\n"
    if TABLE_BEGIN not in text:
        text = text.rstrip() + f"\n\n{TABLE_BEGIN}\n{TABLE_END}\n"
    pattern = re.compile(re.escape(TABLE_BEGIN) + ".*?" + re.escape(TABLE_END), re.DOTALL)
    doc.write_text(pattern.sub(lambda _match: table, text))
