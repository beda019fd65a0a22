"""Rewrite the settings table in docs/settings.md from ``pipeserve.settings`` (``make docs``).

The table sits between two HTML comments; ``tests/test_settings.py`` fails when it differs from
the code, so a setting added without ``make docs`` cannot ship undocumented.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pipeserve.settings import settings_table_markdown

BEGIN = "<!-- settings-table:begin -->\n"
END = "<!-- settings-table:end -->"
TARGET = Path("docs/settings.md")


def render(page: str) -> str:
    """``page`` with the table between the markers replaced by the current one."""
    head, rest = page.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}{settings_table_markdown()}{END}{tail}"


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv else TARGET
    path.write_text(render(path.read_text(encoding="utf-8")), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
