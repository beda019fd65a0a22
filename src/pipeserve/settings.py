"""Runtime settings: the only place that reads the environment.

Every field can be set by an environment variable with the ``PIPESERVE_`` prefix (for example
``PIPESERVE_PORT=9000``), so a Kubernetes ConfigMap or Secret configures a pod without code. The
README's settings table is generated from the field descriptions here (``make docs``) and a test
fails when the two drift apart.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

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
        description="Gunicorn worker processes; each loads every model once.",
    )
    threads: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Threads per worker, so health checks are answered during a slow prediction.",
    )
    model_dir: Path = Field(
        default=Path("models"),
        description="Model repository: every sub-directory holding a bundle.json is served "
        "under the directory's name.",
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
    timeout: int = Field(
        default=30,
        ge=1,
        description="Seconds a worker may spend on one request before Gunicorn restarts it.",
    )
    graceful_timeout: int = Field(
        default=20,
        ge=0,
        description="Seconds in-flight requests get to finish after SIGTERM; keep it below "
        "the pod's terminationGracePeriodSeconds.",
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


def settings_table_markdown() -> str:
    """Render the README's settings table from the field descriptions."""
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = field.default
        shown = default.as_posix() if isinstance(default, Path) else default
        lines.append(f"| `{ENV_PREFIX}{name.upper()}` | `{shown}` | {field.description} |")
    return "\n".join(lines) + "\n"
