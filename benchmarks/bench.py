"""The benchmark: pipeserve (each inference path) against a plain Flask+sklearn app and a bare
"hello" endpoint, on real servers on 127.0.0.1, loaded by wrk.

Run ``make bench`` (or ``python -m benchmarks.bench --help`` from the project root, with the
project's environment and a built bundle). It prints the table, the in-process cost per call of
each predictor path, the issue's target ratios, start-to-ready times and worker memory, and writes
everything to ``benchmarks/results/<date>-<commit>.json``. A configuration that cannot run here
(a setting this pipeserve does not have, granian not installed) is reported as unavailable.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import orjson
import pandas as pd

from benchmarks import inprocess, report
from benchmarks.servers import THREADS, WORKERS, RunningServer, ServerError, ServerSpec, running
from benchmarks.wrk import WrkError, ensure_wrk, run_wrk, write_post_script, wrk_version
from pipeserve.bundle.io import read_manifest

ROOT = Path(__file__).resolve().parent.parent
BATCHES = (1, 1000)
CONCURRENCIES = (1, 8, 64)
WARMUP_CONCURRENCY = 8


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def available_settings() -> set[str]:
    """The PIPESERVE_* settings (lower-case field names) this pipeserve knows."""
    from pipeserve.settings import Settings  # noqa: PLC0415 - only to list its fields

    return set(Settings.model_fields)


def granian_installed() -> bool:
    return (Path(sys.executable).parent / "granian").exists()


def server_specs(model: str, settings: set[str], granian: bool) -> list[ServerSpec]:
    """Every configuration in the table, in order; those that cannot run here say why."""
    predict = f"/api/v1/models/{model}/predict"
    has_onnx = "inference_path" in settings
    no_onnx = None if has_onnx else "this pipeserve has no PIPESERVE_INFERENCE_PATH (no ONNX path)"
    no_batching = None if "batching" in settings else "this pipeserve has no PIPESERVE_BATCHING"
    no_granian = None if granian else "granian is not installed (pip install granian)"
    # The fastest path there is, for the rows that vary something else (batching, server).
    best = "onnx" if has_onnx else "sklearn"
    best_env = {"PIPESERVE_INFERENCE_PATH": best} if has_onnx else {}
    return [
        ServerSpec(
            "pipeserve-onnx",
            "pipeserve onnx (gunicorn)",
            "pipeserve",
            "gunicorn",
            predict,
            BATCHES,
            {"PIPESERVE_INFERENCE_PATH": "onnx"},
            no_onnx,
        ),
        ServerSpec(
            "pipeserve-sklearn",
            "pipeserve sklearn (gunicorn)",
            "pipeserve",
            "gunicorn",
            predict,
            BATCHES,
            {"PIPESERVE_INFERENCE_PATH": "sklearn"} if has_onnx else {},
        ),
        ServerSpec(
            f"pipeserve-{best}-batching",
            f"pipeserve {best}+batching (gunicorn)",
            "pipeserve",
            "gunicorn",
            predict,
            BATCHES,
            {**best_env, "PIPESERVE_BATCHING": "true"},
            no_batching,
        ),
        ServerSpec(
            "baseline",
            "plain Flask+sklearn (gunicorn)",
            "baseline",
            "gunicorn",
            "/predict",
            BATCHES,
        ),
        ServerSpec("hello", "bare Flask hello (gunicorn)", "hello", "gunicorn", "/", (1,)),
        ServerSpec(
            f"pipeserve-{best}-granian",
            f"pipeserve {best} (granian)",
            "pipeserve",
            "granian",
            predict,
            BATCHES,
            best_env,
            no_granian,
        ),
        ServerSpec(
            "hello-granian",
            "bare Flask hello (granian)",
            "hello",
            "granian",
            "/",
            (1,),
            unavailable=no_granian,
        ),
    ]


def request_rows(
    csv_path: Path, features: list[str], sizes: tuple[int, ...]
) -> dict[int, list[dict[str, Any]]]:
    """Real rows (the held-out data), repeated as needed, for each batch size."""
    records = pd.read_csv(csv_path)[features].to_dict(orient="records")
    if not records:
        raise SystemExit(f"{csv_path} has no rows")
    return {size: list(itertools.islice(itertools.cycle(records), size)) for size in sizes}


def check_answers(server: RunningServer, bodies: dict[int, bytes]) -> None:
    """One request per batch size before the load: a 200, and one prediction per row.

    Raises :class:`ServerError` otherwise, so a broken server is not measured as a fast one.
    """
    for size in server.spec.batches:
        request = urllib.request.Request(  # noqa: S310 - http://127.0.0.1 only
            server.url(server.spec.predict_path),
            data=bodies[size],
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
        if server.spec.app != "hello":
            predictions = orjson.loads(payload)["predictions"]
            if len(predictions) != size:
                raise ServerError(
                    f"{server.spec.label}: {len(predictions)} predictions for {size} rows"
                )


def served_path(server: RunningServer, model: str) -> str | None:
    """The inference path pipeserve says answers for ``model`` (None when its metadata does not
    say: a pipeserve from before the fast path).

    Raises :class:`ServerError` when it is not the path the row asked for, so that a row is never
    measured on a different path than its label says.
    """
    with urllib.request.urlopen(server.url(f"/api/v1/models/{model}"), timeout=10) as response:  # noqa: S310  # nosec B310
        path = orjson.loads(response.read()).get("inference_path")
    wanted = server.spec.env.get("PIPESERVE_INFERENCE_PATH")
    if wanted and path != wanted:
        raise ServerError(f"{server.spec.label}: asked for the {wanted} path, it serves {path}")
    return str(path) if path else None


def measure_server(
    spec: ServerSpec,
    *,
    wrk: str,
    scripts: dict[int, Path],
    bodies: dict[int, bytes],
    bundle: Path,
    model: str,
    log_dir: Path,
    concurrencies: tuple[int, ...],
    duration_s: float,
    warmup_s: float,
) -> dict[str, Any]:
    """Start ``spec``, warm it up, run every cell, read its workers' memory, stop it."""
    result: dict[str, Any] = {
        "name": spec.name,
        "label": spec.label,
        "app": spec.app,
        "server": spec.server,
        "settings": spec.env,
        "available": spec.unavailable is None,
        "reason": spec.unavailable,
        "cells": [],
    }
    if spec.unavailable:
        log(f"{spec.label}: unavailable: {spec.unavailable}")
        return result
    try:
        with running(spec, root=ROOT, bundle=bundle, log_dir=log_dir) as server:
            result["ready_s"] = server.ready_s
            log(f"{spec.label}: ready in {server.ready_s:.2f} s")
            check_answers(server, bodies)
            if spec.app == "pipeserve":
                result["inference_path"] = served_path(server, model)
            url = server.url(spec.predict_path)
            for size in spec.batches:
                run_wrk(
                    wrk, url, scripts[size], connections=WARMUP_CONCURRENCY, duration_s=warmup_s
                )
            for size in spec.batches:
                for connections in concurrencies:
                    item: dict[str, Any] = {"concurrency": connections, "batch": size}
                    try:
                        measured = run_wrk(
                            wrk, url, scripts[size], connections=connections, duration_s=duration_s
                        )
                    except WrkError as error:
                        item["error"] = str(error)
                        log(f"  c{connections} batch {size}: failed: {error}")
                    else:
                        item.update(measured.as_dict())
                        # Only answered requests delivered rows.
                        ok = max(0, measured.requests - measured.non_2xx)
                        item["rows_per_s"] = ok * size / measured.duration_s
                        log(
                            f"  c{connections:<3} batch {size:<5} {measured.requests_per_s:>9,.0f}"
                            f" req/s  p50 {measured.p50_ms:.2f} ms  p99 {measured.p99_ms:.2f} ms"
                            f"  errors {measured.errors}"
                        )
                    result["cells"].append(item)
            result["worker_rss_mb"] = [round(v, 1) for v in server.worker_rss_mb()]
            result["workers"] = len(result["worker_rss_mb"])
    except ServerError as error:
        result["available"] = False
        result["reason"] = f"failed: {str(error).splitlines()[0]}"
        result["error_detail"] = str(error)
        log(f"{spec.label}: {error}")
    return result


def print_report(results: dict[str, Any]) -> None:
    servers = results["servers"]
    print(f"\nMachine: {report.machine_line(results['machine'])}")
    print(
        f"Commit {results['git']['short']}; {results['config']['workers']} workers x "
        f"{results['config']['threads']} threads each; wrk {results['config']['duration_s']} s "
        f"per cell after {results['config']['warmup_s']} s warm-up; load average (1/5/15 min) "
        f"{results['config']['load_average_before']} before, "
        f"{results['config']['load_average_after']} after\n"
    )
    print(report.format_table(servers))
    print("\nStart to ready and memory per worker:")
    for server in servers:
        if server["available"]:
            rss = ", ".join(f"{v:.0f}" for v in server.get("worker_rss_mb", []))
            print(f"  {server['label']:<36} ready {server['ready_s']:.2f} s   RSS MiB {rss}")
    print("\nIn process, µs per call (median):")
    for step, sizes in results["in_process_us"].items():
        cells = "  ".join(
            f"{size} row{'s' if size != '1' else ''}: "
            + (f"{value:,.1f}" if isinstance(value, float) else value)
            for size, value in sizes.items()
        )
        print(f"  {step:<46} {cells}")
    print("\nTargets (issue 7):")
    for name, targets in results["targets"].items():
        print(f" {name}:")
        print(report.format_targets([report.Target(**_target_args(t)) for t in targets]))


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
    parser.add_argument("--duration", type=float, default=10, help="seconds per cell [10]")
    parser.add_argument(
        "--warmup", type=float, default=2, help="seconds of warm-up per batch size [2]"
    )
    parser.add_argument(
        "--concurrency",
        default=",".join(map(str, CONCURRENCIES)),
        help="connections per cell, comma-separated [1,8,64]",
    )
    parser.add_argument("--only", default="", help="server names to run, comma-separated [all]")
    parser.add_argument("--results-dir", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--no-install", action="store_true", help="never apt-get install wrk")
    parser.add_argument(
        "--markdown",
        type=Path,
        metavar="RESULTS_JSON",
        help="print that run's table as Markdown (for the README) and exit",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.markdown:
        print(report.markdown_table(orjson.loads(args.markdown.read_bytes())["servers"]))
        return 0
    try:
        wrk = ensure_wrk(install=not args.no_install)
    except WrkError as error:
        log(f"error: {error}")
        return 2
    bundle = args.bundle.resolve()
    manifest = read_manifest(bundle)
    concurrencies = tuple(int(c) for c in args.concurrency.split(","))
    rows = request_rows(args.rows, manifest.feature_names, BATCHES)
    bodies = {size: orjson.dumps({"instances": batch}) for size, batch in rows.items()}
    specs = server_specs(manifest.name, available_settings(), granian_installed())
    if args.only:
        wanted = set(args.only.split(","))
        specs = [s for s in specs if s.name in wanted]
    runnable = [s for s in specs if not s.unavailable]
    cells = sum(len(s.batches) * len(concurrencies) for s in runnable)
    warmups = sum(len(s.batches) for s in runnable)
    log(
        f"{len(runnable)} servers, {cells} cells: about "
        f"{(cells * args.duration + warmups * args.warmup) / 60 + len(runnable) * 0.2:.0f} min"
    )
    started = time.monotonic()
    # Other work on the machine skews every number: recorded so a reader can judge the run.
    load_before = [round(x, 2) for x in os.getloadavg()]
    log("in-process timings ...")
    in_process = inprocess.measure(bundle, rows)
    servers = []
    with tempfile.TemporaryDirectory(prefix="pipeserve-bench-") as tmp:
        work = Path(tmp)
        scripts = {
            size: write_post_script(body, work / f"post-{size}.lua")
            for size, body in bodies.items()
        }
        for spec in specs:
            servers.append(
                measure_server(
                    spec,
                    wrk=wrk,
                    scripts=scripts,
                    bodies=bodies,
                    bundle=bundle,
                    model=manifest.name,
                    log_dir=work,
                    concurrencies=concurrencies,
                    duration_s=args.duration,
                    warmup_s=args.warmup,
                )
            )
    now = datetime.datetime.now(datetime.UTC)
    git = report.git_state(ROOT)
    targets = {
        name: [t.as_dict() for t in report.compute_targets(servers, name, "baseline", hello)]
        for name, hello in (
            (s.name, "hello-granian" if s.server == "granian" else "hello")
            for s in specs
            if s.app == "pipeserve"
        )
    }
    results = {
        "date": now.isoformat(timespec="seconds"),
        "git": git,
        "machine": report.machine_info(),
        "versions": {**report.library_versions(), "wrk": wrk_version(wrk)},
        "config": {
            "workers": WORKERS,
            "threads": THREADS,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "concurrencies": list(concurrencies),
            "batches": list(BATCHES),
            "bundle": str(bundle.relative_to(ROOT) if bundle.is_relative_to(ROOT) else bundle),
            "model": manifest.name,
            "estimator": manifest.estimator,
            "wall_s": round(time.monotonic() - started, 1),
            "load_average_before": load_before,
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
        },
        "servers": servers,
        "in_process_us": in_process,
        "targets": targets,
    }
    print_report(results)
    path = report.write_results(
        results, args.results_dir, date=now.date().isoformat(), commit=git["short"]
    )
    print(f"\nresults: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
