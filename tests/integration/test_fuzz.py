"""Fuzz the real server from its own OpenAPI document with schemathesis.

Every operation of ``/openapi.json`` (friendly API, KServe V1, Open Inference Protocol V2, health)
gets generated requests, valid and invalid, from schemathesis's engine (the one its command line
runs: examples, coverage and fuzzing phases, then stateful sequences that follow the links it
infers), with a fixed seed and all of its checks, against the server serving iris and the
string-feature ``colours`` model (a second version of the same bundle would double the run
without testing more: tests/api/test_openapi.py checks that each version gets its own paths and
schemas). Each response must be no 5xx, carry a status the document lists for the operation, the
documented content type and a body that fits the documented schema; a request the document calls
valid must be accepted, and one it calls invalid refused with a 4xx; an unsupported method must
get 405 with a truthful ``Allow``; no request may hang (each has a timeout, and a timeout fails
the run).

The server refuses values outside the training range (``PIPESERVE_OUT_OF_RANGE=reject``), so its
document can state every limit it enforces (a huge but finite number would otherwise overflow a
model that the document cannot predict), and takes at most 2 rows a request, so that the V2
schema spells out each row count (:mod:`pipeserve.protocols.v2.schema`).

The engine rather than the pytest plugin: the plugin's lazy loading (the server starts in a
fixture) relies on a pytest internal that pytest 9.2 removed.
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import strategies as st
from schemathesis.engine import Status, events, from_schema

from tests.conftest import copy_bundle
from tests.integration.conftest import running_server

pytestmark = pytest.mark.integration

SEED = 20261125
# Per operation, in the fuzzing phase (the other phases add their own cases). Operations without
# parameters or body run out of distinct cases sooner.
MAX_EXAMPLES = 30
MIN_CASES = 500
REQUEST_TIMEOUT = 10  # seconds; a request that takes longer is a hang
# The models and versions the server holds: most generated names are replaced by these, so that
# requests reach the codecs and the models instead of stopping at a 404.
SERVED = {"iris": ["1"], "colours": ["1"]}
# Every check schemathesis has but max_response_time (it needs a limit, and timings here measure
# the machine's load rather than the server).
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "positive_data_acceptance",
    "negative_data_rejection",
    "use_after_free",
    "ensure_resource_availability",
    "missing_required_header",
    "ignored_auth",
    "object_level_authorization",
    "unsupported_method",
    "allow_header_conformance",
]


@pytest.fixture(scope="module")
def server_base(
    tmp_path_factory: pytest.TempPathFactory, session_bundle: Path, colour_bundle: Path
) -> Iterator[str]:
    root = tmp_path_factory.mktemp("fuzz")
    for version in SERVED["iris"]:
        copy_bundle(session_bundle, root / "models" / "iris" / version, version)
    shutil.copytree(colour_bundle, root / "models" / "colours")
    with running_server(
        root / "server.log",
        model_dir=str(root / "models"),
        log_level="WARNING",
        out_of_range="reject",
        max_instances="2",
    ) as running:
        yield running.base


def _served_names(parameters: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """The generated path parameters, or (three times in four) the same with a served model's
    name and, where the path has one, one of its versions."""
    if not isinstance(parameters, dict) or "name" not in parameters:
        return st.just(parameters)
    served = [
        {**parameters, "name": name, **({"version": version} if "version" in parameters else {})}
        for name, versions in SERVED.items()
        for version in versions
    ]
    return st.one_of(st.just(parameters), st.sampled_from(served), st.sampled_from(served))


def _config() -> Any:
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "cache": {"enabled": False},  # no .schemathesis/ directory: each run starts afresh
            "request-timeout": REQUEST_TIMEOUT,
            "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "database": "none"},
            "checks": {
                "enabled": False,
                **{name: {"enabled": True} for name in CHECKS},
            },
            "phases": {"stateful": {"max-steps": 20}},
            # A version's own path has the same request schema as the default one when the
            # model has one version: its boundary cases (most of the run) would repeat.
            "operations": [
                {"include-path-regex": "/versions/", "phases": {"coverage": {"enabled": False}}}
            ],
        }
    )


def test_every_operation_holds_under_generated_requests(server_base: str) -> None:
    schema = schemathesis.openapi.from_url(
        f"{server_base}/openapi.json", config=_config(), timeout=REQUEST_TIMEOUT
    )

    @schema.hook
    def flatmap_path_parameters(
        context: Any, path_parameters: dict[str, Any]
    ) -> st.SearchStrategy[dict[str, Any]]:
        return _served_names(path_parameters)

    sent: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    problems: list[str] = []
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            recorder = event.recorder
            sent[f"{event.phase.value}: {recorder.label}"] += len(recorder.interactions)
            statuses.update(
                f"{interaction.response.status_code // 100}xx"
                for interaction in recorder.interactions.values()
                if interaction.response is not None
            )
            problems.extend(
                f"{recorder.label}: {check.name}: {check.failure_info.failure.title}\n"
                f"    {check.failure_info.code_sample}"
                for checks in recorder.checks.values()
                for check in checks
                if check.status == Status.FAILURE and check.failure_info is not None
            )
            problems.extend(
                f"{recorder.label}: no response (a hang or a dropped connection)"
                for interaction in recorder.interactions.values()
                if interaction.response is None
            )
        elif isinstance(event, events.NonFatalError | events.FatalError):
            problems.append(f"engine error: {event!r}")

    total = sum(sent.values())
    print(f"\nschemathesis {schemathesis.__version__}, seed {SEED}: {total} requests")
    print(f"  answers: {dict(sorted(statuses.items()))}")
    for label, count in sorted(sent.items()):
        print(f"  {count:5d}  {label}")
    assert not problems, "\n".join(problems)
    assert total >= MIN_CASES
