"""Prometheus metrics: requests, latency, predictions by class, models, in-flight requests.

Under Gunicorn every worker is a process of its own, so the counters live in files that
prometheus-client's multiprocess mode sums up when ``/metrics`` is scraped (the Gunicorn config
points ``PROMETHEUS_MULTIPROC_DIR`` at a fresh directory before any worker starts). Without that
variable (tests, ``flask run``) each app counts in memory in a registry of its own.

Label values are bounded on purpose: the route is the URL rule (``/v2/models/<name>/infer``), and
the model label is only set for configured models, so a client inventing model names cannot
grow the number of time series.
"""

from __future__ import annotations

import os
import time
from collections import Counter as Tally
from typing import Any

from apiflask import APIBlueprint
from flask import Flask, Response, current_app, g, request
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    multiprocess,
)
from prometheus_client.exposition import choose_encoder

from pipeserve.api.context import RequestCycle
from pipeserve.errors import ModelNotFoundError
from pipeserve.inference.monitoring import InputReport
from pipeserve.inference.predictor import Prediction
from pipeserve.inference.registry import ModelRegistry, ModelVersion

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
_EXTENSION_KEY = "pipeserve_metrics"
FEATURE = "metrics"
# From a fast single-row prediction (a few hundred microseconds) to a slow batch.
_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)

# Seconds between refreshes of a model's drift gauges.
_DRIFT_INTERVAL = 1.0

_TEXT_RESPONSE: dict[int | str, dict[str, str | dict[str, dict[str, Any]]]] = {
    200: {
        "description": "Prometheus text format.",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }
}

metrics_blueprint = APIBlueprint("metrics", __name__, tag="Metrics")


class Metrics:
    """The collectors of one app."""

    def __init__(self) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]  # *_created doubles the output
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "pipeserve_http_requests",
            "HTTP requests answered, by route template, method, status and model.",
            ["route", "method", "status", "model"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "pipeserve_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template, method and model.",
            ["route", "method", "model"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "pipeserve_http_requests_in_flight",
            "HTTP requests being answered now.",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.predictions = Counter(
            "pipeserve_predictions",
            "Rows predicted, by model, version and predicted class.",
            ["model", "version", "label"],
            registry=self.registry,
        )
        self.model_info = Gauge(
            "pipeserve_model_info",
            "1 for each configured model version; ready says whether it can answer, path "
            "whether the compiled ONNX form or scikit-learn answers.",
            ["model", "version", "ready", "path"],
            registry=self.registry,
            multiprocess_mode="mostrecent",
        )
        self.out_of_range = Counter(
            "pipeserve_input_out_of_range",
            "Input values unlike the training data, by model, version, feature and kind "
            "(outside_range: a number outside the training range; unseen: a category not seen "
            "in training; other kinds are reported by the pipeline's steps, e.g. "
            "address_unmatched: an address geocoded to no place, coordinates imputed).",
            ["model", "version", "feature", "kind"],
            registry=self.registry,
        )
        self.drift = Gauge(
            "pipeserve_input_drift_psi",
            "Population stability index of each feature's recent inputs (the last "
            "PIPESERVE_MONITOR_WINDOW rows of a worker) against its training distribution; the "
            "largest over workers. Above 0.25: a large shift.",
            ["model", "version", "feature"],
            registry=self.registry,
            multiprocess_mode="livemax",
        )
        self._published: set[tuple[str, str, str, str]] = set()
        self._prediction_children: dict[tuple[str, str, str], Any] = {}
        self._drift_due: dict[int, float] = {}

    def record_prediction(self, entry: ModelVersion, prediction: Prediction) -> None:
        """Count predicted rows by class (called by the data plane after each prediction)."""
        labels = prediction.labels
        counts = ((labels[0], 1),) if len(labels) == 1 else Tally(labels).items()
        children = self._prediction_children
        for label, count in counts:
            key = (entry.name, entry.version or "", label)
            child = children.get(key)
            if child is None:  # labels() validates and locks: once per label set
                child = children[key] = self.predictions.labels(*key)
            child.inc(count)

    def record_inputs(self, entry: ModelVersion, report: InputReport) -> None:
        """Count a request's unusual inputs, and refresh the drift gauges of its model at most
        once a second (computing the PSI is cheap, but not free on every request)."""
        version = entry.version or ""
        for feature, count in report.out_of_range.items():
            self.out_of_range.labels(entry.name, version, feature, "outside_range").inc(count)
        for feature, count in report.unseen.items():
            self.out_of_range.labels(entry.name, version, feature, "unseen").inc(count)
        for (feature, kind), count in report.noted.items():  # told by the pipeline's steps
            self.out_of_range.labels(entry.name, version, feature, kind).inc(count)
        monitor = entry.monitor
        now = time.monotonic()
        if monitor is None or self._drift_due.get(id(monitor), 0.0) > now:
            return
        self._drift_due[id(monitor)] = now + _DRIFT_INTERVAL
        self.publish_drift(entry)

    def publish_drift(self, entry: ModelVersion) -> None:
        """Set the drift gauges of ``entry`` from its monitor's current window."""
        if entry.monitor is None:
            return
        for feature, snapshot in entry.monitor.snapshot().items():
            if snapshot.psi is not None:
                self.drift.labels(entry.name, entry.version or "", feature).set(snapshot.psi)

    def describe_models(self, registry: ModelRegistry) -> None:
        """Publish which model versions are configured and ready (and that the ones a reload
        removed are gone: 0)."""
        current: set[tuple[str, str, str, str]] = {
            (
                entry.name,
                entry.version or "",
                str(entry.ready).lower(),
                entry.predictor.inference_path if entry.predictor else "",
            )
            for entry in registry
        }
        for labels in self._published - current:
            self.model_info.labels(*labels).set(0)
        for labels in current:
            self.model_info.labels(*labels).set(1)
        self._published = current

    def exposition(self, accept: str) -> tuple[bytes, str]:
        """The metrics in the format ``accept`` asks for (the classic text format by default)
        and its content type, summed over all worker processes if there are several."""
        encode, content_type = choose_encoder(accept)
        directory = os.environ.get(MULTIPROCESS_ENV)
        if directory:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
            return encode(registry), content_type
        return encode(self.registry), content_type


class RequestCounts:
    """Each request counted and timed by route, method, status and model.

    The labelled children are looked up once per label set (``labels()`` validates and locks).
    The Flask cycle and the prediction lane (:mod:`pipeserve.api.lane`) both record here.
    """

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        self._counters: dict[tuple[str, str, int, str], Any] = {}
        self._timers: dict[tuple[str, str, str], Any] = {}
        self.started = metrics.in_flight.inc
        self.abandoned = metrics.in_flight.dec
        """A started request handed over to the Flask cycle, which counts it itself."""

    def finished(self, route: str, method: str, status: int, model: str, seconds: float) -> None:
        """Count a started request as answered (``model``: a configured model's name, or
        ``""``)."""
        self._metrics.in_flight.dec()
        key = (route, method, status, model)
        counter = self._counters.get(key)
        if counter is None:
            counter = self._counters[key] = self._metrics.requests.labels(
                route, method, str(status), model
            )
        counter.inc()
        timer = self._timers.get((route, method, model))
        if timer is None:
            timer = self._timers[route, method, model] = self._metrics.latency.labels(
                route, method, model
            )
        timer.observe(seconds)


def install_metrics(
    app: Flask, cycle: RequestCycle, metrics: Metrics, registry: ModelRegistry
) -> RequestCounts:
    """Count and time every request of ``app``; ``registry`` tells which model names are real.
    Returns the counts, for the prediction lane to record in."""
    app.extensions[_EXTENSION_KEY] = (metrics, registry)
    counts = RequestCounts(metrics)
    clock = time.perf_counter

    def start() -> None:
        g.metrics_counted = True
        counts.started()

    def finish(response: Response) -> None:
        if not g.pop("metrics_counted", False):
            return
        rule = request.url_rule
        view_args = request.view_args
        name = view_args.get("name", "") if view_args else ""
        counts.finished(
            rule.rule if rule is not None else "unmatched",
            request.method,
            response.status_code,
            name if name and _is_configured(registry, name) else "",
            clock() - g.started,
        )

    cycle.on_start(FEATURE, start)
    cycle.on_finish(FEATURE, finish)
    return counts


def _is_configured(registry: ModelRegistry, name: str) -> bool:
    try:
        registry.model(name)
    except ModelNotFoundError:
        return False
    return True


@metrics_blueprint.get("/metrics")
@metrics_blueprint.doc(
    summary="Prometheus metrics",
    description="Request counts and latency by route, model and status; predictions by class; "
    "configured model versions; requests in flight. Text exposition format.",
    responses=_TEXT_RESPONSE,
)
def metrics_endpoint() -> Response:
    metrics, registry = current_app.extensions[_EXTENSION_KEY]
    metrics.describe_models(registry)
    for entry in registry:  # the scraped worker's windows as they are now
        metrics.publish_drift(entry)
    body, content_type = metrics.exposition(request.headers.get("Accept", ""))
    return Response(body, headers={"Content-Type": content_type})
