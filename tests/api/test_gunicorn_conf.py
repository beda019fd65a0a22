"""The Gunicorn master must stay free of the app's native libraries until it forks."""

from __future__ import annotations

import subprocess
import sys


def test_loading_the_gunicorn_config_imports_neither_onnxruntime_nor_prometheus() -> None:
    # onnxruntime's threads do not survive a fork (workers then abort on exit), and
    # prometheus-client picks its multiprocess storage when first imported.
    probe = (
        "import sys, pipeserve.api.gunicorn_conf as conf; "
        "print(sorted(m for m in ('onnxruntime', 'prometheus_client', 'sklearn') "
        "if m in sys.modules)); print(conf.worker_class)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )

    assert result.stdout.splitlines() == ["[]", "gthread"]
