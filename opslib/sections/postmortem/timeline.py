"""An incident's timeline: its runs and audited actions in time order, as a frame, a linked table and JSON."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable

import pandas as pd

from ...operator import Operator
from .loader import Incident, _failing, _time

@dataclass(frozen=True)
class TimelineEntry:
    time: datetime
    kind: str                        # run | lab (an interactive workspace run) | action
    what: str
    status: str
    detail: str
    run_id: str | None
    operator: str | None = None
    audit_id: str | None = None
    files: dict = field(default_factory=dict)       # kind -> {"path", "sha256"}

    @property
    def time_text(self) -> str:
        return f"{self.time:%Y-%m-%d %H:%M:%S}"

    @property
    def links(self) -> str:
        return " ".join(f"[{kind}]({f['path']})" for kind, f in sorted(self.files.items())) + \
            (f" sha256 `{self.files['ipynb']['sha256'][:12]}`" if "ipynb" in self.files else "")

    def to_dict(self) -> dict:
        return {"time": self.time.isoformat(), "kind": self.kind, "what": self.what, "status": self.status,
                "detail": self.detail, "run_id": self.run_id, "operator": self.operator, "audit_id": self.audit_id,
                "files": self.files}


def _run_detail(entry: dict) -> str:
    parts = [f"{c['name']}: {c['detail']}" for c in _failing(entry)]
    if entry.get("error"):
        parts.append(f"{entry['error'].get('ename')}: {entry['error'].get('evalue')}")
    return "; ".join(parts)


def timeline(incident: Incident) -> list[TimelineEntry]:
    """Every run and every audited action of the incident, in time order.

    An action is placed at its audit time when that lies within its run; otherwise (a profile with
    a fixed clock, such as the sandbox, stamps actions with that clock) right after its run starts,
    with the recorded time in the detail."""
    rows: list[tuple[tuple, TimelineEntry]] = []
    runs = {e["id"]: e for e in incident.entries}
    for e in incident.entries:
        start = _time(e["start"])
        files = {k: {"path": f["path"], "sha256": f["sha256"]} for k, f in e.get("files", {}).items()}
        kind = "lab" if e.get("mode") == "interactive" else "run"     # worked by hand in a lab workspace
        rows.append(((start, 0, e["id"]), TimelineEntry(start, kind, e["notebook"], e["status"], _run_detail(e), e["id"],
                                                        Operator.from_dict(e.get("operator")).user, files=files)))
    for a in incident.actions:
        run = runs[a.run_id]
        start, end, stamped = _time(run["start"]), _time(run["end"]), _time(a.timestamp)
        steps = "; ".join(f"{s.change.get('resource')} {s.change.get('attribute')}: {s.change.get('current')!r} -> "
                          f"{s.change.get('new')!r} {s.status}" for s in a.steps) or "no changes"
        detail = steps + (f" (reason: {a.reason})" if a.reason else "")
        if start <= stamped <= end:
            when = stamped
        else:
            when = start
            detail = f"{detail} [audit time {a.timestamp}, the profile's clock]".strip()
        rows.append(((when, 1, a.timestamp), TimelineEntry(when, "action", a.title, a.status, detail, a.run_id,
                                                           a.operator.user, audit_id=a.id)))
    return [entry for _, entry in sorted(rows, key=lambda r: r[0])]


def timeline_text(incident: Incident) -> str:
    """``runbook incident timeline``: a heading line, then one line per entry (time, kind, what, status, detail,
    and the run's HTML or the action's audit id)."""
    lines = [f"incident {incident.id}: {incident.status}, {len(incident.entries)} runs, "
             f"{len(incident.actions)} actions ({incident.location})"]
    for t in timeline(incident):
        ref = t.files.get("html", {}).get("path") or t.audit_id or ""
        lines.append(f"{t.time_text}Z  {t.kind:<6} {t.what:<28} {t.status:<8} {t.detail}  {ref}".rstrip())
    return "\n".join(lines)


def timeline_frame(entries: Iterable[TimelineEntry]) -> pd.DataFrame:
    return pd.DataFrame([{"time": t.time, "kind": t.kind, "what": t.what, "status": t.status, "detail": t.detail,
                          "run": t.run_id or "", "html": t.files.get("html", {}).get("path", "")} for t in entries],
                        columns=["time", "kind", "what", "status", "detail", "run", "html"])


def timeline_table(entries: Iterable[TimelineEntry]):
    """:func:`timeline_frame` styled for a notebook: each run links to its archived HTML, nothing truncated."""
    from html import escape
    frame = timeline_frame(entries)
    frame["time"] = [f"{t:%Y-%m-%d %H:%M:%S}Z" for t in frame["time"]]

    def link(path: str) -> str:
        return f'<a href="{escape(path)}">{escape(path)}</a>' if path else ""
    return frame.style.format({"html": link}).hide(axis="index")


def timeline_json(incident: Incident) -> str:
    return json.dumps({"incident_id": incident.id, "status": incident.status, "archive": incident.location,
                       "timeline": [t.to_dict() for t in timeline(incident)]}, indent=2, sort_keys=True)
