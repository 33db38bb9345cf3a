"""Rehearse drills on a sandbox: reset, inject, run the drill's runbooks, judge them, reset.

The sandbox is anything with ``inject(scenario) -> dict`` and ``reset()``: the in-process
:class:`opslib.sandbox.core.Sandbox` (tests) or :class:`ControlledSandbox` (the background sandbox of
``runbook sandbox up``). Runbooks run through ``run_many``, which takes ``[(notebook, parameters, job)]``
and returns ``[(manifest entry or None, error text)]`` in the same order: :func:`subprocess_runner`
runs them as ``runbook run --json`` processes, concurrently, as a scheduler would.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

from .catalog import Drill
from .check import RunbookResult, judge

Job = tuple[str, dict, str]
Outcome = tuple["dict | None", str]
RunMany = Callable[[Sequence[Job]], list[Outcome]]


@dataclass(frozen=True)
class DrillResult:
    scenario: str
    runbooks: list = field(default_factory=list)     # RunbookResult, one per runbook of the drill
    seconds: float = 0.0
    injected: dict = field(default_factory=dict)
    error: str = ""                                   # the injection or a reset failed
    note: str = ""

    @property
    def detected(self) -> bool:
        return not self.error and bool(self.runbooks) and all(r.detected for r in self.runbooks)

    def to_dict(self) -> dict:
        return {"scenario": self.scenario, "detected": self.detected, "seconds": round(self.seconds, 1),
                "error": self.error, "note": self.note, "injected": self.injected,
                "runbooks": [r.to_dict() for r in self.runbooks]}


class ControlledSandbox:
    """The background sandbox (``runbook sandbox up``) through its control server."""

    def __init__(self, directory: Any = None):
        self.directory = directory

    def inject(self, scenario: str) -> dict:
        from ..sandbox import control
        return control.inject(scenario, self.directory)["details"]

    def reset(self) -> None:
        from ..sandbox import control
        control.reset(self.directory)


def job_name(scenario: str) -> str:
    return f"drill:{scenario}"


def rehearse_one(drill: Drill, *, sandbox: Any, run_many: RunMany, clock: Callable[[], float] = time.monotonic,
                 reset_after: bool = True) -> DrillResult:
    """Inject ``drill``'s fault into a healthy sandbox, run its runbooks together, judge them, reset."""
    started = clock()
    try:
        try:
            injected = sandbox.inject(drill.scenario)
        except Exception as exc:       # noqa: BLE001 - any failure to inject is the drill's result, not a crash
            return DrillResult(drill.scenario, seconds=clock() - started, error=f"inject failed: {exc}",
                               note=drill.note)
        jobs = [(e.notebook, dict(e.parameters), job_name(drill.scenario)) for e in drill.expects]
        outcomes = run_many(jobs)
        runbooks = [judge(e, entry, injected, error=err) for e, (entry, err) in zip(drill.expects, outcomes)]
        return DrillResult(drill.scenario, runbooks, clock() - started, injected, note=drill.note)
    finally:
        if reset_after:
            sandbox.reset()


def rehearse(drills: Iterable[Drill], *, sandbox: Any, run_many: RunMany, clock: Callable[[], float] = time.monotonic,
             progress: Callable[[DrillResult], None] | None = None) -> list[DrillResult]:
    """Every drill in turn on a sandbox reset to healthy first and after each drill."""
    sandbox.reset()
    results = []
    for drill in drills:
        result = rehearse_one(drill, sandbox=sandbox, run_many=run_many, clock=clock)
        results.append(result)
        if progress:
            progress(result)
    return results


def _parameter_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def subprocess_runner(*, profile: str, archive: str | None, jobs: int = 3, timeout: float = 900,
                      environ: dict | None = None) -> RunMany:
    """Runs each job as ``runbook run NOTEBOOK --json`` (same interpreter), ``jobs`` at a time."""
    def one(job: Job) -> Outcome:
        notebook, parameters, name = job
        cmd = [sys.executable, "-c", "from opslib.cli import run; run()", "run", notebook, "--profile", profile,
               "--json", "--job", name]
        if archive:
            cmd += ["--archive", str(archive)]
        for key, value in parameters.items():
            cmd += ["-p", f"{key}={_parameter_text(value)}"]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                                  env=dict(environ if environ is not None else os.environ))
        except subprocess.TimeoutExpired:
            return None, f"{notebook} ran longer than {timeout:g}s"
        try:
            return json.loads(proc.stdout), ""
        except ValueError:
            tail = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}, no output"])[-1]
            return None, f"{notebook} did not run: {tail}"

    def run_many(batch: Sequence[Job]) -> list[Outcome]:
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            return list(pool.map(one, batch))
    return run_many


__all__ = ["ControlledSandbox", "DrillResult", "RunbookResult", "job_name", "rehearse", "rehearse_one",
           "subprocess_runner"]
