"""The benchmark: pipeserve as `make serve` ships it (friendly API and Open Inference Protocol
V2) against the seed design, FastAPI, a hand-written minimal ONNX app and a bare "hello" on each
server, all on 127.0.0.1, 2 workers each, loaded by wrk in one interleaved run (every server
runs for the whole run; each of ``--rounds`` rounds runs every cell on every server in turn, and
a cell's rounds are merged); ``--peers`` adds
MLServer. Then the hostile-client scenario against pipeserve and the minimal app (on
pipeserve's server settings, and on 4 threads): /healthz and predict latency while 200 idle and 32
stalled-upload connections are held open.

Run ``make bench`` / ``make bench-peers`` (or ``python -m benchmarks.bench --help`` from the
project root). It prints the table, the ratios against the serving-core issue's targets, start to
ready and worker memory, and writes everything to ``benchmarks/results/<date>-<commit>.json``.
A row that cannot run here (its server is not installed) is reported as unavailable.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import os
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
import pandas as pd

from benchmarks import report
from benchmarks.hostile import IDLE, STALLED, hold_hostile, probe_latency
from benchmarks.servers import WORKERS, RunningServer, ServerError, ServerSpec, running
from benchmarks.wrk import (
    WrkError,
    WrkResult,
    ensure_wrk,
    run_wrk,
    write_post_script,
    wrk_version,
)
from pipeserve.bundle.io import read_manifest

ROOT = Path(__file__).resolve().parent.parent
BATCHES = (1, 1000)
WARMUP_CONCURRENCY = 8


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# The same server with PIPESERVE_MONITOR_WINDOW=0: the difference is what input monitoring
# (range checks, drift windows, their metrics) costs per request.
MONITOR_OFF = "pipeserve-no-monitoring"
MINIMAL_FEW_THREADS = "minimal-4-threads"
# The minimal app once more on 4 blocking threads per worker, as the serving-core issue first
# measured it: faster at 64 clients (fewer threads take turns at the GIL), but a handful of
# stalled uploads hold every thread. Shown beside the targets, in none of them.
FEW_THREADS = 4
# Rows the hostile clients are held against; the minimal app's are the contrast. A server that
# answers nothing while they are held fails every probe, so those rows probe fewer times.
HOSTILE_PROBES = {"pipeserve": (20, 5.0), "minimal": (5, 2.0), MINIMAL_FEW_THREADS: (5, 2.0)}

# (batch, concurrency) of each cell: one row alone and under load, 1000-row requests.
PREDICT_CELLS = ((1, 1), (1, 64), (1000, 8))
HELLO_CELLS = ((1, 1), (1, 64))


def installed(script: str, bin_dir: Path | None = None) -> bool:
    return ((bin_dir or Path(sys.executable).parent) / script).exists()


def server_specs(model: str, *, peers: bool) -> list[ServerSpec]:
    """Every row of the table, in order; a row whose server is missing says why."""
    from benchmarks.servers import MLSERVER_BIN  # noqa: PLC0415

    def missing(script: str, extra: str, bin_dir: Path | None = None) -> str | None:
        return None if installed(script, bin_dir) else f"{script} not installed ({extra})"

    friendly = f"/api/v1/models/{model}/predict"
    bench_extra = "pip install -e '.[bench]'"
    specs = [
        ServerSpec("pipeserve", "pipeserve friendly API", "pipeserve", "pipeserve", friendly, ()),
        ServerSpec(
            "pipeserve-v2",
            "pipeserve Open Inference Protocol V2",
            "pipeserve",
            "pipeserve",
            f"/v2/models/{model}/infer",
            (),
        ),
        ServerSpec(
            MONITOR_OFF,
            "pipeserve friendly API, input monitoring off",
            "pipeserve",
            "pipeserve",
            friendly,
            (),
            env={"PIPESERVE_MONITOR_WINDOW": "0"},
        ),
        ServerSpec(
            "seed",
            "seed: Flask + Gunicorn sync + sklearn SVC",
            "seed",
            "gunicorn-sync",
            "/predict",
            (),
            unavailable=missing("gunicorn", bench_extra),
        ),
        ServerSpec(
            "fastapi",
            "FastAPI + uvicorn + sklearn SVC",
            "fastapi",
            "uvicorn",
            "/predict",
            (),
            unavailable=missing("uvicorn", bench_extra),
        ),
        ServerSpec(
            "minimal", "minimal Flask + onnxruntime + orjson", "minimal", "granian", "/predict", ()
        ),
        ServerSpec(
            MINIMAL_FEW_THREADS,
            f"minimal app, {FEW_THREADS} threads",
            "minimal",
            "granian",
            "/predict",
            (),
            threads=FEW_THREADS,
        ),
        ServerSpec("hello-granian", "bare Flask hello (granian)", "hello", "granian", "/", ()),
        ServerSpec(
            "hello-gunicorn",
            "bare Flask hello (Gunicorn sync)",
            "hello",
            "gunicorn-sync",
            "/",
            (),
            unavailable=missing("gunicorn", bench_extra),
        ),
    ]
    if peers:
        specs.append(
            ServerSpec(
                "mlserver",
                "MLServer 1.7 + mlserver-sklearn, defaults",
                "mlserver",
                "mlserver",
                f"/v2/models/{model}/infer",
                (),
                unavailable=missing("mlserver", "make bench-peers installs it", MLSERVER_BIN),
            )
        )
    return specs


def protocol(spec: ServerSpec) -> str:
    """Which body a row is sent: the friendly API's, V2 with a tensor per feature, V2 with one
    matrix (MLServer's scikit-learn runtime), or none that matters (hello)."""
    if spec.app == "hello":
        return "hello"
    if spec.app == "mlserver":
        return "v2-matrix"
    return "v2" if spec.name == "pipeserve-v2" else "friendly"


def cells_of(spec: ServerSpec) -> tuple[tuple[int, int], ...]:
    return HELLO_CELLS if spec.app == "hello" else PREDICT_CELLS


def encode_bodies(
    rows: dict[int, list[dict[str, Any]]], features: list[str]
) -> dict[tuple[str, int], bytes]:
    """The request body of each protocol and batch size, from the same rows."""
    bodies: dict[tuple[str, int], bytes] = {}
    for size, batch in rows.items():
        bodies["friendly", size] = orjson.dumps({"instances": batch})
        bodies["hello", size] = bodies["friendly", size]
        tensors = [
            {"name": f, "shape": [size], "datatype": "FP64", "data": [r[f] for r in batch]}
            for f in features
        ]
        bodies["v2", size] = orjson.dumps({"inputs": tensors})
        matrix = [[r[f] for f in features] for r in batch]
        bodies["v2-matrix", size] = orjson.dumps(
            {
                "inputs": [
                    {
                        "name": "input-0",
                        "shape": [size, len(features)],
                        "datatype": "FP64",
                        "data": matrix,
                    }
                ]
            }
        )
    return bodies


def prepare_mlserver(root: Path, model: str, train_csv: Path) -> None:
    """MLServer's model repository: the seed's model, saved with joblib as its runtime expects."""
    import joblib  # noqa: PLC0415

    from benchmarks.seed_app import build_model  # noqa: PLC0415

    directory = root / "build" / "mlserver" / model
    directory.mkdir(parents=True, exist_ok=True)
    joblib.dump(build_model(str(train_csv)), directory / "model.joblib")
    (directory / "model-settings.json").write_text(
        orjson.dumps(
            {
                "name": model,
                "implementation": "mlserver_sklearn.SKLearnModel",
                "parameters": {"uri": "./model.joblib"},
            }
        ).decode()
    )
    (directory.parent / "settings.json").write_text('{"debug": false}')


def request_rows(
    csv_path: Path, features: list[str], sizes: tuple[int, ...]
) -> dict[int, list[dict[str, Any]]]:
    """Real rows (the held-out data), repeated as needed, for each batch size."""
    records = pd.read_csv(csv_path)[features].to_dict(orient="records")
    if not records:
        raise SystemExit(f"{csv_path} has no rows")
    return {size: list(itertools.islice(itertools.cycle(records), size)) for size in sizes}


def check_answers(server: RunningServer, bodies: dict[tuple[str, int], bytes]) -> None:
    """One request per batch size before the load: a 200, and one answer per row.

    Raises :class:`ServerError` otherwise, so a broken server is not measured as a fast one.
    """
    kind = protocol(server.spec)
    for size in sorted({batch for batch, _ in cells_of(server.spec)}):
        request = urllib.request.Request(  # noqa: S310 - http://127.0.0.1 only
            server.url(server.spec.predict_path),
            data=bodies[kind, size],
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310  # nosec B310
                payload = response.read()
        except urllib.error.HTTPError as error:
            detail = error.read()[:300].decode(errors="replace")
            raise ServerError(
                f"{server.spec.label}: HTTP {error.code} for {size} rows: {detail}"
            ) from error
        except (urllib.error.URLError, OSError) as error:
            raise ServerError(f"{server.spec.label}: no answer for {size} rows: {error}") from error
        if kind == "hello":
            continue
        answer = orjson.loads(payload)
        count = (
            len(answer["predictions"]) if kind == "friendly" else answer["outputs"][0]["shape"][0]
        )
        if count != size:
            raise ServerError(f"{server.spec.label}: {count} answers for {size} rows")


def hostile(server: RunningServer, body: bytes) -> dict[str, Any]:
    """/healthz and predict latency while 200 idle and 32 stalled-upload connections are held."""
    address = urlsplit(server.base)
    host, port = str(address.hostname), int(address.port or 80)
    count, timeout = HOSTILE_PROBES[server.spec.name]
    with hold_hostile(host, port, path=server.spec.predict_path):
        probes = probe_latency(
            host,
            port,
            predict_path=server.spec.predict_path,
            predict_body=body,
            count=count,
            timeout=timeout,
        )
    return {
        "idle": IDLE,
        "stalled": STALLED,
        "probes": count,
        "timeout_s": timeout,
        **{
            probe.name: {
                "p50_ms": probe.p50_ms,
                "max_ms": probe.max_ms,
                "failures": probe.failures,
            }
            for probe in probes
        },
    }


@dataclass
class Row:
    """One row of the table while the run goes on: its server (once started) and its cells'
    runs, one per round."""

    spec: ServerSpec
    result: dict[str, Any]
    server: RunningServer | None = None
    runs: dict[tuple[int, int], list[WrkResult]] = field(default_factory=dict)
    failures: dict[tuple[int, int], str] = field(default_factory=dict)


def start_row(
    spec: ServerSpec,
    stack: ExitStack,
    *,
    wrk: str,
    scripts: dict[tuple[str, int], Path],
    bodies: dict[tuple[str, int], bytes],
    bundle: Path,
    log_dir: Path,
    warmup_s: float,
) -> Row:
    """Start ``spec`` (kept running by ``stack`` until the run ends), check its answers and
    warm it up."""
    row = Row(
        spec,
        {
            "name": spec.name,
            "label": spec.label,
            "app": spec.app,
            "server": spec.server,
            "available": spec.unavailable is None,
            "reason": spec.unavailable,
            "cells": [],
        },
    )
    if spec.unavailable:
        log(f"{spec.label}: unavailable: {spec.unavailable}")
        return row
    try:
        server = stack.enter_context(running(spec, root=ROOT, bundle=bundle, log_dir=log_dir))
        row.result["ready_s"] = server.ready_s
        log(f"{spec.label}: ready in {server.ready_s:.2f} s")
        check_answers(server, bodies)
        url = server.url(spec.predict_path)
        for size in sorted({batch for batch, _ in cells_of(spec)}):
            run_wrk(
                wrk,
                url,
                scripts[protocol(spec), size],
                connections=WARMUP_CONCURRENCY,
                duration_s=warmup_s,
            )
    except (ServerError, WrkError) as error:
        row.result["available"] = False
        row.result["reason"] = f"failed: {str(error).splitlines()[0]}"
        row.result["error_detail"] = str(error)
        log(f"{spec.label}: {error}")
        return row
    row.server = server
    return row


def run_cell(
    row: Row,
    cell: tuple[int, int],
    *,
    wrk: str,
    scripts: dict[tuple[str, int], Path],
    duration_s: float,
) -> None:
    """One round of one cell of ``row``."""
    assert row.server is not None  # noqa: S101  # nosec B101 - only started rows run cells
    size, connections = cell
    try:
        measured = run_wrk(
            wrk,
            row.server.url(row.spec.predict_path),
            scripts[protocol(row.spec), size],
            connections=connections,
            duration_s=duration_s,
        )
    except WrkError as error:
        row.failures[cell] = str(error)
        log(f"  {row.spec.label}: c{connections} batch {size}: failed: {error}")
        return
    row.runs.setdefault(cell, []).append(measured)
    log(
        f"  {row.spec.label[:44]:<44} c{connections:<3} batch {size:<5}"
        f" {measured.requests_per_s:>9,.0f} req/s  p50 {measured.p50_ms:.2f} ms"
        f"  p99 {measured.p99_ms:.2f} ms  errors {measured.errors}"
    )


def merged(runs: list[WrkResult]) -> WrkResult:
    """A cell's rounds as one result: requests and errors summed over the time they took,
    each percentile the median of the rounds' (latencies are not kept, only their
    percentiles), the worst maximum."""
    return WrkResult(
        requests=sum(run.requests for run in runs),
        duration_s=sum(run.duration_s for run in runs),
        p50_ms=statistics.median(run.p50_ms for run in runs),
        p90_ms=statistics.median(run.p90_ms for run in runs),
        p99_ms=statistics.median(run.p99_ms for run in runs),
        max_ms=max(run.max_ms for run in runs),
        non_2xx=sum(run.non_2xx for run in runs),
        socket_errors=sum(run.socket_errors for run in runs),
    )


def finish_row(row: Row, bodies: dict[tuple[str, int], bytes]) -> dict[str, Any]:
    """``row``'s cells, its workers' memory after the load and (pipeserve) the hostile-client
    scenario."""
    if row.server is None:
        return row.result
    for cell in cells_of(row.spec):
        size, connections = cell
        item: dict[str, Any] = {"concurrency": connections, "batch": size}
        runs = row.runs.get(cell, [])
        if cell in row.failures or not runs:
            item["error"] = row.failures.get(cell, "no run")
        else:
            total = merged(runs)
            item.update(total.as_dict())
            item["rounds_requests_per_s"] = [round(run.requests_per_s, 1) for run in runs]
            # Only answered requests delivered rows.
            ok = max(0, total.requests - total.non_2xx)
            item["rows_per_s"] = ok * size / total.duration_s
        row.result["cells"].append(item)
    row.result["worker_rss_mb"] = [round(v, 1) for v in row.server.worker_rss_mb()]
    row.result["workers"] = len(row.result["worker_rss_mb"])
    if row.spec.name in HOSTILE_PROBES:
        row.result["hostile"] = hostile(row.server, bodies[protocol(row.spec), 1])
        log(f"  hostile clients: {row.result['hostile']}")
    return row.result


def interleaved_run(
    specs: list[ServerSpec],
    *,
    wrk: str,
    scripts: dict[tuple[str, int], Path],
    bodies: dict[tuple[str, int], bytes],
    bundle: Path,
    log_dir: Path,
    duration_s: float,
    warmup_s: float,
    rounds: int,
) -> list[dict[str, Any]]:
    """Every row's server running at once (idle but for the one being loaded); each round
    runs every cell on every row, one row after the other, rotating which row goes first, so
    that the machine's drift over the run falls on every row alike."""
    with ExitStack() as stack:
        rows = [
            start_row(
                spec,
                stack,
                wrk=wrk,
                scripts=scripts,
                bodies=bodies,
                bundle=bundle,
                log_dir=log_dir,
                warmup_s=warmup_s,
            )
            for spec in specs
        ]
        started = [row for row in rows if row.server is not None]
        order = sorted({cell for row in started for cell in cells_of(row.spec)})
        for round_index in range(rounds):
            log(f"round {round_index + 1} of {rounds}")
            turn = started[round_index % len(started) :] + started[: round_index % len(started)]
            for cell in order:
                for row in turn:
                    if cell in cells_of(row.spec):
                        run_cell(
                            row, cell, wrk=wrk, scripts=scripts, duration_s=duration_s / rounds
                        )
        return [finish_row(row, bodies) for row in rows]


def print_report(results: dict[str, Any]) -> None:
    servers = results["servers"]
    print(f"\nMachine: {report.machine_line(results['machine'])}")
    print(
        f"Commit {results['git']['short']}; {results['config']['workers']} workers each; wrk "
        f"{results['config']['duration_s']} s per cell after {results['config']['warmup_s']} s "
        f"warm-up; load average (1/5/15 min) {results['config']['load_average_before']} "
        f"before, {results['config']['load_average_after']} after\n"
    )
    print(report.summary_table(servers))
    if any(server["name"] == "fastapi" and server["available"] for server in servers):
        print(
            "\nFastAPI runs as its users run it, `uvicorn --workers 2`: that path leaves Nagle's "
            "algorithm on (Kludex/uvicorn#3149, open), so each keep-alive request after the "
            "first waits about 40 ms for the client's delayed ACK."
        )
    print("\nStart to ready and memory per worker:")
    for server in servers:
        if server["available"]:
            rss = ", ".join(f"{v:.0f}" for v in server.get("worker_rss_mb", []))
            print(f"  {server['label']:<44} ready {server['ready_s']:.2f} s   RSS MiB {rss}")
    for server in servers:
        if "hostile" in server:
            held = server["hostile"]
            print(
                f"\nHostile clients ({held['idle']} idle + {held['stalled']} stalled uploads "
                f"held open), {server['label']}:"
            )
            for name in ("healthz", "predict"):
                probe = held[name]
                print(
                    f"  {name:<8} p50 {probe['p50_ms']:.1f} ms  max {probe['max_ms']:.1f} ms  "
                    f"failures {probe['failures']}"
                )
    cost = report.monitoring_cost(servers, MONITOR_OFF)
    if cost:
        print("\nInput monitoring (friendly API, on as shipped vs PIPESERVE_MONITOR_WINDOW=0):")
        print(cost)
    print("\nTargets (serving-core issue):")
    print(report.format_targets([report.Target(**_target_args(t)) for t in results["targets"]]))


def _target_args(target: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": target["target"],
        "candidate": target["candidate"],
        "value": target["value"],
        "op": target["op"],
        "limit": target["limit"],
        "note": target["note"],
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--bundle", type=Path, default=ROOT / "models" / "iris")
    parser.add_argument(
        "--rows",
        type=Path,
        default=ROOT / "data" / "prepared" / "test.csv",
        help="CSV of request rows",
    )
    parser.add_argument(
        "--duration", type=float, default=10, help="seconds per cell, over all rounds [10]"
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds, each running every cell once [3]"
    )
    parser.add_argument(
        "--warmup", type=float, default=2, help="seconds of warm-up per batch size [2]"
    )
    parser.add_argument("--peers", action="store_true", help="add MLServer (make bench-peers)")
    parser.add_argument("--only", default="", help="row names to run, comma-separated [all]")
    parser.add_argument("--results-dir", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--no-install", action="store_true", help="never apt-get install wrk")
    parser.add_argument(
        "--markdown",
        type=Path,
        metavar="RESULTS_JSON",
        help="print that run's tables as Markdown (for the README) and exit",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.markdown:
        saved = orjson.loads(args.markdown.read_bytes())
        print(report.summary_markdown(saved["servers"]))
        print()
        print(report.targets_markdown(saved["targets"]))
        return 0
    try:
        wrk = ensure_wrk(install=not args.no_install)
    except WrkError as error:
        log(f"error: {error}")
        return 2
    bundle = args.bundle.resolve()
    manifest = read_manifest(bundle)
    rows = request_rows(args.rows, manifest.feature_names, BATCHES)
    bodies = encode_bodies(rows, manifest.feature_names)
    specs = server_specs(manifest.name, peers=args.peers)
    if args.only:
        wanted = set(args.only.split(","))
        specs = [s for s in specs if s.name in wanted]
    if any(s.app == "mlserver" and not s.unavailable for s in specs):
        prepare_mlserver(ROOT, manifest.name, ROOT / "data" / "prepared" / "train.csv")
    runnable = [s for s in specs if not s.unavailable]
    cells = sum(len(cells_of(s)) for s in runnable)
    log(
        f"{len(runnable)} servers, {cells} cells: about "
        f"{(cells * args.duration + cells * args.warmup) / 60 + len(runnable) * 0.3:.0f} min"
    )
    started = time.monotonic()
    # Other work on the machine skews every number: recorded so a reader can judge the run.
    load_before = [round(x, 2) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory(prefix="pipeserve-bench-") as tmp:
        work = Path(tmp)
        scripts = {
            key: write_post_script(body, work / f"post-{key[0]}-{key[1]}.lua")
            for key, body in bodies.items()
        }
        servers = interleaved_run(
            specs,
            wrk=wrk,
            scripts=scripts,
            bodies=bodies,
            bundle=bundle,
            log_dir=work,
            duration_s=args.duration,
            warmup_s=args.warmup,
            rounds=args.rounds,
        )
    now = datetime.datetime.now(datetime.UTC)
    git = report.git_state(ROOT)
    results = {
        "date": now.isoformat(timespec="seconds"),
        "command": "python -m benchmarks.bench " + " ".join(argv or sys.argv[1:]),
        "git": git,
        "machine": report.machine_info(),
        "versions": {**report.library_versions(), "wrk": wrk_version(wrk)},
        "config": {
            "workers": WORKERS,
            "duration_s": args.duration,
            "rounds": args.rounds,
            "warmup_s": args.warmup,
            "cells": {"predict": PREDICT_CELLS, "hello": HELLO_CELLS},
            "bundle": str(bundle.relative_to(ROOT) if bundle.is_relative_to(ROOT) else bundle),
            "model": manifest.name,
            "estimator": manifest.estimator,
            "wall_s": round(time.monotonic() - started, 1),
            "load_average_before": load_before,
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
        },
        "servers": servers,
        "targets": [t.as_dict() for t in report.compute_targets(servers)],
    }
    print_report(results)
    path = report.write_results(
        results, args.results_dir, date=now.date().isoformat(), commit=git["short"]
    )
    print(f"\nresults: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
