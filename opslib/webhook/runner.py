"""A triage run through the ``runbook run`` code path, in a child process (its own kernel, its own
failures): ``runbook run NOTEBOOK --profile P --incident ID --archive A --json -p ...``."""
from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from typing import Sequence

from ..errors import RunError
from .routing import Triage


def _text(value: object) -> str:
    return str(value)


@dataclass(frozen=True)
class SubprocessRunner:
    profile: str
    archive: str
    timeout: float | None = None              # per cell, passed to --timeout
    deadline: float = 3600.0                  # the whole run, seconds: a hung run must not hold a worker forever
    command: Sequence[str] = (sys.executable, "-c", "from opslib.cli import run; run()")

    def argv(self, triage: Triage) -> list[str]:
        if triage.parameters.get("dry_run", True) is not True:
            raise RunError(f"refusing a triage with dry_run={triage.parameters['dry_run']!r}: triage is read-only")
        argv = [*self.command, "run", triage.notebook, "--profile", self.profile, "--incident", triage.incident_id,
                "--archive", self.archive, "--json", "--job", f"triage:{triage.notebook}@{triage.rule}"]
        if self.timeout:
            argv += ["--timeout", f"{self.timeout:g}"]
        for name, value in triage.parameters.items():
            argv += ["-p", f"{name}={_text(value)}"]
        return argv

    def __call__(self, triage: Triage) -> dict:
        """The run's manifest entry; RunError when the run did not produce one (bad input, crash)."""
        try:
            proc = subprocess.run(self.argv(triage), capture_output=True, text=True, check=False, timeout=self.deadline)
        except subprocess.TimeoutExpired as exc:
            raise RunError(f"runbook run {triage.notebook} ran longer than {self.deadline:g}s and was stopped") from exc
        try:
            entry = json.loads(proc.stdout)
        except ValueError:
            entry = None
        if not isinstance(entry, dict) or "id" not in entry:
            raise RunError(f"runbook run {triage.notebook} exited {proc.returncode} without a run: "
                           f"{proc.stderr.strip()[-800:]}")
        return entry
