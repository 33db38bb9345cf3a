"""``runbook incident timeline | postmortem | escalation``: an incident's archived runs as a timeline,
a post-mortem draft, and where it stands in the escalation matrix."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import click

from ..errors import ParameterError
from ._options import archive_for as _archive, archive_option, profile_option


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _incident(incident_id: str, archive_target: str | None, profile: str, audit: str | None, *, required: bool = True):
    from ..sections.postmortem import known_incidents, load_incident
    archive = _archive(archive_target, profile)
    incident = load_incident(incident_id, archive, audit_directory=audit)
    if required and not incident.entries:
        known = known_incidents(archive)
        raise ParameterError("INCIDENT_ID", incident_id, (", ".join(known) if known else "(no incident in the archive)")
                             + f" (runs tagged with --incident in {archive.location})")
    return incident


def _now(incident) -> datetime:
    from ..sections.escalation import evaluation_time
    return evaluation_time(_utcnow(), [incident.last_evidence_at])[0]


def register(group: click.Group) -> None:
    @group.group("incident")
    def incident_group():
        """An incident's runs (tagged with `runbook run --incident ID`): timeline, post-mortem, escalation."""

    from .lab_cmd import register_incident
    register_incident(incident_group)        # `runbook incident archive ID`: the lab workspace's runs

    archive_opt = archive_option("archive folder or s3://bucket/prefix [default: runs/]")
    profile_opt = profile_option("profile whose S3 client reads an s3:// archive (and whose escalation matrix applies)")
    audit_opt = click.option("--audit", "audit", type=click.Path(),
                             help="audit log folder [default: ARCHIVE/audit for a folder archive]")

    @incident_group.command("timeline")
    @click.argument("incident_id")
    @archive_opt
    @profile_opt
    @audit_opt
    @click.option("--json", "as_json", is_flag=True, help="the timeline as JSON")
    def timeline_command(incident_id, archive_target, profile, audit, as_json):
        """Every run and audited action of INCIDENT_ID in time order, with status and failing findings."""
        from ..sections.postmortem import timeline, timeline_json
        incident = _incident(incident_id, archive_target, profile, audit)
        if as_json:
            click.echo(timeline_json(incident))
            return 0
        click.echo(f"incident {incident.id}: {incident.status}, {len(incident.entries)} runs, "
                   f"{len(incident.actions)} actions ({incident.location})")
        for t in timeline(incident):
            ref = t.files.get("html", {}).get("path") or t.audit_id or ""
            click.echo(f"{t.time_text}Z  {t.kind:<6} {t.what:<28} {t.status:<8} {t.detail}  {ref}".rstrip())
        return 0

    @incident_group.command("postmortem")
    @click.argument("incident_id")
    @archive_opt
    @profile_opt
    @audit_opt
    @click.option("--severity", help="SEV1..SEV4 [default: the incident's escalation run, else [to fill in]]")
    @click.option("--out", "out", type=click.Path(dir_okay=False), help="write the draft here instead of stdout")
    @click.option("--force", is_flag=True, help="overwrite --out if it exists")
    def postmortem_command(incident_id, archive_target, profile, audit, severity, out, force):
        """A post-mortem draft (markdown) of INCIDENT_ID linked to the archived evidence, hashes verified."""
        from ..config import load_profile
        from ..sections.escalation import severities
        from ..sections.postmortem import draft
        if severity is not None:
            allowed = severities(load_profile(profile))
            if severity not in allowed:
                raise ParameterError("--severity", severity, ", ".join(allowed))
        if out and Path(out).exists() and not force:
            raise ParameterError("--out", out, "a file that does not exist yet (or add --force to overwrite it)")
        incident = _incident(incident_id, archive_target, profile, audit)
        text = draft(incident, now=_now(incident), severity=severity)
        if out:
            Path(out).write_text(text, encoding="utf-8")
            click.echo(f"wrote {out}", err=True)
        else:
            click.echo(text, nl=False)
        return 0

    @incident_group.command("escalation")
    @click.argument("incident_id", required=False)
    @click.option("--severity", default="SEV2", show_default=True)
    @click.option("--started-at", help="ISO time (UTC if no zone) [default: the incident's first run, else now]")
    @archive_opt
    @profile_opt
    @audit_opt
    @click.option("--json", "as_json", is_flag=True)
    def escalation_command(incident_id, severity, started_at, archive_target, profile, audit, as_json):
        """Who must be engaged now for an incident of SEVERITY, and when the next escalation is due."""
        from ..config import load_profile
        from ..sections.escalation import assess, evaluation_time, parse_time
        prof = load_profile(profile)
        incident = _incident(incident_id, archive_target, profile, audit) if incident_id else None
        now, note = evaluation_time(_utcnow(), [incident.last_evidence_at] if incident else [])
        start = parse_time(started_at, name="--started-at") or (incident.first_run_at if incident else None) or now
        status = assess(prof, severity, started_at=start, now=now,
                        responded_at=incident.first_run_at if incident else None,
                        resolved_at=incident.resolved_at if incident else None, notes=[note] if note else [])
        check = status.to_check()
        if as_json:
            click.echo(json.dumps(check.to_dict(), indent=2, sort_keys=True))
        else:
            click.echo(status.summary())
        return {"ok": 0, "warn": 0, "fail": 1}[check.status]
