"""Shared fixtures. The sandbox runs in-process (threads: moto server, health server, scheduler) in a
temporary folder; its state file is found through $OPSLIB_SANDBOX_DIR, so notebooks run by papermill
in a separate kernel reach the same sandbox over HTTP."""
from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest

from opslib.sandbox.core import Sandbox, SandboxConfig
from opslib.sandbox.daemon import start_control
from opslib.sandbox.state import SANDBOX_DIR_ENV
# the action tests' session fixtures, defined here once: imported into several test modules, each would get
# its own session-scoped instance (a second seeded moto server, a second seeded database)
from test_actions_env import act_moto, act_seed_db, act_server  # noqa: E402,F401

# A fixed clock: Wednesday 2026-11-25 12:00 UTC (tests reproduce the same data every run).
TEST_NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
TEST_SEED = 42


SANDBOX_FIXTURES = {"sandbox", "sb"}   # the session sandbox; a module's own moto server (``sb``)
# servers other than the sandbox that a test starts through a fixture: moto in a process of its own, an
# in-process moto for the S3 archive
SERVER_FIXTURES = {"act_moto", "act_server", "moto_url", "s3_client"}
TIERS = ("unit", "functional", "e2e")


def tier(item) -> str:
    """``e2e``: runs notebooks headless or the ``runbook`` command end to end (marked ``slow``: a kernel per
    run, servers such as JupyterLab or Airflow); ``functional``: talks to a sandbox, a moto server or a
    database server, without a kernel; ``unit``: neither (no kernel, no sandbox, no server)."""
    if item.get_closest_marker("slow"):
        return "e2e"
    if (item.get_closest_marker("sandbox") or item.get_closest_marker("system_postgres")
            or SERVER_FIXTURES & set(getattr(item, "fixturenames", ()))):
        return "functional"
    return "unit"


@contextmanager
def profile_sandbox(directory: Path, profile: str, *, events: int):
    """A sandbox seeded from ``profile`` as ``runbook sandbox up --profile FILE`` starts it (a background process:
    moto's backends are per process, and the session sandbox may be running in this one), $OPSLIB_SANDBOX_DIR
    pointing at it meanwhile; yields (Ops on it, its state)."""
    from opslib import connect
    from opslib.sandbox import control
    old = os.environ.get(SANDBOX_DIR_ENV)
    state = control.up(directory, seed=TEST_SEED, now=TEST_NOW, events=events, profile=profile)
    os.environ[SANDBOX_DIR_ENV] = str(directory)
    ops = connect(profile, sandbox_dir=str(directory))
    try:
        yield ops, state
    finally:
        ops.close()
        control.down(directory)
        if old is None:
            os.environ.pop(SANDBOX_DIR_ENV, None)
        else:
            os.environ[SANDBOX_DIR_ENV] = old


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory):
    """One sandbox for the session, healthy at the start of every test that uses ``healthy_sandbox``."""
    directory = tmp_path_factory.mktemp("sandbox")
    sb = Sandbox.start(SandboxConfig(dir=directory, seed=TEST_SEED, now=TEST_NOW, events=50_000))
    control = start_control(sb)          # so `runbook sandbox ...` and `runbook lab` reach it too
    sb.write_state(control_url=control.url)
    old = os.environ.get(SANDBOX_DIR_ENV)
    os.environ[SANDBOX_DIR_ENV] = str(directory)
    yield sb
    control.shutdown()
    sb.stop()
    if old is None:
        os.environ.pop(SANDBOX_DIR_ENV, None)
    else:
        os.environ[SANDBOX_DIR_ENV] = old


@pytest.fixture
def healthy_sandbox(sandbox):
    """The session sandbox, reset to healthy after the test if the test injected a fault or changed it."""
    yield sandbox
    sandbox.reset()


@pytest.fixture
def ops(sandbox):
    from opslib import connect
    handle = connect("sandbox", sandbox_dir=str(sandbox.config.dir))
    yield handle
    handle.close()


# -- healthy runs, shared between modules ---------------------------------------------------------------
#: modules that read ``healthy_runs`` (and so should share a worker's runs), one xdist group under
#: ``--dist loadgroup``; every other module is a group of its own (as ``--dist loadfile`` groups them)
HEALTHY_RUN_MODULES = {"test_notebooks_actions.py", "test_notebook_disaster_recovery.py",
                       "test_notebook_incident_response.py", "test_notebook_maintenance.py"}
#: the groups that take longest (minutes of notebook runs each, `--durations` of `make test`), in that order
LONGEST_FIRST = ("test_other_pipeline.py", "healthy-runs", "test_notebooks_sections_1_3.py", "test_init_sandbox.py",
                 "test_actions_safety.py", "test_schedules_sandbox.py")
#: runs that must find another notebook's run in their archive first: maintenance's weekly capacity review
#: is the performance-tuning run
RUN_AFTER = {"maintenance": ("performance-tuning",)}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Tests that use the session sandbox (directly or through ``ops``/``healthy_sandbox``) or a moto
    server of their own are marked ``sandbox``; every test gets its tier's marker (``unit``, ``functional``
    or ``e2e``, see :func:`tier`: ``make test-fast`` is ``-m unit``) and its xdist group (its module, or
    ``healthy-runs``); the longest groups are moved first. ``tryfirst``: xdist reads the groups in its own hook."""
    for item in items:
        if SANDBOX_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.sandbox)
        item.add_marker(getattr(pytest.mark, tier(item)))
        item.add_marker(pytest.mark.xdist_group(group(item)))
    # xdist hands out the groups in collection order: the longest first, so that no worker starts one of them last
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(group(item), len(rank)))


def group(item) -> str:
    module = item.path.name
    return "healthy-runs" if module in HEALTHY_RUN_MODULES else module


@dataclass
class HealthyRun:
    """One notebook's run with its default parameters on the healthy session sandbox."""
    rc: int
    entry: dict
    archive: Path                 # its archive (with its audit log)
    world_before: dict            # test_actions_env.snapshot of the sandbox before and after the run
    world_after: dict


class HealthyRuns:
    """Each notebook runs at most once per worker (a run costs seconds of CPU); ``get`` hands the same
    run to every test that asserts on it. The runs happen on the session sandbox as the tests find it
    (healthy: a test that changes it resets it), one at a time, the sandbox's state read before and after
    each."""

    def __init__(self, sandbox, root: Path):
        self.sandbox, self.root = sandbox, root
        self.runs: dict[str, HealthyRun] = {}

    def get(self, *notebooks: str) -> dict[str, HealthyRun]:
        from runbook_cli import finish, start
        from test_actions_env import snapshot
        from opslib import connect
        missing = [n for n in notebooks if n not in self.runs]
        if not missing:
            return {n: self.runs[n] for n in notebooks}
        waves: list[list[str]] = [[d for n in missing for d in RUN_AFTER.get(n, ()) if d not in self.runs],
                                  [n for n in missing]]
        ops = connect("sandbox", sandbox_dir=str(self.sandbox.config.dir))

        def world() -> dict:
            try:
                return snapshot(ops)
            finally:
                ops.close()      # no idle connection of ours in the runs' pg_stat_activity (golden outputs)

        before = world()
        for wave in waves:
            for n in dict.fromkeys(wave):        # one at a time: a run sees no other run's connections
                if n in self.runs:
                    continue
                archive = self.root / self._archive(n)
                rc, entry = finish(start(n, archive))
                after = world()
                self.runs[n] = HealthyRun(rc, entry, archive, before, after)
                before = after
        return {n: self.runs[n] for n in notebooks}

    def __getitem__(self, notebook: str) -> HealthyRun:
        return self.get(notebook)[notebook]

    @staticmethod
    def _archive(notebook: str) -> str:
        for later, first in RUN_AFTER.items():
            if notebook == later or notebook in first:
                return later
        return notebook


@pytest.fixture(scope="session")
def healthy_runs(sandbox, tmp_path_factory):
    """The shared healthy runs (see :class:`HealthyRuns`)."""
    return HealthyRuns(sandbox, tmp_path_factory.mktemp("healthy-runs"))
