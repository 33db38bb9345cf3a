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

One module per concern: :mod:`.loader` (the incident from the archive), :mod:`.templates` (the
communication templates), :mod:`.timeline`, :mod:`.draft` (the post-mortem draft and the checks).
"""
from __future__ import annotations

from .draft import draft, draft_incident, evidence_check, incident_check, verify
from .loader import TO_FILL, Incident, default_archive, incident_from, known_incidents, load_incident, require_incident
from .templates import communications, render
from .timeline import TimelineEntry, timeline, timeline_frame, timeline_json, timeline_table, timeline_text

__all__ = ["TO_FILL", "Incident", "TimelineEntry", "load_incident", "require_incident", "incident_from",
           "known_incidents", "default_archive", "communications", "render", "timeline", "timeline_frame",
           "timeline_table", "timeline_json", "timeline_text", "verify", "draft", "draft_incident", "incident_check",
           "evidence_check"]
