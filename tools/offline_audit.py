"""Audit pinned dependencies against vulnerability databases on disk.

Why this exists: pip-audit and safety need a vulnerability service on the
internet. Without one, pip-audit reports every package as "could not be
audited" and still prints "No known vulnerabilities found", which is a silent
pass. This tool reads snapshots of the PyPA advisory database (OSV records, one
JSON object per line) and PyUp's safety DB (name -> PEP 440 specifiers) and
fails loudly on a finding, on a pin it could not check, and on a missing or
empty database. Online, ``make audit-online`` runs pip-audit as well.

Exit codes: 0 no known vulnerability, 1 vulnerabilities found, 2 the audit
could not be carried out (bad lock file, missing database, unpinned entry).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

OSV_FILE = "pypa-advisory-db.jsonl"
SAFETY_FILE = "pyup-safety-db-insecure.json"


class AuditError(Exception):
    """The audit cannot give a trustworthy answer (exit code 2)."""


@dataclass(frozen=True)
class Pin:
    """One ``name==version`` line of the lock file."""

    name: str
    version: Version
    line_number: int


@dataclass(frozen=True)
class Finding:
    """A pinned version that a database lists as vulnerable."""

    package: str
    version: str
    advisory: str
    source: str
    fixed_in: tuple[str, ...] = ()
    keys: frozenset[str] = frozenset()

    def describe(self) -> str:
        fix = f" (fixed in {', '.join(self.fixed_in)})" if self.fixed_in else ""
        return f"{self.package}=={self.version}: {self.advisory} [{self.source}]{fix}"


@dataclass
class OsvRange:
    """One ECOSYSTEM range: a sorted list of introduced/fixed/last_affected events."""

    events: list[tuple[str, Version]] = field(default_factory=list)

    def contains(self, version: Version) -> bool:
        affected = False
        for kind, bound in self.events:
            if kind == "introduced" and version >= bound:
                affected = True
            elif (kind == "fixed" and version >= bound) or (
                kind == "last_affected" and version > bound
            ):
                affected = False
        return affected


@dataclass
class OsvAdvisory:
    """The part of an OSV record that concerns one package."""

    advisory_id: str
    aliases: tuple[str, ...]
    ranges: list[OsvRange]
    versions: frozenset[str]
    fixed: tuple[str, ...]

    def affects(self, version: Version) -> bool:
        if str(version) in self.versions:
            return True
        return any(rng.contains(version) for rng in self.ranges)

    @property
    def label(self) -> str:
        cves = [alias for alias in self.aliases if alias.startswith("CVE-")]
        return f"{self.advisory_id} ({', '.join(cves)})" if cves else self.advisory_id


def parse_lock(lines: Iterable[str], skip: frozenset[str]) -> list[Pin]:
    """Read ``name==version`` pins; anything looser cannot be audited, so it is an error."""
    pins: list[Pin] = []
    for number, raw in enumerate(lines, start=1):
        text = raw.split(" #", 1)[0].strip()
        if not text or text.startswith("#"):
            continue
        if text.startswith("-"):
            raise AuditError(f"line {number}: pip option {text!r} is not supported in a lock")
        try:
            requirement = Requirement(text)
        except InvalidRequirement as exc:
            raise AuditError(f"line {number}: cannot parse {text!r}: {exc}") from exc
        name = canonicalize_name(requirement.name)
        if name in skip:
            continue
        specifiers = list(requirement.specifier)
        if requirement.url or len(specifiers) != 1 or specifiers[0].operator not in {"==", "==="}:
            raise AuditError(f"line {number}: {text!r} is not an exact pin (name==version)")
        try:
            version = Version(specifiers[0].version)
        except InvalidVersion as exc:
            raise AuditError(f"line {number}: {text!r} has an invalid version") from exc
        pins.append(Pin(name, version, number))
    if not pins:
        raise AuditError("the lock file pins no packages; nothing would be audited")
    return pins


def _osv_ranges(affected: dict[str, Any]) -> list[OsvRange]:
    ranges = []
    for rng in affected.get("ranges", []):
        if rng.get("type") != "ECOSYSTEM":
            continue  # GIT ranges name commits, not releases
        parsed = OsvRange()
        for event in rng.get("events", []):
            for kind, value in event.items():
                if kind in {"introduced", "fixed", "last_affected"}:
                    parsed.events.append((kind, Version(value)))
        ranges.append(parsed)
    return ranges


def load_osv(lines: Iterable[str]) -> dict[str, list[OsvAdvisory]]:
    """Index OSV records by normalised package name."""
    index: dict[str, list[OsvAdvisory]] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise AuditError(f"{OSV_FILE} line {number} is not JSON: {exc}") from exc
        if record.get("withdrawn"):
            continue
        for affected in record.get("affected", []):
            package = affected.get("package", {})
            if package.get("ecosystem") != "PyPI":
                continue
            try:
                ranges = _osv_ranges(affected)
            except InvalidVersion:
                continue  # a record with non-PEP 440 bounds cannot be matched reliably
            fixed = tuple(
                str(bound) for rng in ranges for kind, bound in rng.events if kind == "fixed"
            )
            index.setdefault(canonicalize_name(package["name"]), []).append(
                OsvAdvisory(
                    advisory_id=record["id"],
                    aliases=tuple(record.get("aliases", [])),
                    ranges=ranges,
                    versions=frozenset(affected.get("versions", [])),
                    fixed=fixed,
                )
            )
    if not index:
        raise AuditError(f"{OSV_FILE} holds no PyPI advisories")
    return index


def load_safety(data: dict[str, Any]) -> dict[str, list[SpecifierSet]]:
    """Index the safety DB by normalised package name, skipping its ``$meta`` entry."""
    index: dict[str, list[SpecifierSet]] = {}
    for name, specs in data.items():
        if name.startswith("$"):
            continue
        parsed = []
        for spec in specs:
            try:
                parsed.append(SpecifierSet(spec, prereleases=True))
            except InvalidSpecifier:
                continue  # a handful of legacy entries are not PEP 440
        index.setdefault(canonicalize_name(name), []).extend(parsed)
    if not index:
        raise AuditError(f"{SAFETY_FILE} holds no packages")
    return index


def audit(
    pins: Sequence[Pin],
    osv: dict[str, list[OsvAdvisory]],
    safety: dict[str, list[SpecifierSet]],
) -> Iterator[Finding]:
    """Yield every (pin, advisory) match; ``keys`` are the names an ``--ignore`` may use."""
    for pin in pins:
        for advisory in osv.get(pin.name, []):
            if advisory.affects(pin.version):
                keys = frozenset({advisory.advisory_id, *advisory.aliases})
                yield Finding(
                    pin.name, str(pin.version), advisory.label, "pypa", advisory.fixed, keys
                )
        for spec in safety.get(pin.name, []):
            if pin.version in spec:
                key = f"{pin.name}{spec}"  # the safety DB has no ids: name + specifier is the key
                yield Finding(pin.name, str(pin.version), key, "pyup", keys=frozenset({key}))


def _read_databases(
    db_dir: Path,
) -> tuple[dict[str, list[OsvAdvisory]], dict[str, list[SpecifierSet]]]:
    osv_path, safety_path = db_dir / OSV_FILE, db_dir / SAFETY_FILE
    for path in (osv_path, safety_path):
        if not path.is_file():
            raise AuditError(f"vulnerability database {path} is missing")
    with osv_path.open(encoding="utf-8") as handle:
        osv = load_osv(handle)
    try:
        safety_data = json.loads(safety_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise AuditError(f"{safety_path} is not JSON: {exc}") from exc
    return osv, load_safety(safety_data)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--lock", type=Path, required=True, help="constraints file of name==version pins"
    )
    parser.add_argument(
        "--db-dir", type=Path, required=True, help=f"directory holding {OSV_FILE} and {SAFETY_FILE}"
    )
    parser.add_argument(
        "--skip", action="append", default=[], help="package to leave out (the project itself)"
    )
    parser.add_argument(
        "--ignore",
        action="append",
        default=[],
        help="advisory to accept: OSV id or alias, or safety-db name+specifier (say why)",
    )
    args = parser.parse_args(argv)
    skip = frozenset(canonicalize_name(name) for name in args.skip)
    try:
        if not args.lock.is_file():
            raise AuditError(f"lock file {args.lock} is missing")
        pins = parse_lock(args.lock.read_text(encoding="utf-8").splitlines(), skip)
        osv, safety = _read_databases(args.db_dir)
    except AuditError as exc:
        print(f"offline-audit: cannot audit: {exc}", file=sys.stderr)
        return 2
    ignore = frozenset(args.ignore)
    findings: list[Finding] = []
    accepted: list[Finding] = []
    for finding in audit(pins, osv, safety):
        (accepted if finding.keys & ignore else findings).append(finding)
    for finding in accepted:
        print(f"offline-audit: accepted {finding.describe()}")
    for finding in findings:
        print(f"offline-audit: VULNERABLE {finding.describe()}")
    for stale in sorted(ignore - {key for finding in accepted for key in finding.keys}):
        print(f"offline-audit: note: --ignore {stale} matched nothing; remove it")
    affected = len({finding.package for finding in findings})
    print(
        f"offline-audit: {len(pins)} pinned packages checked against {sum(map(len, osv.values()))} "
        f"PyPA advisories and {len(safety)} safety-db packages: "
        f"{len(findings)} known vulnerabilities in {affected} packages, {len(accepted)} accepted"
    )
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
