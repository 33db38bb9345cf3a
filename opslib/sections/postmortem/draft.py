"""The post-mortem draft: the filled message, the timeline linked to the archived evidence and the
evidence verified; the incident's and the evidence's checks."""
from __future__ import annotations

import os
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ...errors import ParameterError
from ...findings import Check
from ...runner.verify import FileCheck, verify_entries
from ...runner.archive import Archive
from .loader import Incident, require_incident
from .templates import DRAFT_TEMPLATE, _context, render
from .timeline import timeline

if TYPE_CHECKING:
    from ...config import Profile

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


def draft_incident(incident_id: str, archive: "str | os.PathLike | Archive | None" = None, *, profile: "Profile",
                   clock_now: datetime, severity: str | None = None, s3_client: Any = None,
                   audit_directory: "str | os.PathLike | None" = None) -> str:
    """``runbook incident postmortem``: the :func:`draft` of an incident that must have runs
    (:func:`require_incident`), judged at ``clock_now`` but never before its latest run
    (:meth:`Incident.evaluated_at`). ``severity``: one of the profile's levels (:class:`ParameterError`
    ``severity`` otherwise), default the incident's escalation run's."""
    if severity is not None:
        allowed = [s.level for s in profile.severity_levels]
        if severity not in allowed:
            raise ParameterError("severity", severity, ", ".join(allowed))
    incident = require_incident(incident_id, archive, s3_client=s3_client, audit_directory=audit_directory)
    return draft(incident, now=incident.evaluated_at(clock_now), severity=severity)


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
