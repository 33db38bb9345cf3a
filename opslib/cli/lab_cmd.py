"""``runbook lab [--incident ID]`` and ``runbook incident archive ID``: JupyterLab on an incident workspace
(copies of the notebooks, see :mod:`opslib.runner.lab`) whose executed notebooks become runs."""
from __future__ import annotations

import click

from ._options import profile_option


def _say(text: str) -> None:
    click.echo(text, err=True)


def register(group: click.Group) -> None:
    @group.command("lab")
    @profile_option("profile name (parameters/NAME.yaml) or YAML file")
    @click.option("--incident", help="incident id: work in ARCHIVE/workspaces/ID with incident_id pre-filled")
    @click.option("--archive", "archive_target", help="archive folder or s3://bucket/prefix [default: runs/]")
    @click.option("--port", type=int, default=8888, show_default=True)
    @click.option("--dry-run", is_flag=True, help="print the command and environment instead of starting")
    def lab_command(profile, incident, archive_target, port, dry_run):
        """JupyterLab on a workspace of notebook copies (the tracked notebooks are never written), kernels on
        PROFILE; the sandbox is started first for sandbox profiles. When JupyterLab stops, every executed
        workspace notebook is archived as a run of its own (mode interactive)."""
        from ..runner import lab
        session = lab.plan(profile, incident=incident, archive=archive_target, port=port)
        if dry_run:
            click.echo(session.describe())
            return 0
        return lab.start(session, say=_say)


def register_incident(incident_group: click.Group) -> None:
    @incident_group.command("archive")
    @click.argument("incident_id")
    @click.option("--archive", "archive_target", help="archive folder or s3://bucket/prefix [default: runs/]")
    @profile_option("profile name (parameters/NAME.yaml) or YAML file")
    def incident_archive(incident_id, archive_target, profile):
        """Archive every executed notebook of INCIDENT_ID's lab workspace as a run (mode interactive)."""
        from ..runner.lab import archive_incident
        archive_incident(incident_id, profile=profile, archive=archive_target, say=_say)
        return 0
