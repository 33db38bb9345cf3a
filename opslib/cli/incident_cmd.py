"""``runbook incident timeline | postmortem | escalation``: an incident's archived runs as a timeline,
a post-mortem draft, and where it stands in the escalation matrix."""
from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import click

from ..errors import ParameterError
from ._options import archive_for as _archive, archive_option, profile_option


#: the library's parameter names as this command's arguments and options (errors name what the user typed)
OPTION_NAMES = {"incident_id": "INCIDENT_ID", "severity": "--severity", "started_at": "--started-at"}


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


@contextmanager
def _named_as_options():
    """A :class:`ParameterError` of the library re-raised with the option's name (``--started-at``, not
    ``started_at``)."""
    try:
        yield
    except ParameterError as exc:
        if exc.name not in OPTION_NAMES:
            raise
        raise ParameterError(OPTION_NAMES[exc.name], exc.value, exc.allowed) from exc


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
        from ..sections.postmortem import require_incident, timeline_json, timeline_text
        with _named_as_options():
            incident = require_incident(incident_id, _archive(archive_target, profile), audit_directory=audit)
        click.echo(timeline_json(incident) if as_json else timeline_text(incident))
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
        from ..sections.postmortem import draft_incident
        if out and Path(out).exists() and not force:
            raise ParameterError("--out", out, "a file that does not exist yet (or add --force to overwrite it)")
        with _named_as_options():
            text = draft_incident(incident_id, _archive(archive_target, profile), profile=load_profile(profile),
                                  clock_now=_utcnow(), severity=severity, audit_directory=audit)
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
        from ..sections.escalation import for_incident
        from ..sections.postmortem import require_incident
        with _named_as_options():
            incident = (require_incident(incident_id, _archive(archive_target, profile), audit_directory=audit)
                        if incident_id else None)
            status = for_incident(load_profile(profile), severity, incident, clock_now=_utcnow(), started_at=started_at)
        check = status.to_check()
        if as_json:
            click.echo(json.dumps(check.to_dict(), indent=2, sort_keys=True))
        else:
            click.echo(status.summary())
        return {"ok": 0, "warn": 0, "fail": 1}[check.status]
