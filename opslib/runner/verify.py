"""``runbook runs verify``: the archive checked against its manifest, and the manifest against itself.

:func:`verify_archive` fails (``ArchiveReport.ok`` False) on any of:

* the archive folder (or S3 prefix) does not exist;
* files exist but the manifest is missing or empty;
* a manifest entry is not JSON, or its ``prev`` is not the sha256 of the entry before it (an entry was
  deleted, reordered, inserted or edited there), or its ``seq`` does not follow;
* a file listed by an entry is missing or its sha256 changed;
* a file no entry lists (an orphan: e.g. the run whose entry was deleted from the end of the manifest);
* ``expect_head`` (a chain head recorded earlier) is not an entry of the chain any more.

The chain head (sha256 of the last entry) is printed so an operator can record it elsewhere (a ticket,
a different account) and later prove that nothing written before it was dropped.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Iterable

from ..errors import EvidenceError
from .archive import GENESIS, Archive


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class FileCheck:
    run_id: str
    kind: str          # ipynb | html | plotlyjs
    path: str
    status: str        # ok | changed | missing
    detail: str = ""


@dataclass(frozen=True)
class Problem:
    """One reason the archive does not verify; ``place`` names where (a manifest line, a file)."""
    kind: str          # no-archive | no-manifest | bad-entry | chain | seq | head | changed | missing | orphan
    place: str
    detail: str

    def text(self) -> str:
        return f"{self.kind.upper():<11} {self.place}: {self.detail}"


@dataclass
class ArchiveReport:
    location: str
    entries: int = 0
    files_checked: int = 0
    head: str | None = None
    problems: list[Problem] = field(default_factory=list)
    files: list[FileCheck] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        lines = [p.text() for p in self.problems]
        lines.append(f"{self.location}: {self.entries} manifest entries, chain "
                     f"{'intact' if not any(p.kind in ('chain', 'seq', 'bad-entry') for p in self.problems) else 'BROKEN'}; "
                     f"{self.files_checked} files checked; {len(self.problems)} problems")
        lines.append(f"chain head: {self.head or '(empty manifest)'}")
        return "\n".join(lines)


def verify_entries(archive: Archive, entries: Iterable[dict]) -> list[FileCheck]:
    """One :class:`FileCheck` per archived file of ``entries``."""
    out = []
    digests: dict[str, str | EvidenceError] = {}      # shared assets (plotly.js) are read once
    for entry in entries:
        for kind, info in sorted(entry.get("files", {}).items()):
            if info["rel"] not in digests:
                try:
                    digests[info["rel"]] = sha256(archive.read(info["rel"]))
                except EvidenceError as exc:
                    digests[info["rel"]] = exc
            digest = digests[info["rel"]]
            if isinstance(digest, EvidenceError):
                out.append(FileCheck(entry["id"], kind, info["path"], "missing", str(digest)))
                continue
            if digest != info["sha256"]:
                out.append(FileCheck(entry["id"], kind, info["path"], "changed",
                                     f"sha256 {digest} != recorded {info['sha256']}"))
            else:
                out.append(FileCheck(entry["id"], kind, info["path"], "ok"))
    return out


def verify_archive(archive: Archive, *, run_id: str | None = None, expect_head: str | None = None) -> ArchiveReport:
    """Everything :mod:`this module <.verify>` says, for the whole archive (or the files of one run:
    the chain and the orphans are still checked, they are about the whole manifest)."""
    report = ArchiveReport(archive.location)
    if not archive.exists():
        report.problems.append(Problem("no-archive", archive.location, "the archive does not exist"))
        return report
    stored = archive.stored_entries()
    files = archive.files()
    report.entries = len(stored)
    if not stored:
        if files:
            report.problems.append(Problem("no-manifest", archive.location,
                                           f"{'the manifest is empty' if archive.has_manifest() else 'no manifest'} "
                                           f"but {len(files)} files exist"))
        return report
    _check_chain(stored, report)
    report.head = stored[-1].hash
    if expect_head and expect_head not in {s.hash for s in stored}:
        report.problems.append(Problem("head", "manifest", f"the recorded chain head {expect_head} is not in the chain: "
                                                           "entries up to it were removed or changed"))
    entries = [s.entry for s in stored if s.entry is not None]
    listed = {info.get("rel") for e in entries for info in e.get("files", {}).values()}
    for rel in files:
        if rel not in listed:
            report.problems.append(Problem("orphan", archive.url(rel), "no manifest entry lists this file"))
    chosen = [e for e in entries if run_id is None or e.get("id") == run_id]
    report.files = verify_entries(archive, chosen)
    report.files_checked = len(report.files)
    for c in report.files:
        if c.status != "ok":
            report.problems.append(Problem(c.status, c.path, f"run {c.run_id} {c.kind}: {c.detail}"))
    return report


def _check_chain(stored, report: ArchiveReport) -> None:
    previous = None
    for index, s in enumerate(stored):
        if s.entry is None:
            report.problems.append(Problem("bad-entry", f"manifest {s.place}", f"not a JSON object ({s.error})"))
            previous = s
            continue
        want = previous.hash if previous is not None else GENESIS
        prev = s.entry.get("prev")
        if prev is None:
            report.problems.append(Problem("chain", f"manifest {s.place}", "entry has no chain link (prev)"))
        elif prev != want:
            where = f"after {previous.place}" if previous is not None else "at the start"
            report.problems.append(Problem(
                "chain", f"manifest {s.place}",
                f"prev {prev[:16]}... is not the hash of the entry before it ({want[:16]}...): an entry {where} "
                f"was deleted, reordered, inserted or edited (run {s.entry.get('id')})"))
        seq = s.entry.get("seq")
        want_seq = index + 1
        if seq is not None and seq != want_seq and prev == want:
            report.problems.append(Problem("seq", f"manifest {s.place}", f"seq {seq}, expected {want_seq}"))
        previous = s
