"""The benchmark harness's pure parts: reading wrk's result, the report and the results file.

No load run here (that is `make bench`); these keep the harness from rotting between runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks.bench import FEW_THREADS, MINIMAL_FEW_THREADS, encode_bodies, server_specs
from benchmarks.report import (
    compute_targets,
    modified_files,
    monitoring_cost,
    summary_markdown,
    summary_table,
    targets_markdown,
    write_results,
)
from benchmarks.servers import command
from benchmarks.wrk import MARKER, WrkError, parse_wrk_output, write_post_script
from pipeserve.settings import Settings

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
        "pipeserve",
        [(1, 1, 2500, 0.45, 0.9), (64, 1, 3000, 20.0, 40.0), (8, 1000, 400, 20, 50)],
        worker_rss_mb=[110.0, 130.0],
        hostile={
            "idle": 200,
            "stalled": 32,
            "healthz": {"p50_ms": 2.0, "max_ms": 5.0, "failures": 0},
            "predict": {"p50_ms": 3.0, "max_ms": 150.0, "failures": 0},
        },
    ),
    _server("minimal", [(1, 1, 3000, 0.4, 0.8), (64, 1, 3500, 18, 30), (8, 1000, 500, 16, 30)]),
    _server("seed", [(1, 1, 400, 2.5, 4), (64, 1, 700, 90, 200), (8, 1000, 130, 60, 90)]),
    _server("hello-granian", [(1, 1, 3000, 0.3, 0.5), (64, 1, 5500, 10, 20)]),
    {
        "name": "mlserver",
        "label": "mlserver",
        "available": False,
        "reason": "mlserver not installed",
        "cells": [],
    },
]


def test_targets_are_the_issues_ratios() -> None:
    targets = {t.name: t for t in compute_targets(SERVERS) if t.candidate == "pipeserve"}

    assert targets["one row, c=64: req/s / minimal app"].value == pytest.approx(3000 / 3500)
    assert targets["one row, c=64: req/s / minimal app"].met is True
    seed = targets["one row, c=64: req/s / seed design"]
    assert (seed.value, seed.met) == (pytest.approx(3000 / 700), True)
    assert targets["one row, c=1: p50 / bare hello (granian)"].value == pytest.approx(1.5)
    assert targets["1000 rows: rows/s / minimal app"].value == pytest.approx(0.8)
    assert targets["1000 rows: rows/s / seed design"].met is True
    assert targets["1000 rows: p99 / p50"].value == pytest.approx(2.5)
    assert targets["200 idle + 32 stalled uploads held: healthz max ms"].met is True
    predict = targets["200 idle + 32 stalled uploads held: predict max ms"]
    assert (predict.value, predict.met) == (150.0, False)
    rss = targets["RSS per worker, MiB"]
    assert (rss.value, rss.met) == (130.0, False)


def test_monitoring_cost_compares_each_cell_with_monitoring_off() -> None:
    off = _server(
        "no-monitoring",
        [(1, 1, 2600, 0.40, 0.9), (64, 1, 3300, 19.0, 40.0), (8, 1000, 500, 16, 40)],
    )

    lines = monitoring_cost([*SERVERS, off], "no-monitoring").splitlines()

    assert len(lines) == 3
    assert "+50 us" in lines[0]  # 0.45 ms against 0.40 ms at c=1
    assert "+20.0% fewer" in lines[2]  # 400k rows/s against 500k
    assert monitoring_cost(SERVERS, "no-monitoring") == ""


def test_targets_of_a_missing_row_are_not_measured() -> None:
    targets = compute_targets(SERVERS)

    mlserver = [t for t in targets if "MLServer" in t.name]
    v2 = [t for t in targets if t.candidate == "pipeserve-v2"]
    assert mlserver
    assert all(t.value is None and t.met is None for t in mlserver)
    assert v2
    assert all(t.value is None for t in v2)
    assert "not measured" in targets_markdown([t.as_dict() for t in targets])


def test_a_context_ratio_is_marked_as_context_not_as_a_miss() -> None:
    few_threads = _server(MINIMAL_FEW_THREADS, [(64, 1, 5000, 12, 20)])
    targets = [
        t.as_dict() for t in compute_targets([*SERVERS, few_threads]) if t.candidate == "pipeserve"
    ]

    lines = targets_markdown(targets).splitlines()

    context = [line for line in lines if "minimal app, 4 threads" in line]
    assert context == [
        "| one row, c=64: req/s / minimal app, 4 threads | pipeserve | 0.60 | >= 0.75 "
        "| context, no |"
    ]
    assert any(line.endswith("| **no** |") for line in lines)  # a real miss stays bold


def test_tables_have_a_line_per_stack_and_say_what_is_unavailable() -> None:
    table = summary_table(SERVERS).splitlines()
    markdown = summary_markdown(SERVERS).splitlines()

    assert len(table) == 2 + len(SERVERS)
    assert "unavailable: mlserver not installed" in table[-1]
    assert markdown[0].startswith("| stack | c=1 p50 ms | c=64 req/s |")
    assert "| pipeserve | 0.45 | 3,000 | 40.0 | 400,000 | 20.0 / 50.0 | 0 |" in markdown
    assert "| hello-granian | 0.30 | 5,500 | 20.0 | - | - | 0 |" in markdown


def test_every_protocol_gets_the_same_rows() -> None:
    rows = {2: [{"a": 1.0, "b": 2.0}, {"a": 3.0, "b": 4.0}]}

    bodies = {key: json.loads(body) for key, body in encode_bodies(rows, ["a", "b"]).items()}

    assert bodies["friendly", 2] == {"instances": rows[2]}
    assert bodies["v2", 2]["inputs"][1] == {
        "name": "b",
        "shape": [2],
        "datatype": "FP64",
        "data": [2.0, 4.0],
    }
    assert bodies["v2-matrix", 2]["inputs"][0]["data"] == [[1.0, 2.0], [3.0, 4.0]]


def test_mlserver_is_a_peer_row_only() -> None:
    plain = {s.name for s in server_specs("iris", peers=False)}
    peers = {s.name: s for s in server_specs("iris", peers=True)}

    assert "mlserver" not in plain
    assert {"pipeserve", "pipeserve-v2", "seed", "fastapi", "minimal", "hello-granian"} <= plain
    assert peers["mlserver"].predict_path == "/v2/models/iris/infer"


def test_plain_apps_run_on_pipeserves_server_settings(tmp_path: Path) -> None:
    """'The minimal app on pipeserve's server' means granian with pipeserve's thread count:
    the targets compare against it; the 4-thread row is the contrast, in no target."""
    io_threads = Settings.model_fields["io_threads"].default
    specs = {s.name: s for s in server_specs("iris", peers=False)}

    def blocking_threads(name: str) -> str:
        argv, _ = command(specs[name], 8080, tmp_path, tmp_path / "bundle")
        return next(a for a in argv if a.startswith("--blocking-threads="))

    assert blocking_threads("minimal") == f"--blocking-threads={io_threads}"
    assert blocking_threads("hello-granian") == f"--blocking-threads={io_threads}"
    assert blocking_threads(MINIMAL_FEW_THREADS) == f"--blocking-threads={FEW_THREADS}"


def test_results_file_is_named_by_date_and_commit(tmp_path: Path) -> None:
    results = {"date": "2026-01-02T03:04:05+00:00", "servers": SERVERS, "note": "µs"}

    path = write_results(results, tmp_path / "results", date="2026-01-02", commit="abc1234")

    assert path == tmp_path / "results" / "2026-01-02-abc1234.json"
    assert json.loads(path.read_text(encoding="utf-8")) == results


def test_modified_files_keeps_the_whole_path() -> None:
    assert modified_files(" M dvc.lock\nM  README.md\n") == ["dvc.lock", "README.md"]
