"""What a benchmark run found: the table, the issue's target ratios, the machine, the JSON file.

Pure functions over the results document (plain dicts, as written to JSON), so they are tested
without a load run.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

LIBRARIES = (
    "pipeserve",
    "scikit-learn",
    "numpy",
    "pandas",
    "onnxruntime",
    "skl2onnx",
    "orjson",
    "flask",
    "apiflask",
    "granian",
    "gunicorn",
    "fastapi",
    "uvicorn",
)


def cell(server: dict[str, Any], concurrency: int, batch: int) -> dict[str, Any] | None:
    """The measured cell of ``server`` at ``concurrency`` and ``batch``, if there is one."""
    for item in server.get("cells", []):
        if item["concurrency"] == concurrency and item["batch"] == batch and "error" not in item:
            return dict(item)
    return None


def _summary_cells(server: dict[str, Any]) -> list[str]:
    one = cell(server, 1, 1)
    loaded = cell(server, 64, 1)
    big = cell(server, 8, 1000)
    return [
        f"{one['p50_ms']:.2f}" if one else "-",
        f"{loaded['requests_per_s']:,.0f}" if loaded else "-",
        f"{loaded['p99_ms']:.1f}" if loaded else "-",
        f"{big['rows_per_s']:,.0f}" if big else "-",
        f"{big['p50_ms']:.1f} / {big['p99_ms']:.1f}" if big else "-",
        str(sum(c.get("errors", 0) for c in server["cells"])),
    ]


SUMMARY_HEADER = (
    "stack",
    "c=1 p50 ms",
    "c=64 req/s",
    "c=64 p99 ms",
    "1000 rows: rows/s",
    "1000 rows p50 / p99 ms",
    "errors",
)


def summary_table(servers: list[dict[str, Any]]) -> str:
    """A fixed-width table: one line per stack (one row alone, under load, 1000-row requests)."""
    widths = (44, 10, 10, 11, 17, 22, 6)
    lines = [
        " ".join(
            h.rjust(w) if i else h.ljust(w)
            for i, (h, w) in enumerate(zip(SUMMARY_HEADER, widths, strict=True))
        )
    ]
    lines.append("-" * len(lines[0]))
    for server in servers:
        if not server["available"]:
            lines.append(f"{server['label']:<44} unavailable: {server['reason']}")
            continue
        values = [server["label"], *_summary_cells(server)]
        lines.append(
            " ".join(
                v.rjust(w) if i else v.ljust(w)
                for i, (v, w) in enumerate(zip(values, widths, strict=True))
            )
        )
    return "\n".join(lines)


def summary_markdown(servers: list[dict[str, Any]]) -> str:
    """The same table as Markdown (for the README)."""
    lines = ["| " + " | ".join(SUMMARY_HEADER) + " |", "|---|" + "--:|" * (len(SUMMARY_HEADER) - 1)]
    for server in servers:
        if not server["available"]:
            lines.append(f"| {server['label']} | unavailable: {server['reason']} |")
            continue
        lines.append("| " + " | ".join([server["label"], *_summary_cells(server)]) + " |")
    return "\n".join(lines)


@dataclass(frozen=True)
class Target:
    """One of the issue's targets, as measured in one run."""

    name: str
    candidate: str
    value: float | None
    op: str  # ">=" or "<="
    limit: float
    note: str = ""
    issue: bool = True
    """False for a ratio shown beside the issue's targets for context, never counted."""

    @property
    def met(self) -> bool | None:
        if self.value is None:
            return None
        return self.value >= self.limit if self.op == ">=" else self.value <= self.limit

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.name,
            "candidate": self.candidate,
            "value": self.value,
            "op": self.op,
            "limit": self.limit,
            "met": self.met,
            "note": self.note,
            "issue": self.issue,
        }


def _ratio(top: float | None, bottom: float | None) -> float | None:
    return top / bottom if top is not None and bottom else None


def monitoring_cost(servers: list[dict[str, Any]], off: str) -> str:
    """What input monitoring costs: pipeserve's friendly row against the same server with
    monitoring off, cell by cell (empty when either row is missing)."""
    by_name = {server["name"]: server for server in servers if server.get("available")}
    on, without = by_name.get("pipeserve"), by_name.get(off)
    if on is None or without is None:
        return ""
    lines = []
    cells_off = {(c["batch"], c["concurrency"]): c for c in without["cells"] if "p50_ms" in c}
    for cell in on["cells"]:
        other = cells_off.get((cell["batch"], cell["concurrency"]))
        if other is None or "p50_ms" not in cell:
            continue
        rows_on, rows_off = cell["rows_per_s"], other["rows_per_s"]
        share = (1 - rows_on / rows_off) * 100 if rows_off else 0.0
        lines.append(
            f"  c={cell['concurrency']:<3} {cell['batch']:>4} rows: p50 {cell['p50_ms']:.2f} vs "
            f"{other['p50_ms']:.2f} ms ({(cell['p50_ms'] - other['p50_ms']) * 1000:+.0f} us); "
            f"rows/s {rows_on:,.0f} vs {rows_off:,.0f} ({share:+.1f}% fewer with monitoring)"
        )
    return "\n".join(lines)


def compute_targets(servers: list[dict[str, Any]]) -> list[Target]:
    """The serving-core issue's targets from one run's rows (by name: pipeserve, pipeserve-v2,
    minimal, seed, mlserver, hello-granian). A value is None where a row or cell is missing."""
    by_name = {s["name"]: s for s in servers if s["available"]}

    def value(name: str, concurrency: int, batch: int, key: str) -> float | None:
        server = by_name.get(name)
        found = cell(server, concurrency, batch) if server else None
        return float(found[key]) if found else None

    targets = []
    for candidate in ("pipeserve", "pipeserve-v2"):
        rps = value(candidate, 64, 1, "requests_per_s")
        rows = value(candidate, 8, 1000, "rows_per_s")
        targets += [
            Target(
                "one row, c=64: req/s / minimal app",
                candidate,
                _ratio(rps, value("minimal", 64, 1, "requests_per_s")),
                ">=",
                0.75,
            ),
            Target(
                "one row, c=64: req/s / minimal app, 4 threads",
                candidate,
                _ratio(rps, value("minimal-4-threads", 64, 1, "requests_per_s")),
                ">=",
                0.75,
                "not the issue's: the minimal app on 4 threads, which stalled uploads stop",
                issue=False,
            ),
            Target(
                "one row, c=64: req/s / seed design",
                candidate,
                _ratio(rps, value("seed", 64, 1, "requests_per_s")),
                ">=",
                4.0,
            ),
            Target(
                "one row, c=64: req/s / MLServer",
                candidate,
                _ratio(rps, value("mlserver", 64, 1, "requests_per_s")),
                ">=",
                6.0,
                "make bench-peers",
            ),
            Target(
                "one row, c=1: p50 / bare hello (granian)",
                candidate,
                _ratio(value(candidate, 1, 1, "p50_ms"), value("hello-granian", 1, 1, "p50_ms")),
                "<=",
                1.5,
            ),
            Target(
                "1000 rows: rows/s / minimal app",
                candidate,
                _ratio(rows, value("minimal", 8, 1000, "rows_per_s")),
                ">=",
                0.75,
            ),
            Target(
                "1000 rows: rows/s / seed design",
                candidate,
                _ratio(rows, value("seed", 8, 1000, "rows_per_s")),
                ">=",
                3.0,
            ),
            Target(
                "1000 rows: p99 / p50",
                candidate,
                _ratio(value(candidate, 8, 1000, "p99_ms"), value(candidate, 8, 1000, "p50_ms")),
                "<=",
                3.0,
            ),
        ]
    row = by_name.get("pipeserve")
    held = row.get("hostile") if row else None
    for name in ("healthz", "predict"):
        probe = held.get(name) if held else None
        targets.append(
            Target(
                f"200 idle + 32 stalled uploads held: {name} max ms",
                "pipeserve",
                None if probe is None or probe["failures"] else probe["max_ms"],
                "<=",
                100.0,
                "slowest of 20 fresh-connection requests",
            )
        )
    rss = row.get("worker_rss_mb") if row else None
    targets.append(
        Target(
            "RSS per worker, MiB",
            "pipeserve",
            max(rss) if rss else None,
            "<=",
            120.0,
            "largest worker after the load (compiled path)",
        )
    )
    return targets


def targets_markdown(targets: list[dict[str, Any]]) -> str:
    """The targets of a saved run as Markdown."""
    lines = ["| target | row | value | limit | met |", "|---|---|--:|--:|---|"]
    for t in targets:
        shown = "not measured" if t["value"] is None else f"{t['value']:.2f}"
        verdict = {True: "yes", False: "**no**", None: "n/a"}[t["met"]]
        if not t.get("issue", True):  # context beside the targets, counted in none
            verdict = f"context, {verdict.strip('*')}"
        lines.append(
            f"| {t['target']} | {t['candidate']} | {shown} | {t['op']} {t['limit']:g} | {verdict} |"
        )
    return "\n".join(lines)


def format_targets(targets: list[Target]) -> str:
    lines = []
    for target in targets:
        if target.value is None:
            verdict, value = "n/a", "not measured"
        else:
            verdict, value = ("met" if target.met else "MISSED"), f"{target.value:.2f}"
            if not target.issue:
                verdict = f"context, {verdict.lower()}"
        note = f"  ({target.note})" if target.note else ""
        lines.append(
            f"  {target.candidate:<13} {target.name:<52} {value:>12} {target.op} "
            f"{target.limit:<5g} {verdict}{note}"
        )
    return "\n".join(lines)


def machine_info() -> dict[str, Any]:
    """CPU model, cores, memory, kernel, OS and Python of this machine."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    os_name = "unknown"
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": memory_gib,
        "kernel": platform.release(),
        "os": os_name,
        "python": platform.python_version(),
    }


def machine_line(machine: dict[str, Any]) -> str:
    return (
        f"{machine['cpu']}, {machine['cores']} cores, {machine['memory_gib']} GiB, "
        f"Linux {machine['kernel']} ({machine['os']}), Python {machine['python']}"
    )


def library_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_state(root: Path) -> dict[str, Any]:
    """The commit the run measured, and the tracked files that differed from it."""

    def git(*args: str) -> str:
        completed = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, check=False
        )
        # Not strip(): a porcelain line starts with a meaningful space (" M path").
        return completed.stdout.rstrip("\n") if completed.returncode == 0 else ""

    return {
        "commit": git("rev-parse", "HEAD") or "unknown",
        "short": git("rev-parse", "--short", "HEAD") or "unknown",
        "branch": git("rev-parse", "--abbrev-ref", "HEAD"),
        "modified_files": modified_files(git("status", "--porcelain", "--untracked-files=no")),
    }


def modified_files(porcelain: str) -> list[str]:
    """Paths in ``git status --porcelain`` output (two status letters, a space, the path)."""
    return [line[3:] for line in porcelain.splitlines() if line.strip()]


def results_path(directory: Path, date: str, commit: str) -> Path:
    return directory / f"{date}-{commit}.json"


def write_results(results: dict[str, Any], directory: Path, *, date: str, commit: str) -> Path:
    """Write ``results`` as indented JSON to ``<directory>/<date>-<commit>.json``; return the
    path. A second run on the same day and commit replaces the file."""
    directory.mkdir(parents=True, exist_ok=True)
    path = results_path(directory, date, commit)
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
