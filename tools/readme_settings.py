"""Rewrite the settings table in README.md from ``pipeserve.settings`` (``make docs``).

The table sits between two HTML comments; a test fails when it differs from the code.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pipeserve.settings import settings_table_markdown

BEGIN = "<!-- settings-table:begin -->\n"
END = "<!-- settings-table:end -->"


def render(readme: str) -> str:
    """``readme`` with the table between the markers replaced by the current one."""
    head, rest = readme.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}{settings_table_markdown()}{END}{tail}"


def main(argv: list[str]) -> int:
    path = Path(argv[0] if argv else "README.md")
    path.write_text(render(path.read_text(encoding="utf-8")), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
