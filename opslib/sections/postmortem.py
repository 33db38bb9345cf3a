"""Incidents from the evidence archive: an incident's runs and audited actions, its status, the
runbook's three communication templates filled from them, a timeline and a post-mortem draft.

An incident is every manifest entry tagged with its id (``runbook run --incident ID``) plus every
audit record written by those runs (actions audit into ``<archive>/audit`` with the run's id).
Nothing is invented: what the evidence cannot tell (root cause, ETA, action items...) is written
as ``[to fill in]``.

Status, from the runs (runs of the escalation notebook itself are about the process, not the
system, and are left out of status and impact):

* **Resolved**: some notebook failed during the incident and the latest run of every notebook that
  failed is ``ok``;
* **Mitigating**: an action was applied, or some of the notebooks that failed are ``ok`` again;
* **Investigating**: otherwise.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Iterable

import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from ..actions.audit import AuditLog, AuditRecord, audit_dir
from ..errors import ParameterError
from ..findings import Check
from ..runner.archive import Archive, LocalArchive, open_archive
from ..runner.manifest import filter_entries
from ..runner.verify import FileCheck, verify_entries

TO_FILL = "[to fill in]"
TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"   # opslib/templates
TEMPLATES = {"incident-start": "incident-start.txt.j2", "status-update": "status-update.txt.j2",
             "post-mortem": "post-mortem.txt.j2"}
DRAFT_TEMPLATE = "post-mortem-draft.md.j2"
#: notebooks whose runs describe the incident process, not the system: left out of status and impact
PROCESS_NOTEBOOKS = frozenset({"escalation"})
FAILED = frozenset({"fail", "error", "died", "timeout"})
ARCHIVE_ENV = "OPSLIB_ARCHIVE"

__all__ = ["TO_FILL", "Incident", "TimelineEntry", "load_incident", "incident_from", "known_incidents",
           "default_archive", "communications", "render", "timeline", "timeline_frame", "timeline_table", "timeline_json", "verify",
           "draft", "incident_check", "evidence_check"]


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _hm(when: datetime | None) -> str:
    return f"{when:%Y-%m-%d %H:%M} UTC" if when else TO_FILL


def _duration(delta: timedelta | None) -> str:
    if delta is None:
        return TO_FILL
    minutes = int(delta.total_seconds() // 60)
    hours, minutes = divmod(max(minutes, 0), 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def _failing(entry: dict) -> list[dict]:
    return [c for c in entry.get("findings", []) if c.get("status") == "fail"]


def _finding_line(entry: dict, check: dict) -> str:
    return f"{check['name']}: {check['detail']} ({entry['notebook']})"


def _action_line(record: AuditRecord) -> str:
    return f"{record.title} [{record.status}{', dry run' if record.dry_run else ''}] (audit {record.id})"


@dataclass
class Incident:
    """An incident's manifest entries (oldest first) and the audit records of its runs."""
    id: str | None
    entries: list[dict] = field(default_factory=list)
    actions: list[AuditRecord] = field(default_factory=list)
    archive: Archive | None = None

    # -- the runs ----------------------------------------------------------------------------------
    @property
    def location(self) -> str:
        return self.archive.location if self.archive is not None else TO_FILL

    @property
    def system_entries(self) -> list[dict]:
        """The runs about the system (not the escalation notebook's own runs)."""
        return [e for e in self.entries if e["notebook"] not in PROCESS_NOTEBOOKS]

    @property
    def first_run_at(self) -> datetime | None:
        return _time(self.entries[0]["start"]) if self.entries else None

    @property
    def last_evidence_at(self) -> datetime | None:
        return max((_time(e["end"]) for e in self.entries), default=None)

    @property
    def severity(self) -> str | None:
        """The severity the latest escalation run was given, if any."""
        for e in reversed(self.entries):
            value = (e.get("parameters") or {}).get("severity")
            if e["notebook"] in PROCESS_NOTEBOOKS and value:
                return str(value)
        return None

    def _latest(self) -> dict[str, dict]:
        latest: dict[str, dict] = {}
        for e in self.system_entries:
            latest[e["notebook"]] = e
        return latest

    @property
    def failed_notebooks(self) -> list[str]:
        """Notebooks with a failed run during the incident, in order of first failure."""
        out: list[str] = []
        for e in self.system_entries:
            if e["status"] in FAILED and e["notebook"] not in out:
                out.append(e["notebook"])
        return out

    @property
    def still_failing(self) -> list[str]:
        latest = self._latest()
        return [n for n in self.failed_notebooks if latest[n]["status"] != "ok"]

    @property
    def resolved_at(self) -> datetime | None:
        """When the last failing notebook came back ok (its first ok run after its last failure)."""
        if not self.failed_notebooks or self.still_failing:
            return None
        times = []
        for name in self.failed_notebooks:
            runs = [e for e in self.system_entries if e["notebook"] == name]
            last_fail = max(i for i, e in enumerate(runs) if e["status"] in FAILED)
            recovered = next(e for e in runs[last_fail + 1:] if e["status"] == "ok")
            times.append(_time(recovered["end"]))
        return max(times)

    @property
    def applied_actions(self) -> list[AuditRecord]:
        return [a for a in self.actions if a.status == "applied"]

    @property
    def status(self) -> str:
        if self.resolved_at is not None:
            return "Resolved"
        if self.applied_actions or len(self.still_failing) < len(self.failed_notebooks):
            return "Mitigating"
        return "Investigating"

    # -- what the templates say -------------------------------------------------------------------
    def current_impact(self) -> list[str]:
        """The failing findings of the latest run of each notebook."""
        return [_finding_line(e, c) for e in self._latest().values() for c in _failing(e)]

    def initial_impact(self) -> list[str]:
        """The failing findings of each notebook's first failing run."""
        seen, lines = set(), []
        for e in self.system_entries:
            if e["notebook"] in seen or not _failing(e):
                continue
            seen.add(e["notebook"])
            lines.extend(_finding_line(e, c) for c in _failing(e))
        return lines

    def detailed_impact(self) -> list[str]:
        """Every failing finding of the incident with when it was first and last seen."""
        seen: dict[tuple, list] = {}
        for e in self.system_entries:
            for c in _failing(e):
                key = (e["notebook"], c["name"])
                when = _time(e["start"])
                if key in seen:
                    seen[key][2] = when
                    seen[key][0] = c
                else:
                    seen[key] = [c, when, when]
        return [f"{c['name']}: {c['detail']} ({notebook}; seen {first:%H:%M}-{last:%H:%M} UTC)"
                for (notebook, _), (c, first, last) in seen.items()]

    def description(self) -> str:
        names: list[str] = []
        for e in self.system_entries:
            for c in _failing(e):
                if c["name"] not in names:
                    names.append(c["name"])
        if not names:
            return TO_FILL
        more = f" (+{len(names) - 3} more)" if len(names) > 3 else ""
        return ", ".join(names[:3]) + more + " failing"

    def run_lines(self) -> list[str]:
        return [f"ran {e['notebook']} at {_time(e['start']):%H:%M} UTC: {e['status']}" for e in self.entries]

    def progress(self) -> list[str]:
        return self.run_lines() + [_action_line(a) for a in self.actions if a.status != "planned"]

    def next_steps(self) -> list[str]:
        """Actions planned (dry run) whose plan was never applied since."""
        applied = {a.title for a in self.applied_actions}
        out = []
        for a in self.actions:
            line = f"apply: {a.title} (planned, audit {a.id})"
            if a.status == "planned" and a.title not in applied and line not in out:
                out.append(line)
        return out

    def resolution(self) -> list[str]:
        lines = [_action_line(a) for a in self.applied_actions]
        if self.resolved_at is not None:
            lines.append(f"{', '.join(self.failed_notebooks)} ok again at {self.resolved_at:%Y-%m-%d %H:%M} UTC")
        return lines


def default_archive() -> str:
    """$OPSLIB_ARCHIVE, else ``runs/`` beside ``parameters/`` (the one default: :func:`opslib.runner.archive.default_archive`)."""
    from ..runner.archive import default_archive as default
    return default()


def load_incident(incident_id: str | None, archive: "str | os.PathLike | Archive | None" = None, *,
                  s3_client: Any = None, audit_directory: "str | os.PathLike | None" = None) -> Incident:
    """The runs tagged ``incident_id`` in the archive and the audit records of those runs.

    ``archive``: a folder, an ``s3://`` prefix (needs ``s3_client``) or an :class:`Archive`; default
    :func:`default_archive`. ``audit_directory``: default ``<archive>/audit`` for a local archive, else
    the audit log's default folder. ``incident_id`` None gives an empty incident (placeholders only)."""
    if incident_id is not None and not str(incident_id).strip():
        raise ParameterError("incident_id", incident_id, "an incident id such as INC-1, or None")
    store = archive if isinstance(archive, Archive) else open_archive(archive or default_archive(), s3_client=s3_client)
    if incident_id is None:
        return Incident(None, archive=store)
    entries = filter_entries(store.manifest(), incident=str(incident_id))
    if audit_directory is None:
        audit_directory = store.root / "audit" if isinstance(store, LocalArchive) else audit_dir()
    run_ids = {e["id"] for e in entries}
    actions = [r for r in AuditLog(audit_directory).records() if r.run_id in run_ids]
    return Incident(str(incident_id), entries, sorted(actions, key=lambda r: r.timestamp), store)


def incident_from(ops: Any, incident_id: str | None, archive: "str | None" = None) -> Incident:
    """:func:`load_incident` with ``ops``'s S3 client for an ``s3://`` archive (the notebook's call)."""
    s3 = ops.client("s3") if str(archive or "").startswith("s3://") else None
    return load_incident(incident_id, archive, s3_client=s3)


def known_incidents(archive: Archive) -> list[str]:
    return sorted({e["incident_id"] for e in archive.manifest() if e.get("incident_id")})


# -- templates ---------------------------------------------------------------------------------------
def _bullets(value: Any) -> str:
    if isinstance(value, str):
        return value
    items = [str(v) for v in value or []]
    if not items:
        return TO_FILL
    if len(items) == 1:
        return items[0]
    return "".join(f"\n  - {item}" for item in items)


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", "<br>")


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES_DIR)), undefined=StrictUndefined,
                      keep_trailing_newline=True, autoescape=False)
    env.filters["bullets"] = _bullets
    env.filters["cell"] = _cell
    return env


def render(template: str, **context: Any) -> str:
    """Render one of :data:`TEMPLATES` (by key) or a template file name; a missing value is an error."""
    name = TEMPLATES.get(template, template)
    if not (TEMPLATES_DIR / name).is_file():
        raise ParameterError("template", template, ", ".join([*TEMPLATES, DRAFT_TEMPLATE]))
    return _environment().get_template(name).render(**context)


def _context(incident: Incident, *, severity: str | None, now: datetime, started_at: datetime | None,
             description: str | None) -> dict:
    start = started_at or incident.first_run_at
    end = incident.resolved_at
    return {
        "severity": severity or incident.severity or TO_FILL,
        "description": description or incident.description(),
        "status": incident.status,
        "resolved": end is not None,
        "start_time": _hm(start),
        "end_time": _hm(end),
        "duration": _duration(((end or now) - start) if start else None),
        "impact": incident.current_impact(),
        "initial_impact": incident.initial_impact(),
        "detailed_impact": incident.detailed_impact(),
        "actions": incident.progress(),
        "progress": incident.progress(),
        "next_steps": incident.next_steps(),
        "eta": TO_FILL if end is None else "resolved",
        "root_cause": TO_FILL,
        "resolution": incident.resolution(),
        "action_items": TO_FILL,
    }


def communications(incident: Incident, *, now: datetime, severity: str | None = None,
                   started_at: datetime | None = None, description: str | None = None) -> dict[str, str]:
    """The runbook's three messages (incident-start, status-update, post-mortem) filled from ``incident``."""
    context = _context(incident, severity=severity, now=now, started_at=started_at, description=description)
    start_context = dict(context, impact=context["initial_impact"])
    return {"incident-start": render("incident-start", **start_context),
            "status-update": render("status-update", **context),
            "post-mortem": render("post-mortem", **context)}


# -- timeline ----------------------------------------------------------------------------------------
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
                                                        (e.get("operator") or {}).get("user"), files=files)))
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
                                                           a.operator.get("local_user"), audit_id=a.id)))
    return [entry for _, entry in sorted(rows, key=lambda r: r[0])]


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


# -- evidence and the draft --------------------------------------------------------------------------
def verify(incident: Incident) -> list[FileCheck]:
    """The sha256 of every archived file of the incident's runs, recomputed (see ``runbook runs verify``)."""
    if incident.archive is None:
        return []
    return verify_entries(incident.archive, _evidence_entries(incident))


SHARED = "(shared)"


def _evidence_entries(incident: Incident) -> list[dict]:
    """Each run with its own files, then one pseudo-entry ``(shared)`` with the archive assets (plotly.js,
    styles) its runs load, each once."""
    own = [{"id": e["id"], "files": {k: f for k, f in e.get("files", {}).items() if not k.startswith("asset:")}}
           for e in incident.entries]
    shared = {k: f for e in incident.entries for k, f in e.get("files", {}).items() if k.startswith("asset:")}
    return own + ([{"id": SHARED, "files": shared}] if shared else [])


def _verification_text(checks: list[FileCheck]) -> str:
    if not checks:
        return "no archived files to verify"
    bad = [c for c in checks if c.status != "ok"]
    if not bad:
        return f"yes: all {len(checks)} files match their recorded sha256"
    return (f"NO: {len(bad)} of {len(checks)} files changed or missing ("
            + ", ".join(f"{c.kind} of run {c.run_id} {c.status}" for c in bad) + ")")


def draft(incident: Incident, *, now: datetime, severity: str | None = None, started_at: datetime | None = None,
          description: str | None = None, checks: list[FileCheck] | None = None) -> str:
    """The post-mortem draft (markdown): the filled message, the timeline linked to the archived
    .ipynb/.html with their sha256, and whether the evidence verified."""
    if not incident.entries:
        raise ParameterError("incident_id", incident.id, "an incident with runs in the archive (runbook run --incident ID)")
    checks = verify(incident) if checks is None else checks
    by_file = {(c.run_id, c.kind): c.status for c in checks}
    context = _context(incident, severity=severity, now=now, started_at=started_at, description=description)
    evidence = [{"run_id": e["id"], "kind": kind, "path": f["path"], "sha256": f["sha256"],
                 "verified": by_file.get((e["id"], kind), "not checked")}
                for e in _evidence_entries(incident) for kind, f in sorted(e.get("files", {}).items())]
    return render(DRAFT_TEMPLATE, incident_id=incident.id, runs=incident.entries, audited=incident.actions,
                  archive=incident.location, message=render("post-mortem", **context).strip(),
                  timeline=timeline(incident), evidence=evidence, verification=_verification_text(checks), **context)


def incident_check(incident: Incident) -> Check:
    """``incident-runs``: warn while the incident's runs still fail (or none are found), ok otherwise."""
    if incident.id is None:
        return Check.ok("incident-runs", "no incident given: the templates show placeholders", runs=0)
    figures = {"incident_id": incident.id, "runs": len(incident.entries), "actions": len(incident.actions),
               "status": incident.status, "still_failing": incident.still_failing}
    if not incident.entries:
        return Check.warn("incident-runs", f"no runs tagged {incident.id} in {incident.location}", **figures)
    if incident.still_failing:
        return Check.warn("incident-runs", f"{incident.id}: {len(incident.entries)} runs, {incident.status}; still "
                          f"failing: {', '.join(incident.still_failing)}", **figures)
    return Check.ok("incident-runs", f"{incident.id}: {len(incident.entries)} runs, {incident.status}", **figures)


def evidence_check(checks: list[FileCheck]) -> Check:
    """``evidence``: fail when an archived file of the incident changed or is missing."""
    bad = [c for c in checks if c.status != "ok"]
    figures = {"files": len(checks), "changed_or_missing": len(bad)}
    if bad:
        return Check.fail("evidence", _verification_text(checks), **figures)
    return Check.ok("evidence", _verification_text(checks), **figures)
