"""``runbook drill``: the drills named (or all) on a sandbox profile, then the archived scorecard."""
from __future__ import annotations

import os
from datetime import datetime, timezone
from typing import Callable

from ..errors import ParameterError
from .catalog import select
from .rehearse import ControlledSandbox, DrillResult, rehearse, subprocess_runner
from .scorecard import archive_scorecard


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _open_drill_archive(target: str | None, profile: str):
    from ..runner.archive import archive_for
    return archive_for(target, profile)


def drill(names: tuple[str, ...] | list[str], *, every: bool = False, profile: str = "sandbox",
          archive_target: str | None = None, jobs: int = 3, clock: Callable[[], datetime] = _utcnow,
          progress: Callable[[DrillResult], None] | None = None):
    """Rehearse the drills on the background sandbox of ``profile`` (started for the drills and stopped
    after them when none was running) and archive the scorecard. Returns (results, scorecard entry)."""
    from ..config import load_profile
    from ..connection import SANDBOX
    from ..runner import context
    from ..runner.scrub import scrubber
    from ..sandbox import control

    prof = load_profile(profile)
    if prof.aws.endpoint_url != SANDBOX:
        raise ParameterError("--profile", profile, "a sandbox profile: a drill injects faults into the sandbox")
    drills = select(list(names), every=every)
    archive = _open_drill_archive(archive_target, profile)
    started = clock()
    ours = control.running() is None
    if ours:
        control.up(profile=profile)
    try:
        results = rehearse(drills, sandbox=ControlledSandbox(),
                           run_many=subprocess_runner(profile=profile, archive=archive.location, jobs=jobs),
                           progress=progress)
        operator = context.operator(profile)
    finally:
        if ours:
            control.down()
    entry = archive_scorecard(results, archive=archive, profile=prof.name, clock=clock, started=started,
                              operator=operator,
                              git_revision=context.git_revision(os.path.dirname(__file__)), host=context.host(),
                              scrubber=scrubber(profile=prof))
    return results, entry
