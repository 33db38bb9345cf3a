"""An incident as the evidence archive holds it: its runs (manifest entries tagged with its id) and the
audit records of those runs, and what they tell (status, impact, progress). Nothing is invented: what the
evidence cannot tell is :data:`TO_FILL`."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ...actions.audit import AuditLog, AuditRecord, audit_dir
from ...errors import ParameterError
from ...runner.archive import Archive, LocalArchive, open_archive
from ...runner.manifest import filter_entries
from ...settings import resolve_archive

TO_FILL = "[to fill in]"
#: notebooks whose runs describe the incident process, not the system: left out of status and impact
PROCESS_NOTEBOOKS = frozenset({"escalation"})
FAILED = frozenset({"fail", "error", "died", "timeout"})


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

    def evaluated_at(self, clock_now: datetime) -> datetime:
        """The time to judge the incident at: ``clock_now`` (the profile's clock), but never before its latest
        run (as :func:`opslib.sections.escalation.evaluation_time`: a run cannot end in the future)."""
        latest = self.last_evidence_at
        return latest if latest is not None and latest > clock_now else clock_now

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
    """$OPSLIB_ARCHIVE, else ``runs/`` beside ``parameters/`` (the one default: :func:`opslib.settings.resolve_archive`)."""
    return resolve_archive()


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


def require_incident(incident_id: str, archive: "str | os.PathLike | Archive | None" = None, *,
                     s3_client: Any = None, audit_directory: "str | os.PathLike | None" = None) -> Incident:
    """:func:`load_incident`, for an incident that must have runs in the archive: raises
    :class:`ParameterError` (``incident_id``) naming the incidents the archive knows when it has none."""
    incident = load_incident(incident_id, archive, s3_client=s3_client, audit_directory=audit_directory)
    if not incident.entries:
        known = known_incidents(incident.archive)
        raise ParameterError("incident_id", incident_id, (", ".join(known) if known else "(no incident in the archive)")
                             + f" (runs tagged with --incident in {incident.location})")
    return incident


def incident_from(ops: Any, incident_id: str | None, archive: "str | None" = None) -> Incident:
    """:func:`load_incident` with ``ops``'s S3 client for an ``s3://`` archive (the notebook's call)."""
    s3 = ops.client("s3") if str(archive or "").startswith("s3://") else None
    return load_incident(incident_id, archive, s3_client=s3)


def known_incidents(archive: Archive) -> list[str]:
    return sorted({e["incident_id"] for e in archive.manifest() if e.get("incident_id")})
