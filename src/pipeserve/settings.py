"""Runtime settings: the only place that reads the environment.

Every field can be set by an environment variable with the ``PIPESERVE_`` prefix (for example
``PIPESERVE_PORT=9000``), so a Kubernetes ConfigMap or Secret configures a pod without code. The
settings table in docs/settings.md is generated from the field descriptions here (``make docs``)
and a test fails when the two drift apart.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ENV_PREFIX = "PIPESERVE_"


class Settings(BaseSettings):
    """Settings for serving; training reads ``params.yaml`` instead."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    host: str = Field(
        default="127.0.0.1",
        description="Address the server binds to; use 0.0.0.0 in a container.",
    )
    port: int = Field(default=8080, ge=1, le=65535, description="TCP port of the server.")
    workers: int = Field(
        default=2,
        ge=1,
        le=64,
        description="Server worker processes; each loads every model once.",
    )
    threads: int = Field(
        # Two, measured (docs/reliability.md): under one GIL more slots only take turns, which
        # stretched the slowest 1000-row requests (p99/p50 3.1 at 4 slots, 2.3 at 2) for no
        # throughput; a second slot keeps a worker answering while one request waits on I/O
        # (an HTTP geocoder).
        default=2,
        ge=1,
        le=64,
        description="Requests each worker runs in the app at once (health checks and /metrics "
        "never wait for one of these).",
    )
    io_threads: int = Field(
        default=64,
        ge=1,
        le=1024,
        description="Threads per worker that may wait for request bodies, so that slow or "
        "stalled uploads do not hold the threads that run the app; started as needed.",
    )
    header_timeout: int = Field(
        default=10,
        ge=1,
        le=60,
        description="Seconds a client may take to send a request's headers (also the idle "
        "time of a keep-alive connection) before the server closes the connection.",
    )
    model_dir: Path = Field(
        default=Path("models"),
        description="Model repository: each sub-directory is a model served under its name, "
        "holding a bundle.json or one sub-directory per version (models/iris/2/bundle.json).",
    )
    model_paths: Annotated[list[Path], NoDecode] = Field(
        default_factory=list,
        description="Bundle directories to serve instead of the model repository, separated by "
        "commas; each is served under the name and version its bundle.json gives.",
    )
    ready_policy: Literal["all", "any"] = Field(
        default="all",
        description="When /readyz says ready: all = every configured model version loaded; "
        "any = at least one model can answer.",
    )
    trusted_types: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Types (module.Class, separated by commas) a bundle may hold beyond "
        "scikit-learn's and pipeserve's own, after review: the project's custom transformers. "
        "Never read from a bundle.",
    )
    trusted_types_file: Path | None = Field(
        default=None,
        description="A file of reviewed types, one module.Class per line (# comments): the "
        "project's trusted_types.txt, copied into the image. Adds to PIPESERVE_TRUSTED_TYPES.",
    )
    reload_interval: float = Field(
        default=0,
        ge=0,
        description="Seconds between checks of the model repository for new or changed "
        "bundles, loaded without dropping requests; 0 = never.",
    )
    admin_enabled: bool = Field(
        default=False,
        description="Enable POST /admin/reload (reload the models now in the worker that "
        "receives it). Off: the route does not exist.",
    )
    inference_path: Literal["auto", "onnx", "sklearn"] = Field(
        default="auto",
        description="auto: answer with the bundle's compiled ONNX form when its check passed, "
        "else scikit-learn; onnx: require it (a model without one is not ready); sklearn: "
        "always scikit-learn.",
    )
    out_of_range: Literal["accept", "flag", "reject"] = Field(
        default="flag",
        description="What an input unlike the training data does (a number outside the "
        "training range, an unseen category, or a fact a pipeline step reports, such as an "
        "address that matched no place): accept = only counted in the metrics; flag = "
        "also a warning per prediction in the friendly API; reject = a 422 naming the field.",
    )
    monitor_window: int = Field(
        default=1000,
        ge=0,
        le=1_000_000,
        description="Recent input rows per model and worker that the drift score (PSI against "
        "the training distribution) is computed over; 0 turns input monitoring off.",
    )
    batching: bool = Field(
        default=False,
        description="Coalesce concurrent predictions of one worker into one model call. A "
        "lone request never waits; under load, throughput rises at a small latency cost.",
    )
    batch_max_rows: int = Field(
        default=64, ge=1, description="Most rows in one coalesced model call."
    )
    batch_max_wait_ms: float = Field(
        default=2.0,
        ge=0,
        description="Longest a batch waits for more requests to join, in milliseconds.",
    )
    max_body_bytes: int = Field(
        default=1_048_576,
        ge=1024,
        description="Largest request body accepted, in bytes; larger ones get 413.",
    )
    max_instances: int = Field(
        default=1000,
        ge=1,
        description="Most instances (rows) accepted in one prediction request.",
    )
    max_string_length: int = Field(
        default=1000,
        ge=1,
        description="Longest value accepted for a string feature (for example an address), in "
        "characters.",
    )
    timeout: int = Field(
        default=30,
        ge=1,
        description="Seconds one request may run in the app before its worker is replaced "
        "(the requests it was running fail; the other workers keep serving).",
    )
    graceful_timeout: int = Field(
        default=20,
        ge=0,
        description="Seconds in-flight requests get to finish after SIGTERM; keep it below "
        "the pod's terminationGracePeriodSeconds.",
    )
    drain_seconds: float = Field(
        default=1.0,
        ge=0,
        le=60,
        description="After SIGTERM, seconds the server keeps accepting requests with /readyz "
        "answering 503 (part of PIPESERVE_GRACEFUL_TIMEOUT); then in-flight requests finish.",
    )
    runtime_dir: Path | None = Field(
        default=None,
        description="Directory the server shares with its workers (metrics, the drain marker); "
        "unset: a fresh one in /dev/shm per start, removed at exit.",
    )
    api_tokens: SecretStr = Field(
        default=SecretStr(""),
        description="Bearer tokens that may call the model routes, separated by commas (for "
        "example from a Kubernetes Secret). With none here or in the file, the routes are open.",
    )
    api_tokens_file: Path | None = Field(
        default=None,
        description="File with one bearer token per line (a mounted Secret); re-read when it "
        "changes. Adds to PIPESERVE_API_TOKENS.",
    )
    admin_tokens: SecretStr = Field(
        default=SecretStr(""),
        description="Bearer tokens for the admin routes (they may call the model routes too), "
        "separated by commas. Required when PIPESERVE_ADMIN_ENABLED is true.",
    )
    admin_tokens_file: Path | None = Field(
        default=None, description="File with one admin token per line; re-read when it changes."
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Web origins allowed to call the API from a browser, separated by commas "
        "(for example https://app.example.com); empty: CORS off.",
    )
    access_log: bool = Field(
        default=True,
        description="Log one JSON line per request: method, path, status, duration, model, "
        "version, request id. Never the body unless PIPESERVE_LOG_PAYLOAD_EVERY is set.",
    )
    log_payload_every: int = Field(
        default=0,
        ge=0,
        description="Also log the body (first 2 KiB) of one request in this many; 0 = never. "
        "Bodies hold customer data: enable only where the log store may keep it.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Threshold of the application log."
    )
    log_format: Literal["json", "text"] = Field(
        default="json",
        description="json: one JSON object per line (for log collectors); text: for a terminal.",
    )
    proxy_hops: int = Field(
        default=0,
        ge=0,
        le=5,
        description="Reverse proxies in front of the server whose X-Forwarded-For/-Proto/-Host/"
        "-Port/-Prefix headers are trusted; 0 ignores them. 1 behind the OpenShift router or an "
        "Ingress controller, so URLs the app builds use the client's https scheme and host.",
    )
    docs_enabled: bool = Field(
        default=True,
        description="Serve Swagger UI at /docs and the OpenAPI document at /openapi.json.",
    )
    source_revision: str | None = Field(
        default=None,
        max_length=64,
        pattern=r"^[0-9A-Za-z._-]+$",
        description="The source revision (git commit) the image was built from, shown in model "
        "metadata and on the model card; the Dockerfile sets it from its build argument of the "
        "same name. Bundles do not record it, so an unrelated commit cannot change them.",
    )
    geocoder_url: str | None = Field(
        default=None,
        pattern=r"^https?://",
        description="Base URL of the Nominatim or Photon service used by models whose geocoder "
        "backend is nominatim or photon (for example http://nominatim.geo.svc:8080). Unset: no "
        "address leaves the process, and such models fail with a configuration error.",
    )
    geocoder_user_agent: str = Field(
        default="pipeserve",
        min_length=1,
        description="User-Agent sent to the geocoding service; Nominatim's usage policy asks for "
        "one that identifies the application and a contact.",
    )
    geocoder_timeout: float = Field(
        default=5.0,
        gt=0,
        description="Seconds to wait for one geocoding answer; (retries + 1) x timeout must stay "
        "below PIPESERVE_TIMEOUT.",
    )
    geocoder_retries: int = Field(
        default=2,
        ge=0,
        le=5,
        description="Retries after a timeout, a connection error, 429 or 5xx from the geocoding "
        "service (with a short growing pause between tries).",
    )
    geocoder_cache_size: int = Field(
        default=10_000,
        ge=0,
        description="Addresses whose geocoding answer each worker keeps in an LRU cache (0: none).",
    )

    @field_validator("model_paths", "cors_origins", "trusted_types", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        # A comma-separated list reads better in a ConfigMap than a JSON array.
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("source_revision", mode="before")
    @classmethod
    def _unset_when_empty(cls, value: object) -> object:
        # An image built without the build argument has the variable set to "".
        if isinstance(value, str) and not value.strip():
            return None
        return value


def settings_table_markdown() -> str:
    """Render the settings table of docs/settings.md from the field descriptions."""
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = field.default
        if field.default_factory is not None:
            default = field.default_factory()  # type: ignore[call-arg]
        shown = default.as_posix() if isinstance(default, Path) else default
        if isinstance(shown, SecretStr):
            shown = shown.get_secret_value()
        cell = "(none)" if shown in ([], None, "") else f"`{shown}`"
        lines.append(f"| `{ENV_PREFIX}{name.upper()}` | {cell} | {field.description} |")
    return "\n".join(lines) + "\n"
