"""The server module: the master stays light until it forks."""

from __future__ import annotations

import subprocess
import sys


def test_the_master_imports_neither_the_app_nor_its_native_libraries() -> None:
    # onnxruntime's threads do not survive a fork (workers then abort on exit), and
    # prometheus-client picks its multiprocess storage when first imported.
    probe = (
        "import sys, pipeserve.cli, pipeserve.api.server; "
        "print(sorted(m for m in ('onnxruntime', 'prometheus_client', 'sklearn', 'flask') "
        "if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )

    assert result.stdout.splitlines() == ["[]"]
