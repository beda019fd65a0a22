"""The benchmark harness's pure parts: reading wrk's result, the report and the results file.

No load run here (that is `make bench`); these keep the harness from rotting between runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks.bench import server_specs
from benchmarks.report import (
    compute_targets,
    format_table,
    markdown_table,
    modified_files,
    write_results,
)
from benchmarks.wrk import MARKER, WrkError, parse_wrk_output, write_post_script

pytestmark = pytest.mark.integration

# Captured from wrk 4.1.0 (Debian) with the benchmark's Lua script, against the baseline app
# sent a body it cannot handle: every response a 500.
WRK_SAMPLE = """\
Running 1s test @ http://127.0.0.1:50499/predict
  2 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    11.81ms   27.83ms 148.44ms   91.00%
    Req/Sec   614.89    183.93     0.96k    72.22%
  Latency Distribution
     50%    2.77ms
     75%    5.09ms
     90%   27.09ms
     99%  137.70ms
  1160 requests in 1.01s, 502.18KB read
  Non-2xx or 3xx responses: 1160
Requests/sec:   1153.46
Transfer/sec:    499.35KB
BENCH_RESULT {"requests": 1160, "duration_us": 1005667, "bytes": 514236, "connect": 0, \
"read": 2, "write": 0, "status": 1160, "timeout": 3, "p50_us": 2769, "p90_us": 27095, \
"p99_us": 137697, "max_us": 148440}
"""


def test_parse_wrk_output_reads_the_result_line() -> None:
    result = parse_wrk_output(WRK_SAMPLE)

    assert result.requests == 1160
    assert result.duration_s == pytest.approx(1.005667)
    assert result.requests_per_s == pytest.approx(1153.46, abs=0.01)
    assert (result.p50_ms, result.p90_ms, result.p99_ms) == (2.769, 27.095, 137.697)
    assert result.non_2xx == 1160
    assert result.socket_errors == 5  # read + timeout
    assert result.errors == 1165
    assert result.as_dict()["requests_per_s"] == result.requests_per_s


def test_parse_wrk_output_without_result_says_what_wrk_printed() -> None:
    with pytest.raises(WrkError, match="unable to connect"):
        parse_wrk_output("unable to connect to 127.0.0.1:1 Connection refused\n")


def test_post_script_embeds_the_body_and_reports(tmp_path: Path) -> None:
    body = b'{"instances": [{"sepal_length": 5.1}]}'

    text = write_post_script(body, tmp_path / "post.lua").read_text()

    assert f"wrk.body = [==[{body.decode()}]==]" in text
    assert 'wrk.method = "POST"' in text
    assert MARKER in text
    with pytest.raises(ValueError, match="long string"):
        write_post_script(b'{"a": "]==]"}', tmp_path / "bad.lua")


def _server(
    name: str, cells: list[tuple[int, int, float, float, float]], **extra: Any
) -> dict[str, Any]:
    return {
        "name": name,
        "label": name,
        "available": True,
        "reason": None,
        "cells": [
            {
                "concurrency": c,
                "batch": b,
                "requests_per_s": rps,
                "p50_ms": p50,
                "p99_ms": p99,
                "errors": 0,
                "rows_per_s": rps * b,
            }
            for c, b, rps, p50, p99 in cells
        ],
        **extra,
    }


SERVERS = [
    _server(
        "fast",
        [(1, 1, 2500, 0.4, 0.9), (64, 1, 7000, 8.0, 16.0), (64, 1000, 40, 1500, 2000)],
        ready_s=1.5,
        worker_rss_mb=[120.0, 160.0],
    ),
    _server("baseline", [(64, 1, 1750, 30, 90), (8, 1000, 10, 700, 900), (64, 1000, 8, 1, 2)]),
    _server("hello", [(64, 1, 14000, 4, 9)]),
    {
        "name": "missing",
        "label": "missing",
        "available": False,
        "reason": "no such setting",
        "cells": [],
    },
]


def test_targets_are_the_issues_ratios() -> None:
    targets = {t.name: t for t in compute_targets(SERVERS, "fast", "baseline", "hello")}

    ratio = targets["one row, c64: req/s ÷ plain Flask+sklearn baseline"]
    assert ratio.value == pytest.approx(4.0)
    assert ratio.met is True
    assert targets["one row, c64: req/s ÷ bare hello (same server)"].value == pytest.approx(0.5)
    assert targets["one row, c64: p99 ÷ p50"].value == pytest.approx(2.0)
    assert targets["one row, c1: p50 ms"].met is True
    # best concurrency of each: 40,000 rows/s against 10,000
    assert targets["1000 rows: rows/s ÷ baseline"].value == pytest.approx(4.0)
    assert targets["start to ready, s"].met is True
    rss = targets["RSS per worker, MiB"]
    assert (rss.value, rss.met) == (160.0, False)


def test_targets_of_an_unavailable_row_are_not_measured() -> None:
    targets = compute_targets(SERVERS, "missing", "baseline", "hello")

    assert all(t.value is None and t.met is None for t in targets)


def test_table_shows_unavailable_rows_as_such() -> None:
    table = format_table(SERVERS)

    assert "missing" in table
    assert "unavailable: no such setting" in table
    assert "7,000" in table


def test_markdown_table_has_a_line_per_cell() -> None:
    lines = markdown_table(SERVERS).splitlines()

    assert lines[0].startswith("| server / path |")
    assert "| fast | 64 | 1 | 7,000 | 8.00 | 16.00 | 0 | 7,000 |" in lines
    assert any("unavailable: no such setting" in line for line in lines)
    assert len(lines) == 2 + 3 + 3 + 1 + 1


def test_rows_needing_a_missing_setting_are_unavailable_not_substituted() -> None:
    without = {s.name: s for s in server_specs("iris", set(), granian=False)}
    with_all = {
        s.name: s for s in server_specs("iris", {"inference_path", "batching"}, granian=True)
    }

    assert without["pipeserve-onnx"].unavailable
    assert without["pipeserve-sklearn-batching"].unavailable
    assert without["hello-granian"].unavailable
    assert without["pipeserve-sklearn"].unavailable is None
    assert all(s.unavailable is None for s in with_all.values())
    assert with_all["pipeserve-onnx"].env == {"PIPESERVE_INFERENCE_PATH": "onnx"}
    assert with_all["pipeserve-onnx-batching"].env["PIPESERVE_BATCHING"] == "true"


def test_results_file_is_named_by_date_and_commit(tmp_path: Path) -> None:
    results = {"date": "2026-01-02T03:04:05+00:00", "servers": SERVERS, "note": "µs"}

    path = write_results(results, tmp_path / "results", date="2026-01-02", commit="abc1234")

    assert path == tmp_path / "results" / "2026-01-02-abc1234.json"
    assert json.loads(path.read_text(encoding="utf-8")) == results


def test_modified_files_keeps_the_whole_path() -> None:
    assert modified_files(" M dvc.lock\nM  README.md\n") == ["dvc.lock", "README.md"]
