"""The README and docs/ cannot rot: the annotated tree matches the repository, every relative link
leads to a file (and heading), and the performance page shows the newest benchmark run."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).parents[1]
README = ROOT / "README.md"
PACKAGE = ROOT / "src" / "pipeserve"
TREE_BEGIN = "<!-- tree:begin -->"
TREE_END = "<!-- tree:end -->"
NOT_IN_GIT = "not in git"


@dataclass(frozen=True)
class TreeEntry:
    path: str  # relative to the repository root; directories end with "/"
    annotation: str


def tree_entries(readme: str) -> list[TreeEntry]:
    """The paths of the README's tree. A line is ``<indent><name>[ <name>...]  <annotation>``:
    two spaces of indent per level, names separated by one space, the annotation after two or
    more; a line holding one directory is the parent of the deeper lines below it."""
    block = readme.split(TREE_BEGIN, 1)[1].split(TREE_END, 1)[0]
    lines = block.strip().removeprefix("```text").removesuffix("```").strip("\n").splitlines()
    parents: list[str] = []  # parents[d] is the directory of the lines at depth d + 1
    entries = []
    for line in lines:
        match = re.fullmatch(r"( *)(\S+(?: \S+)*)(?: {2,}(.*))?", line)
        assert match, f"tree line not understood: {line!r}"
        indent, names, annotation = match.group(1), match.group(2).split(" "), match.group(3)
        assert len(indent) % 2 == 0, f"odd indent: {line!r}"
        depth = len(indent) // 2
        assert depth <= len(parents), f"indented deeper than its parent: {line!r}"
        del parents[depth:]
        base = parents[-1] if parents else ""
        entries += [TreeEntry(base + name, annotation or "") for name in names]
        if len(names) == 1 and names[0].endswith("/"):
            parents.append(base + names[0])
    return entries


def test_the_tree_parser_follows_indentation() -> None:
    readme = f"{TREE_BEGIN}\n```text\na/  x\n  b.py c/  y\n  d/\n    e.py\nf  z\n```\n{TREE_END}"

    paths = [entry.path for entry in tree_entries(readme)]

    assert paths == ["a/", "a/b.py", "a/c/", "a/d/", "a/d/e.py", "f"]


@pytest.fixture(scope="module")
def tree() -> list[TreeEntry]:
    return tree_entries(README.read_text(encoding="utf-8"))


def _ignored_by_git(path: str) -> bool:
    completed = subprocess.run(
        ["git", "check-ignore", "-q", path],
        cwd=ROOT,
        check=False,
    )
    return completed.returncode == 0


def test_every_path_in_the_tree_exists(tree: list[TreeEntry]) -> None:
    for entry in tree:
        if NOT_IN_GIT in entry.annotation:
            # Outputs (DVC's data, bundles) exist only after `make models`; they must be
            # outputs indeed, kept out of git.
            assert _ignored_by_git(entry.path), f"{entry.path} is marked {NOT_IN_GIT!r}"
            continue
        target = ROOT / entry.path
        assert target.exists(), f"README.md's tree names {entry.path}, which does not exist"
        assert target.is_dir() == entry.path.endswith("/"), f"{entry.path}: '/' only on dirs"


def _package_entries() -> set[str]:
    """Every module, package and data directory of src/pipeserve, as tree paths."""
    expected = set()
    for path in PACKAGE.rglob("*"):
        relative = path.relative_to(ROOT).as_posix()
        if "__pycache__" in path.parts or path.name == "__init__.py":
            continue  # a package is listed by its directory
        if not (path.parent / "__init__.py").exists():
            continue  # inside a data directory (templates/, project/template/): listed as one
        if path.is_dir():
            expected.add(relative + "/")
        elif path.suffix == ".py":
            expected.add(relative)
    return expected


def test_the_tree_lists_every_module_and_package(tree: list[TreeEntry]) -> None:
    listed = {entry.path for entry in tree}

    missing = sorted(_package_entries() - listed)

    assert not missing, f"add these to the tree in README.md (with what each is for): {missing}"


def test_the_tree_lists_every_top_level_entry(tree: list[TreeEntry]) -> None:
    files = subprocess.run(
        ["git", "ls-files"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    tracked = {name.split("/")[0] + ("/" if "/" in name else "") for name in files}
    # src/pipeserve/ lists src/, examples/iris/ lists examples/.
    listed = {re.sub(r"/.*", "/", entry.path) for entry in tree}

    missing = sorted(name for name in tracked if name not in listed)

    assert not missing, f"add these to the tree in README.md (with what each is for): {missing}"


def _pages() -> list[Path]:
    return [README, *sorted((ROOT / "docs").glob("*.md"))]


def _without_code(text: str) -> str:
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", text)


def anchors(markdown: str) -> set[str]:
    """The heading anchors GitHub gives a page: lower case, punctuation dropped, spaces to '-',
    a repeated heading numbered."""
    found: set[str] = set()
    for heading in re.findall(r"^#{1,6} +(.+?) *#*$", _without_fences(markdown), flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        candidate, number = slug, 0
        while candidate in found:
            number += 1
            candidate = f"{slug}-{number}"
        found.add(candidate)
    return found


def _without_fences(text: str) -> str:
    return re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)


def test_anchors_follow_github() -> None:
    page = "# Soak (`make soak`, not part of `make test`)\n## Drain, a bundle\n## Drain, a bundle\n"

    assert anchors(page) == {
        "soak-make-soak-not-part-of-make-test",
        "drain-a-bundle",
        "drain-a-bundle-1",
    }


def broken_links(page: Path) -> list[str]:
    """Each relative link of ``page`` (outside code) whose file, or heading, does not exist."""
    text = page.read_text(encoding="utf-8")
    broken = []
    for link in re.findall(r"!?\[[^\]]*\]\(([^)\s]+)\)", _without_code(text)):
        if re.match(r"[a-z]+:", link):  # http:, https:, mailto: are not files
            continue
        target, _, anchor = link.partition("#")
        path = (page.parent / target).resolve() if target else page
        if not path.exists():
            broken.append(f"{link}: no such file")
        elif anchor and path.suffix == ".md" and anchor not in anchors(path.read_text("utf-8")):
            broken.append(f"{link}: no heading #{anchor} in {path.name}")
    return broken


def test_a_missing_file_or_heading_is_a_broken_link(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Other page\n## A part\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n[ok](other.md#a-part) [self](#page) [web](https://example.org/x)\n"
        "[gone](missing.md) ![pic](images/none.png) [bad](other.md#no-part)\n"
        "`[in code](nowhere.md)`\n",
        encoding="utf-8",
    )

    assert broken_links(page) == [
        "missing.md: no such file",
        "images/none.png: no such file",
        "other.md#no-part: no heading #no-part in other.md",
    ]


@pytest.mark.parametrize("page", _pages(), ids=lambda page: page.relative_to(ROOT).as_posix())
def test_every_relative_link_resolves(page: Path) -> None:
    assert not broken_links(page), f"{page.relative_to(ROOT)}: {broken_links(page)}"


def _tool(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


performance_doc = _tool("performance_doc")


def test_the_performance_page_shows_the_newest_benchmark_run() -> None:
    newest = performance_doc.newest_result(ROOT / "benchmarks" / "results")
    page = (ROOT / "docs" / "performance.md").read_text(encoding="utf-8")

    assert page == performance_doc.render_newest(ROOT), (
        f"docs/performance.md does not show the newest run ({newest.name}): run `make docs`"
    )


def test_the_newest_run_is_the_latest_recorded_one_and_never_a_soak(tmp_path: Path) -> None:
    def write(name: str, date: str) -> None:
        (tmp_path / name).write_text(json.dumps({"date": date}), encoding="utf-8")

    write("2026-12-02-aaaaaaa.json", "2026-12-02T09:00:00+00:00")
    write("2026-12-02-0000000.json", "2026-12-02T10:00:00+00:00")  # later, sorts first by name
    write("2026-11-30-fffffff.json", "2026-11-30T23:00:00+00:00")
    write("soak-20261203T000000Z.json", "2026-12-03T00:00:00+00:00")

    assert performance_doc.newest_result(tmp_path).name == "2026-12-02-0000000.json"


def test_without_a_benchmark_run_the_generator_says_what_to_run(tmp_path: Path) -> None:
    (tmp_path / "soak-20261203T000000Z.json").write_text("{}", encoding="utf-8")

    with pytest.raises(performance_doc.NoBenchmarkResult, match="make bench"):
        performance_doc.newest_result(tmp_path)


def test_the_page_names_the_run_and_says_plainly_which_targets_were_missed() -> None:
    cell = {"concurrency": 1, "batch": 1, "p50_ms": 2.0, "requests_per_s": 500.0, "errors": 0}
    result = {
        "date": "2026-12-02T00:21:10+00:00",
        "command": "python -m benchmarks.bench",
        "git": {"short": "876526b", "branch": "main"},
        "machine": {
            "cpu": "AMD EPYC",
            "cores": 2,
            "memory_gib": 23.5,
            "kernel": "6.18",
            "os": "Debian GNU/Linux 12 (bookworm)",
            "python": "3.11.7",
        },
        "config": {"workers": 2, "duration_s": 10, "warmup_s": 2},
        "servers": [
            {
                "name": "pipeserve",
                "label": "pipeserve friendly API",
                "available": True,
                "cells": [cell],
            },
            {"name": "mlserver", "label": "MLServer", "available": False, "reason": "no venv"},
        ],
        "targets": [
            {
                "target": "a",
                "candidate": "pipeserve",
                "value": 0.1,
                "op": ">=",
                "limit": 0.75,
                "met": False,
            },
            {
                "target": "b",
                "candidate": "pipeserve",
                "value": 2.0,
                "op": "<=",
                "limit": 3.0,
                "met": True,
            },
            {
                "target": "c",
                "candidate": "pipeserve",
                "value": 0.2,
                "op": ">=",
                "limit": 4.0,
                "met": False,
            },
            {
                "target": "d",
                "candidate": "pipeserve",
                "value": None,
                "op": ">=",
                "limit": 6.0,
                "met": None,
            },
        ],
    }

    page = performance_doc.render(
        "$commit $date $machine $load_before\n$verdict\n$summary_table", result, "r.json"
    )

    assert page.startswith("876526b 2026-12-02 00:21 UTC AMD EPYC, 2 cores")
    assert "not recorded" in page
    assert "met 1 of the 3 targets this run measured and missed 2 (most of them)" in page
    assert "1 could not be measured: MLServer did not answer" in page
    assert "| pipeserve friendly API | 2.00 | - |" in page
    assert "| MLServer | unavailable: no venv |" in page
