"""``runbook lab``: JupyterLab on an incident workspace (copies of the notebooks, :mod:`.workspace`), kernels on
the profile, whose executed notebooks become runs of their own when JupyterLab stops.

:func:`plan` says what would start (the folder, the command, the environment JupyterLab gets); :func:`start`
prepares the workspace, starts the sandbox for a sandbox profile, runs JupyterLab in the foreground and
archives the workspace when it stops; :func:`archive_now` archives a workspace at any time."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from ..config import load_profile
from ..settings import LAB_PROFILE_ENV, PROFILE_ENV, child_environment
from .archive import Archive, archive_for

__all__ = ["Lab", "plan", "start", "archive_now", "archive_incident"]

Say = Callable[[str], None]


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _quiet(text: str) -> None:
    pass


def _workspace_for(archive: Archive, incident: str | None) -> Path:
    """The workspace folder of ``incident`` (without one: ``lab-<user>``) in ``archive``."""
    from .context import local_user
    from .workspace import workspace_dir
    return workspace_dir(archive, incident or f"lab-{local_user()}")


@dataclass(frozen=True)
class Lab:
    """What ``runbook lab`` starts: JupyterLab (``command``) on ``folder`` with ``env``."""
    profile: str
    incident: str | None
    archive: Archive
    folder: Path
    command: list[str]
    env: dict
    needs_sandbox: bool

    def describe(self) -> str:
        """The command and the settings JupyterLab's kernels get (``runbook lab --dry-run``)."""
        return (" ".join(self.command) + "\n" + f"{LAB_PROFILE_ENV}={self.profile} {PROFILE_ENV}={self.profile}"
                + ("  (starts the sandbox first)" if self.needs_sandbox else ""))


def plan(profile: str, *, incident: str | None = None, archive: str | None = None, port: int = 8888) -> Lab:
    """The lab session for ``profile``: kernels follow it ($OPSLIB_LAB_PROFILE, $OPSLIB_PROFILE), and with an
    explicit ``archive`` their actions audit into that archive's ``audit/`` ($OPSLIB_ARCHIVE)."""
    from ..connection import SANDBOX
    prof = load_profile(profile)
    store = archive_for(archive, profile)
    folder = _workspace_for(store, incident)
    env = child_environment(profile=profile, lab_profile=profile, archive=archive)
    cmd = [sys.executable, "-m", "jupyterlab", f"--notebook-dir={folder}", f"--port={port}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")    # containers and CI machines run as root
    return Lab(profile, incident, store, folder, cmd, env, needs_sandbox=prof.aws.endpoint_url == SANDBOX)


def _serve(cmd: list[str], env: dict) -> int:
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


def start(lab: Lab, *, say: Say = _quiet) -> int:
    """Prepare the workspace, start the sandbox if the profile needs it, run JupyterLab until it stops, then
    archive what was executed; JupyterLab's exit code."""
    from .catalog import discover
    from .workspace import prepare_workspace
    prepared = prepare_workspace(lab.folder, discover(), profile=lab.profile, incident_id=lab.incident,
                                 archive=lab.archive.location)
    say(f"workspace {lab.folder}: {len(prepared.created)} notebooks copied, {len(prepared.kept)} kept")
    if lab.needs_sandbox:
        from ..sandbox import control
        state = control.up()          # the running sandbox, or a new one
        say(f"sandbox: AWS {state.aws_endpoint}, clock {state.now}")
    code = _serve(lab.command, lab.env)
    archive_now(lab.folder, lab.archive, lab.profile, say=say)
    return code


def archive_now(folder: Path, archive: Archive, profile: str, *, say: Say = _quiet,
                clock: Callable[[], datetime] = _utcnow) -> list[Any]:
    """Archive the workspace's executed notebooks as interactive runs; ``say`` hears one line per run."""
    from . import context
    from .execute import new_run_id
    from .scrub import scrubber
    from .workspace import archive_workspace
    if not folder.is_dir():
        return []
    entries = archive_workspace(folder, archive, clock=clock, operator=context.operator(profile),
                                host=context.host(), git_revision=context.git_revision(folder),
                                scrubber=scrubber(profile=load_profile(profile)), new_id=new_run_id)
    for e in entries:
        say(f"archived {e.notebook} ({e.mode}) as run {e.id}: {e.status}  {e.files['html']['path']}")
    if not entries:
        say(f"nothing new to archive in {folder}")
    return entries


def archive_incident(incident: str, *, profile: str, archive: str | None = None, say: Say = _quiet) -> list[Any]:
    """``runbook incident archive ID``: archive the executed notebooks of ``incident``'s lab workspace."""
    store = archive_for(archive, profile)
    return archive_now(_workspace_for(store, incident), store, profile, say=say)
