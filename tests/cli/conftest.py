"""What the command tests share: click's runner, invoking ``pipeserve`` in this process."""

from __future__ import annotations

import pytest
from click.testing import CliRunner


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()
