"""Manifest entries: one per run, appended to the archive, never rewritten.

Each entry records its run's exit code (:mod:`opslib.exitcodes`, the same for ``runbook run`` and schedulers).

Each entry as stored also carries ``seq`` and ``prev`` (the manifest's hash chain, see :mod:`.archive`).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Iterable

from ..exitcodes import EXIT_CODES  # noqa: F401 (also imported from here)
from ..operator import Operator

STATUSES = tuple(EXIT_CODES)


@dataclass
class RunEntry:
    """Everything recorded about one run."""

    id: str
    notebook: str
    notebook_path: str
    profile: str
    parameters: dict
    operator: dict                              # Operator.to_dict() (older entries: see opslib.operator)
    host: str
    git_revision: str | None
    opslib_version: str
    start: str
    end: str
    duration_seconds: float
    status: str
    exit_code: int
    findings: list
    files: dict                                 # {"ipynb": {"rel", "path", "sha256", "bytes"}, "html", "plotlyjs"}
    archive: str
    incident_id: str | None = None
    job: str | None = None
    failing_cell: dict | None = None            # {"index", "execution_count", "source"}
    error: dict | None = None                   # {"ename", "evalue"}
    bytes_added: int = 0
    notifications: list = field(default_factory=list)
    mode: str = "batch"                         # batch (runbook run) | interactive (a lab workspace notebook)
    seq: int | None = None                      # set by the archive when appended (the hash chain)
    prev: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "RunEntry":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def filter_entries(entries: Iterable[dict], *, incident: str | None = None, notebook: str | None = None,
                   since: datetime | None = None, status: str | None = None, job: str | None = None) -> list[dict]:
    """Manifest entries matching every given criterion, oldest first."""
    out = []
    for e in entries:
        if incident and e.get("incident_id") != incident:
            continue
        if notebook and e.get("notebook") != notebook:
            continue
        if status and e.get("status") != status:
            continue
        if job and e.get("job") != job:
            continue
        if since and datetime.fromisoformat(e["start"]) < since:
            continue
        out.append(e)
    return sorted(out, key=lambda e: e["start"])


def find_entry(entries: Iterable[dict], run_id: str) -> dict | None:
    """The entry whose id is ``run_id`` or starts with it (a unique prefix)."""
    matches = [e for e in entries if e.get("id") == run_id or str(e.get("id", "")).startswith(run_id)]
    exact = [e for e in matches if e.get("id") == run_id]
    if exact:
        return exact[0]
    return matches[0] if len(matches) == 1 else None


def latest_figure(entries: Iterable[dict], *, notebook: str, figure: str, status: Iterable[str] = ("ok", "warn", "fail")):
    """The value of ``figure`` in the findings of the newest run of ``notebook`` that finished with a
    status in ``status``; None when there is no such run or figure."""
    runs = [e for e in filter_entries(entries, notebook=notebook) if e.get("status") in set(status)]
    for e in reversed(runs):
        for check in e.get("findings", []):
            if figure in check.get("figures", {}):
                return check["figures"][figure]
    return None


def summary_line(e: dict) -> str:
    return (f"{e['id']}  {e['start'][:19]}Z  {e['notebook']:<24} {e['status']:<7} "
            f"{e['duration_seconds']:>7.1f}s  {e.get('incident_id') or ''}")


def entry_text(e: dict) -> str:
    """A readable, multi-line view of one entry (``runbook runs show``)."""
    who = Operator.from_dict(e.get("operator"))
    lines = [f"run {e['id']}: {e['notebook']} on {e['profile']} -> {e['status']} (exit {e['exit_code']})",
             f"  started  {e['start']}  ended {e['end']}  ({e['duration_seconds']:.1f}s)",
             f"  operator {who.user}  aws {who.aws_text}  host {e['host']}",
             f"  git {e.get('git_revision')}  opslib {e['opslib_version']}",
             f"  parameters {e['parameters']}"]
    if e.get("incident_id"):
        lines.append(f"  incident {e['incident_id']}")
    if e.get("error"):
        cell = e.get("failing_cell") or {}
        lines.append(f"  error in cell {cell.get('index')}: {e['error'].get('ename')}: {e['error'].get('evalue')}")
    for c in e.get("findings", []):
        lines.append(f"  {c['status'].upper():<4} {c['name']}: {c['detail']}")
    for kind, f in e.get("files", {}).items():
        lines.append(f"  {kind:<5} {f['path']}  sha256 {f['sha256'][:16]}...  {f['bytes']} bytes")
    return "\n".join(lines)
