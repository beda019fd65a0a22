"""The prepare notebook is a real Jupytext notebook and a runnable script."""

from __future__ import annotations

from pathlib import Path

import jupytext

NOTEBOOK = Path(__file__).parents[2] / "notebooks" / "prepare_training_data.py"


def test_opens_as_a_notebook_with_markdown_and_code_cells() -> None:
    notebook = jupytext.read(NOTEBOOK)

    kinds = [cell.cell_type for cell in notebook.cells]
    assert kinds.count("markdown") >= 3
    assert kinds.count("code") >= 4
    assert notebook.metadata["jupytext"]["text_representation"]["format_name"] == "percent"


def test_round_trips_through_ipynb_unchanged() -> None:
    text = NOTEBOOK.read_text(encoding="utf-8")

    again = jupytext.writes(jupytext.reads(text, fmt="py:percent"), fmt="py:percent")

    def without_version(source: str) -> list[str]:
        return [line for line in source.splitlines() if "jupytext_version" not in line]

    assert without_version(again) == without_version(text)
