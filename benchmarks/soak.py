"""Soak test: the real server (`pipeserve serve`) under steady load for a set time.

Starts ``pipeserve serve`` on 127.0.0.1 (a free port, 2 workers by default) with a model
repository or one bundle, then keeps ``--concurrency`` requests in flight (64 by default) for
``--seconds`` (600 by default), mixing the friendly API, KServe V1 and Open Inference Protocol
V2 requests for one model. It prints requests, errors, requests per second, p50/p99 latency and
each worker's resident memory (from /proc) after a warm-up and at the end, and writes
the same as JSON, with date, machine and git commit, to ``benchmarks/results/``.

The load generator is asyncio + aiohttp: one keep-alive connection per concurrent client, each
sending its next request as soon as the previous answer is read (a closed loop, so the rate is
what the server sustains, not a target). On 2 cores the generator competes with the server for
CPU; the figures are for the pair, and the memory figures are the server's alone.

An error is any response other than 200 or a request that failed (connection reset, timeout).
The target: 0 errors and each worker's RSS growing less than 10% from the end of the warm-up to
the end of the run. The script exits 1 if it missed that.

Usage: ``python -m benchmarks.soak [--seconds 600] [--models models]`` (``make soak``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks import harness
from benchmarks.hostile import IDLE, STALLED, hold_hostile, probe_latency

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
MAX_SECONDS = 3 * 3600
READY_TIMEOUT_S = 60
STOP_GRACE_S = 40  # SIGTERM to SIGKILL: longer than the server's own graceful timeout
RSS_TARGET_PERCENT = 10.0


# --- the server -----------------------------------------------------------------------------


def start_server(models: Path, workers: int, log: Path) -> harness.Server:
    """``pipeserve serve`` serving ``models`` (a repository, or one bundle directory)."""
    where = "model_paths" if (models / "bundle.json").is_file() else "model_dir"
    settings = {"workers": str(workers), "log_level": "WARNING", where: str(models)}
    return harness.start_pipeserve(log, settings)


# --- the requests ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    kind: str
    path: str
    body: bytes


def request_pool(metadata: dict[str, Any], size: int, seed: int) -> list[Call]:
    """``size`` requests of each kind for one model: its example row with numeric features
    jittered within the training range, so that the server does not see one body only."""
    rng = random.Random(seed)  # noqa: S311  # request data, not secrets
    name = metadata["name"]
    features = metadata["inputs"]
    example = metadata["example"]

    def row() -> dict[str, Any]:
        values = {}
        for feature in features:
            value = example[feature["name"]]
            low, high = feature.get("minimum"), feature.get("maximum")
            if feature["dtype"] != "string" and low is not None and high is not None:
                value = round(rng.uniform(low, high), 2)
            values[feature["name"]] = value
        return values

    calls: list[Call] = []
    for _ in range(size):
        rows = [row() for _ in range(rng.choice((1, 1, 1, 10)))]
        friendly = {"instances": rows, "probabilities": rng.random() < 0.5}
        v1 = {"instances": [[r[f["name"]] for f in features] for r in rows]}
        v2 = {
            "inputs": [
                {
                    "name": f["name"],
                    "shape": [len(rows)],
                    "datatype": "BYTES" if f["dtype"] == "string" else "FP64",
                    "data": [r[f["name"]] for r in rows],
                }
                for f in features
            ]
        }
        calls += [
            Call("friendly", f"/api/v1/models/{name}/predict", json.dumps(friendly).encode()),
            Call("v1", f"/v1/models/{name}:predict", json.dumps(v1).encode()),
            Call("v2", f"/v2/models/{name}/infer", json.dumps(v2).encode()),
        ]
    rng.shuffle(calls)
    return calls


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    by_kind: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


async def client(
    session: aiohttp.ClientSession,
    *,
    base: str,
    calls: list[Call],
    offset: int,
    deadline: float,
    tally: Tally,
) -> None:
    headers = {"Content-Type": "application/json"}
    index = offset
    while time.monotonic() < deadline:
        call = calls[index % len(calls)]
        index += 1
        started = time.perf_counter()
        try:
            async with session.post(base + call.path, data=call.body, headers=headers) as answer:
                await answer.read()
                status = answer.status
        except (aiohttp.ClientError, TimeoutError) as error:
            tally.error(f"{call.kind}: {type(error).__name__}")
            continue
        tally.latencies.append(time.perf_counter() - started)
        tally.by_kind[call.kind] = tally.by_kind.get(call.kind, 0) + 1
        if status != 200:
            tally.error(f"{call.kind}: HTTP {status}")


async def drive(
    base: str, calls: list[Call], concurrency: int, seconds: float, tally: Tally
) -> float:
    """Run ``concurrency`` clients for ``seconds``; return the elapsed time."""
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=30)
    started = time.monotonic()
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        deadline = started + seconds
        await asyncio.gather(
            *(
                client(
                    session, base=base, calls=calls, offset=i * 7, deadline=deadline, tally=tally
                )
                for i in range(concurrency)
            )
        )
    return time.monotonic() - started


# --- the report -----------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def machine() -> dict[str, Any]:
    cpu = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "hostname": platform.node(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "cpu_model": cpu,
    }


def git_commit() -> dict[str, Any]:
    def git(*args: str) -> str:
        result = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False
        )
        return result.stdout.strip()

    return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain"))}


def growth(start: dict[int, int], end: dict[int, int]) -> dict[str, Any]:
    per_worker = {
        str(pid): {
            "start_kib": start[pid],
            "end_kib": end[pid],
            "growth_percent": round(100 * (end[pid] - start[pid]) / start[pid], 2),
        }
        for pid in sorted(start)
        if pid in end
    }
    return {
        "workers": per_worker,
        "replaced_workers": sorted(set(start) ^ set(end)),
        "max_growth_percent": max((w["growth_percent"] for w in per_worker.values()), default=0),
    }


def summarize(
    args: argparse.Namespace,
    stamp: datetime,
    *,
    tally: Tally,
    elapsed: float,
    rss: tuple[dict[int, int], dict[int, int], dict[int, int]],
    exit_code: int,
    log: Path,
) -> dict[str, Any]:
    """The run's figures, as written to the JSON file."""
    requests = len(tally.latencies) + sum(
        n for what, n in tally.errors.items() if "HTTP" not in what
    )
    errors = sum(tally.errors.values())
    idle, warm, end = rss
    memory = growth(warm, end)
    result = {
        "date": stamp.isoformat(timespec="seconds"),
        "machine": machine(),
        "git": git_commit(),
        "settings": {
            "seconds": args.seconds,
            "warmup_seconds": args.warmup,
            "concurrency": args.concurrency,
            "workers": args.workers,
            "threads_per_worker": 4,
            "model": args.model,
            "models": str(args.models),
            "client": f"asyncio + aiohttp {aiohttp.__version__}, keep-alive, closed loop",
        },
        "requests": requests,
        "by_kind": tally.by_kind,
        "errors": errors,
        "error_kinds": tally.errors,
        "elapsed_seconds": round(elapsed, 2),
        "requests_per_second": round(requests / elapsed, 1),
        "latency_ms": {
            "p50": round(1000 * percentile(tally.latencies, 0.50), 2),
            "p99": round(1000 * percentile(tally.latencies, 0.99), 2),
            "mean": round(1000 * statistics.fmean(tally.latencies), 2) if tally.latencies else None,
            "max": round(1000 * max(tally.latencies), 2) if tally.latencies else None,
        },
        "rss_kib": {
            "idle": {str(pid): kib for pid, kib in idle.items()},
            "after_warmup": {str(pid): kib for pid, kib in warm.items()},
            "end": {str(pid): kib for pid, kib in end.items()},
        },
        "rss_growth": memory,
        "server_exit_code": exit_code,
        "server_log": str(log),
    }
    return result


def hostile_probe(port: int, metadata: dict[str, Any], into: dict[str, Any]) -> None:
    """Two seconds into the load: hold 200 idle and 32 stalled-upload connections, and time 20
    /healthz and 20 predictions on fresh connections meanwhile (the server closes the idle ones
    after its header timeout, so this is measured early)."""
    time.sleep(2)
    name = metadata["name"]
    body = json.dumps({"instances": [metadata["example"]]}).encode()
    path = f"/api/v1/models/{name}/predict"
    with hold_hostile(harness.LOOPBACK, port, path=path):
        probes = probe_latency(
            harness.LOOPBACK, port, predict_path=path, predict_body=body, count=20
        )
    into.update(
        {p.name: {"p50_ms": p.p50_ms, "max_ms": p.max_ms, "failures": p.failures} for p in probes}
    )


def print_summary(
    result: dict[str, Any], tally: Tally, elapsed: float, exit_code: int, path: Path
) -> None:
    memory = result["rss_growth"]
    print(f"requests      {result['requests']} ({tally.by_kind})")
    print(f"errors        {result['errors']} {tally.errors or ''}")
    print(f"throughput    {result['requests_per_second']} req/s over {elapsed:.1f} s")
    latency = result["latency_ms"]
    print(
        f"latency       p50 {latency['p50']} ms, p99 {latency['p99']} ms, max {latency['max']} ms"
    )
    for pid, worker in memory["workers"].items():
        print(
            f"worker {pid}  RSS {worker['start_kib'] / 1024:.1f} MiB after warm-up -> "
            f"{worker['end_kib'] / 1024:.1f} MiB at end ({worker['growth_percent']:+.2f}%)"
        )
    if memory["replaced_workers"]:
        print(f"workers replaced during the run: {memory['replaced_workers']}")
    print_hostile(result["hostile"])
    print(f"server exit   {exit_code}")
    print(f"results       {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


def print_hostile(hostile: dict[str, Any]) -> None:
    for name, probe in hostile.items():
        print(
            f"hostile       {name}: p50 {probe['p50_ms']:.1f} ms, max {probe['max_ms']:.1f} ms, "
            f"failures {probe['failures']} (under load, {IDLE} idle + {STALLED} stalled held)"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=600, help="load duration (default 600)")
    parser.add_argument("--warmup", type=float, default=20, help="load before RSS start (s)")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--model", default="iris", help="the model to send requests to")
    parser.add_argument(
        "--models",
        type=Path,
        default=ROOT / "models",
        help="model repository or one bundle directory (default: models/, built by dvc repro)",
    )
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    if not 0 < args.seconds <= MAX_SECONDS or not 1 <= args.concurrency <= 1024:
        parser.error(f"--seconds must be in (0, {MAX_SECONDS}], --concurrency in [1, 1024]")
    if not args.models.is_dir():
        parser.error(f"{args.models} is not a directory: run `dvc repro` or pass --models")

    args.output.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC)
    log = Path(tempfile.mkdtemp(prefix="pipeserve-soak-")) / "server.log"
    server = start_server(args.models, args.workers, log)
    base = server.base
    try:
        try:
            server.wait_ready(timeout_s=READY_TIMEOUT_S)
        except harness.ServerError as error:
            raise SystemExit(str(error)) from error
        with urllib.request.urlopen(f"{base}/api/v1/models/{args.model}", timeout=5) as r:  # noqa: S310
            metadata = json.load(r)
        calls = request_pool(metadata, size=300, seed=0)
        idle = server.worker_rss_kib()
        print(f"serving {args.models} on {base}, workers {sorted(idle)}; warming up")
        asyncio.run(drive(base, calls, args.concurrency, args.warmup, Tally()))
        warm = server.worker_rss_kib()
        print(f"load: {args.concurrency} clients for {args.seconds:g} s")
        tally = Tally()
        hostile: dict[str, Any] = {}
        prober = threading.Thread(
            target=hostile_probe, args=(server.port, metadata, hostile), daemon=True
        )
        prober.start()
        elapsed = asyncio.run(drive(base, calls, args.concurrency, args.seconds, tally))
        prober.join(timeout=60)
        end = server.worker_rss_kib()
    finally:
        exit_code = server.stop(STOP_GRACE_S)

    result = summarize(
        args,
        stamp,
        tally=tally,
        elapsed=elapsed,
        rss=(idle, warm, end),
        exit_code=exit_code,
        log=log,
    )
    result["hostile"] = hostile
    path = args.output / f"soak-{stamp:%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")

    print_summary(result, tally, elapsed, exit_code, path)
    memory = result["rss_growth"]
    ok = (
        result["errors"] == 0
        and memory["max_growth_percent"] < RSS_TARGET_PERCENT
        and exit_code == 0
    )
    answered = bool(hostile) and all(p["failures"] == 0 for p in hostile.values())
    return 0 if ok and answered and not memory["replaced_workers"] else 1


if __name__ == "__main__":
    sys.exit(main())
