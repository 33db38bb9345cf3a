"""What ``runbook run``, ``runbook run --all`` and ``runbook doctor`` do, as library calls: the CLI parses its
arguments and makes one call here.

:func:`run` checks the parameters and the preflight (either failing raises before any kernel starts: exit 2),
then runs the notebook headless and archives it (:func:`opslib.runner.execute.run_notebook`).
:func:`run_all` runs every read-only notebook, each in a ``runbook run`` child process, a few at a time;
SIGINT/SIGTERM are passed on to the running children (each archives what it ran as interrupted) and no more
are started. :func:`doctor` is the preflight on its own."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterable

from ..config import load_profile, profile_reference
from ..errors import ParameterError, PreflightError
from ..exitcodes import worst
from .manifest import RunEntry

__all__ = ["run", "run_all", "doctor", "Batch", "BatchRun"]


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _self_command() -> list[str]:
    """How to call the ``runbook`` CLI again in a child process (same interpreter, same environment)."""
    return [sys.executable, "-c", "from opslib.cli import run; run()"]


def _check_parameter_domains(info, values: dict, prof) -> None:
    """The values given against the domains the notebook's metadata declares (ParameterError)."""
    from .domains import check_notebook_values
    check_notebook_values(info, values, prof)


def _run_preflight(prof, info, values: dict, *, archive=None, notify_targets: Iterable[str] = (), connect=None):
    """What ``info`` needs, checked before its kernel starts; a PreflightError (exit 2) if anything fails.
    ``connect`` builds the preflight's :class:`~opslib.connection.Ops` (default: a new one)."""
    from .preflight import needs_of, preflight
    defaults = {n: p.default for n, p in info.parameters.items()}
    report = preflight(prof, needs=needs_of(info.needs, values, defaults), archive=archive,
                       notify_targets=list(notify_targets), connect=connect)
    if not report.ok:
        raise PreflightError(report)
    return report


def run(notebook: str, *, profile: str, pairs: Iterable[str] = (), param_file: str | None = None,
        incident: str | None = None, archive: str | None = None, notify_targets: Iterable[str] = (),
        job: str | None = None, timeout: float | None = None, clock: Callable[[], datetime] = _utcnow,
        on_start: Callable[[Any, Any], None] | None = None) -> RunEntry:
    """``runbook run NOTEBOOK``: ``pairs`` are ``NAME=VALUE`` texts, ``param_file`` a YAML mapping (its values
    first, ``pairs`` over them). Bad input (profile, notebook, parameters, ``--notify``) raises ProfileError /
    ParameterError, a failed preflight PreflightError, all before any kernel starts. ``on_start(info, profile)``
    is called just before the kernel starts. Returns the archived run's manifest entry."""
    from ..notify import endpoints, notify
    from . import context
    from .archive import archive_for
    from .catalog import resolve
    from .execute import run_notebook
    from .manifest import filter_entries
    from .params import load_parameter_file, parse_assignments, validate_parameters
    from .scrub import scrubber

    notify_targets = list(notify_targets)
    prof = load_profile(profile)
    info = resolve(notebook)
    values: dict = {}
    if param_file:
        values.update(validate_parameters(info.parameters, load_parameter_file(param_file)))
    text_values = parse_assignments(pairs)
    values.update(validate_parameters(info.parameters, text_values, from_text=text_values))
    _check_parameter_domains(info, values, prof)
    targets = endpoints(prof, notify_targets)
    profile_arg = profile_reference(profile)
    store = archive_for(archive, profile_arg)
    opened: dict = {}

    def connect_once(_profile):
        """One Ops (boto3 session, STS client, the caller identity read once) for the preflight and the operator:
        each new one costs a profile load, a boto3 Session and its clients' service models."""
        if "ops" not in opened:
            from ..connection import connect
            opened["ops"] = connect(prof)
        return opened["ops"]

    _run_preflight(prof, info, values, archive=store, notify_targets=notify_targets, connect=connect_once)
    job = job or f"{info.name}@{prof.name}"
    scrub = scrubber(profile=prof, extra=[t.url for t in targets] + [t.routing_key for t in targets if t.routing_key])

    def send(entry):
        if not targets:
            return []
        previous = filter_entries(store.manifest(), job=job)
        return notify(entry.to_dict(), targets, previous=previous[-1] if previous else None)

    if on_start is not None:
        on_start(info, prof)
    return run_notebook(info, profile=profile_arg, profile_name=prof.name, archive=store, clock=clock,
                        parameters=values, incident_id=incident, job=job, timeout=timeout,
                        operator=context.operator(profile_arg, connect=connect_once), git_revision=context.git_revision(info.path),
                        host=context.host(), scrubber=scrub, notify=send)


@dataclass(frozen=True)
class BatchRun:
    """One notebook of :func:`run_all` as it finished: ``entry`` is its manifest entry (None: it did not run)."""
    notebook: str
    exit_code: int
    seconds: float
    entry: dict | None = None
    problem: str = ""

    @property
    def status(self) -> str:
        return self.entry["status"] if self.entry else "not run"

    @property
    def where(self) -> str:
        return self.entry["files"]["html"]["path"] if self.entry else self.problem


@dataclass
class Batch:
    """The outcome of :func:`run_all`: every run, and the exit code (the worst, or 128 + a signal)."""
    runs: list[BatchRun] = field(default_factory=list)
    stopped: int | None = None

    @property
    def entries(self) -> list[dict]:
        return sorted((r.entry for r in self.runs if r.entry), key=lambda e: e["notebook"])

    @property
    def exit_code(self) -> int:
        return self.stopped if self.stopped else worst(r.exit_code for r in self.runs)

    def summary(self) -> str:
        counts: dict[str, int] = {}
        for r in self.runs:
            counts[r.status] = counts.get(r.status, 0) + 1
        return f"{len(self.runs)} runs: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))


def run_all(profile: str, *, incident: str | None = None, archive: str | None = None, jobs: int = 2,
            timeout: float | None = None, announce: Callable[[int], None] | None = None,
            progress: Callable[[int, int, BatchRun], None] | None = None) -> Batch:
    """``runbook run --all``: every read-only notebook, ``jobs`` at a time, each a ``runbook run`` child;
    ``announce(total)`` before the first starts, ``progress(done, total, run)`` after each. A SIGINT/SIGTERM is passed on to the running children, which
    archive what they ran as interrupted; nothing more is started and the batch exits 128 + the signal."""
    from .catalog import discover
    load_profile(profile)
    notebooks = [n for n in discover() if n.read_only]
    if not notebooks:
        raise ParameterError("--all", "(no read-only notebooks)", "notebooks whose metadata has opslib.read_only: true")
    if announce is not None:
        announce(len(notebooks))
    lock, children, stopped = threading.Lock(), set(), []

    def one(info):
        cmd = _self_command() + ["run", str(info.path), "--profile", profile, "--json"]
        for flag, value in (("--incident", incident), ("--archive", archive), ("--timeout", timeout)):
            if value:
                cmd += [flag, str(value)]
        started = time.monotonic()
        with lock:
            if stopped:                   # SIGINT/SIGTERM came: notebooks not started yet are not started
                return BatchRun(info.name, stopped[0], 0.0, problem="not started: stopped")
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            children.add(proc)
        out, err = proc.communicate()
        children.discard(proc)
        seconds = time.monotonic() - started
        try:
            entry = json.loads(out)
            entry["status"], entry["files"]["html"]["path"]       # noqa: B018 - a complete entry or not run
        except (ValueError, KeyError, TypeError):
            return BatchRun(info.name, proc.returncode, seconds, problem=(err.strip().splitlines() or ["?"])[-1])
        return BatchRun(info.name, proc.returncode, seconds, entry=entry)

    def forward(signum, frame):
        with lock:
            stopped.append(128 + signum)
            for child in children:
                child.send_signal(signum)

    batch = Batch()
    saved = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = [pool.submit(one, info) for info in notebooks]
            for done, future in enumerate(as_completed(futures), 1):
                batch.runs.append(future.result())
                if progress is not None:
                    progress(done, len(notebooks), batch.runs[-1])
    finally:
        for s, old in saved.items():
            signal.signal(s, old)
    batch.stopped = stopped[0] if stopped else None
    return batch


def doctor(profile: str, *, notebook: str | None = None, archive: str | None = None,
           notify_targets: Iterable[str] = ()):
    """``runbook doctor``: the preflight report of what ``notebook`` needs (default: AWS and both databases)."""
    from .archive import archive_for
    from .preflight import needs_of, preflight
    prof = load_profile(profile)
    needs = ["aws", "warehouse", "database"]
    if notebook:
        from .catalog import resolve
        info = resolve(notebook)
        needs = needs_of(info.needs, {}, {n: p.default for n, p in info.parameters.items()})
    return preflight(prof, needs=needs, archive=archive_for(archive, profile_reference(profile)),
                     notify_targets=list(notify_targets))
