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
    "gunicorn",
    "granian",
)


def cell(server: dict[str, Any], concurrency: int, batch: int) -> dict[str, Any] | None:
    """The measured cell of ``server`` at ``concurrency`` and ``batch``, if there is one."""
    for item in server.get("cells", []):
        if item["concurrency"] == concurrency and item["batch"] == batch and "error" not in item:
            return dict(item)
    return None


def format_table(servers: list[dict[str, Any]]) -> str:
    """A fixed-width table: one line per server, concurrency and batch size."""
    header = (
        f"{'server / path':<36} {'conc':>4} {'batch':>5} {'req/s':>9} {'p50 ms':>8} "
        f"{'p99 ms':>8} {'errors':>7} {'rows/s':>10}"
    )
    lines = [header, "-" * len(header)]
    for server in servers:
        if not server["available"]:
            lines.append(f"{server['label']:<36} unavailable: {server['reason']}")
            continue
        for item in server["cells"]:
            prefix = f"{server['label']:<36} {item['concurrency']:>4} {item['batch']:>5}"
            if "error" in item:
                lines.append(f"{prefix} failed: {item['error']}")
                continue
            lines.append(
                f"{prefix} {item['requests_per_s']:>9,.0f} {item['p50_ms']:>8.2f} "
                f"{item['p99_ms']:>8.2f} {item['errors']:>7} {item['rows_per_s']:>10,.0f}"
            )
    return "\n".join(lines)


def markdown_table(servers: list[dict[str, Any]]) -> str:
    """The table as Markdown (for the project README)."""
    lines = [
        "| server / path | conc | batch | req/s | p50 ms | p99 ms | errors | rows/s |",
        "|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for server in servers:
        if not server["available"]:
            lines.append(f"| {server['label']} | | | unavailable: {server['reason']} | | | | |")
            continue
        for item in server["cells"]:
            if "error" in item:
                continue
            lines.append(
                f"| {server['label']} | {item['concurrency']} | {item['batch']} | "
                f"{item['requests_per_s']:,.0f} | {item['p50_ms']:.2f} | {item['p99_ms']:.2f} | "
                f"{item['errors']} | {item['rows_per_s']:,.0f} |"
            )
    return "\n".join(lines)


@dataclass(frozen=True)
class Target:
    """One of the issue's targets, as measured for one pipeserve configuration."""

    name: str
    candidate: str
    value: float | None
    op: str  # ">=" or "<="
    limit: float
    note: str = ""

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
        }


def _ratio(top: float | None, bottom: float | None) -> float | None:
    return top / bottom if top is not None and bottom else None


def _best_rows_per_s(server: dict[str, Any] | None, batch: int) -> float | None:
    if server is None or not server["available"]:
        return None
    values = [c["rows_per_s"] for c in server["cells"] if c["batch"] == batch and "error" not in c]
    return max(values) if values else None


def compute_targets(
    servers: list[dict[str, Any]], candidate: str, baseline: str, hello: str
) -> list[Target]:
    """The issue's targets for the pipeserve row ``candidate``, against the ``baseline`` and
    ``hello`` rows (names). A value is None where a row or cell was not measured."""
    by_name = {s["name"]: s for s in servers}
    row = by_name.get(candidate)
    if row is None or not row["available"]:
        row = None

    def get(name: str, concurrency: int, batch: int) -> dict[str, Any] | None:
        server = by_name.get(name)
        return cell(server, concurrency, batch) if server and server["available"] else None

    one_64 = get(candidate, 64, 1)
    base_64 = get(baseline, 64, 1)
    hello_64 = get(hello, 64, 1)
    one_1 = get(candidate, 1, 1)
    rps = one_64["requests_per_s"] if one_64 else None
    rss = row.get("worker_rss_mb") if row else None
    return [
        Target(
            "one row, c64: req/s ÷ plain Flask+sklearn baseline",
            candidate,
            _ratio(rps, base_64["requests_per_s"] if base_64 else None),
            ">=",
            3.5,
        ),
        Target(
            "one row, c64: req/s ÷ bare hello (same server)",
            candidate,
            _ratio(rps, hello_64["requests_per_s"] if hello_64 else None),
            ">=",
            0.4,
        ),
        Target(
            "one row, c64: p99 ÷ p50",
            candidate,
            _ratio(one_64["p99_ms"], one_64["p50_ms"]) if one_64 else None,
            "<=",
            2.5,
        ),
        Target("one row, c1: p50 ms", candidate, one_1["p50_ms"] if one_1 else None, "<=", 0.5),
        Target(
            "1000 rows: rows/s ÷ baseline",
            candidate,
            _ratio(_best_rows_per_s(row, 1000), _best_rows_per_s(by_name.get(baseline), 1000)),
            ">=",
            4.0,
            "best concurrency of each",
        ),
        Target(
            "start to ready, s",
            candidate,
            row.get("ready_s") if row else None,
            "<=",
            2.0,
            "spawn to first 200 from /readyz; workers start in parallel",
        ),
        Target(
            "RSS per worker, MiB",
            candidate,
            max(rss) if rss else None,
            "<=",
            150.0,
            "largest worker, after the load",
        ),
    ]


def format_targets(targets: list[Target]) -> str:
    lines = []
    for target in targets:
        if target.value is None:
            verdict, value = "n/a", "not measured"
        else:
            verdict, value = ("met" if target.met else "MISSED"), f"{target.value:.2f}"
        note = f"  ({target.note})" if target.note else ""
        lines.append(
            f"  {target.name:<52} {value:>12} {target.op} {target.limit:<5g} {verdict}{note}"
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
