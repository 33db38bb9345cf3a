"""``runbook lab [--incident ID]`` and ``runbook incident archive ID``: JupyterLab on an incident workspace
(copies of the notebooks, see :mod:`opslib.runner.workspace`) whose executed notebooks become runs."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import datetime, timezone

import click

from ..config import load_profile
from ..notebook import LAB_PROFILE_ENV
from .run_cmd import _archive


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _workspace(archive, incident: str | None):
    from ..runner.context import local_user
    from ..runner.workspace import workspace_dir
    return workspace_dir(archive, incident or f"lab-{local_user()}")


def archive_now(folder, archive, profile: str) -> list:
    """Archive the workspace's executed notebooks as interactive runs; prints one line per run."""
    from ..runner import context
    from ..runner.execute import new_run_id
    from ..runner.scrub import scrubber
    from ..runner.workspace import archive_workspace
    if not folder.is_dir():
        return []
    entries = archive_workspace(folder, archive, clock=_utcnow, operator=context.operator(profile),
                                host=context.host(), git_revision=context.git_revision(folder),
                                scrubber=scrubber(profile=load_profile(profile)), new_id=new_run_id)
    for e in entries:
        click.echo(f"archived {e.notebook} ({e.mode}) as run {e.id}: {e.status}  {e.files['html']['path']}", err=True)
    if not entries:
        click.echo(f"nothing new to archive in {folder}", err=True)
    return entries


def serve(cmd: list[str], env: dict) -> int:
    """Run JupyterLab as a child, forwarding SIGINT/SIGTERM/SIGHUP to it (so stopping `runbook lab` stops
    the server), and return its exit code once it has stopped."""
    proc = subprocess.Popen(cmd, env=env)
    forwarded = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    saved = {s: signal.signal(s, lambda signum, frame: proc.send_signal(signum)) for s in forwarded}
    try:
        return proc.wait()
    finally:
        for s, old in saved.items():
            signal.signal(s, old)


def register(group: click.Group) -> None:
    @group.command("lab")
    @click.option("--profile", default=lambda: os.environ.get("OPSLIB_PROFILE", "sandbox"))
    @click.option("--incident", help="incident id: work in ARCHIVE/workspaces/ID with incident_id pre-filled")
    @click.option("--archive", "archive_target", help="archive folder or s3://bucket/prefix [default: runs/]")
    @click.option("--port", type=int, default=8888, show_default=True)
    @click.option("--dry-run", is_flag=True, help="print the command and environment instead of starting")
    def lab_command(profile, incident, archive_target, port, dry_run):
        """JupyterLab on a workspace of notebook copies (the tracked notebooks are never written), kernels on
        PROFILE; the sandbox is started first for sandbox profiles. When JupyterLab stops, every executed
        workspace notebook is archived as a run of its own (mode interactive)."""
        from ..connection import SANDBOX
        from ..runner.catalog import discover
        from ..runner.workspace import prepare_workspace
        prof = load_profile(profile)
        archive = _archive(archive_target, profile)
        folder = _workspace(archive, incident)
        env = dict(os.environ, OPSLIB_PROFILE=profile, **{LAB_PROFILE_ENV: profile})
        if archive_target:
            env["OPSLIB_ARCHIVE"] = archive_target        # actions audit into this archive's audit/
        cmd = [sys.executable, "-m", "jupyterlab", f"--notebook-dir={folder}", f"--port={port}"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")    # containers and CI machines run as root
        needs_sandbox = prof.aws.endpoint_url == SANDBOX
        if dry_run:
            click.echo(" ".join(cmd))
            click.echo(f"{LAB_PROFILE_ENV}={profile} OPSLIB_PROFILE={profile}" + ("  (starts the sandbox first)"
                                                                                 if needs_sandbox else ""))
            return 0
        prepared = prepare_workspace(folder, discover(), profile=profile, incident_id=incident,
                                     archive=archive.location)
        click.echo(f"workspace {folder}: {len(prepared.created)} notebooks copied, {len(prepared.kept)} kept", err=True)
        if needs_sandbox:
            from ..sandbox import control
            state = control.up()          # the running sandbox, or a new one
            click.echo(f"sandbox: AWS {state.aws_endpoint}, clock {state.now}", err=True)
        code = serve(cmd, env)
        archive_now(folder, archive, profile)
        return code


def register_incident(incident_group: click.Group) -> None:
    @incident_group.command("archive")
    @click.argument("incident_id")
    @click.option("--archive", "archive_target", help="archive folder or s3://bucket/prefix [default: runs/]")
    @click.option("--profile", default=lambda: os.environ.get("OPSLIB_PROFILE", "sandbox"))
    def incident_archive(incident_id, archive_target, profile):
        """Archive every executed notebook of INCIDENT_ID's lab workspace as a run (mode interactive)."""
        archive = _archive(archive_target, profile)
        archive_now(_workspace(archive, incident_id), archive, profile)
        return 0
