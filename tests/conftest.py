"""Shared fixtures. The sandbox runs in-process (threads: moto server, health server, scheduler) in a
temporary folder; its state file is found through $OPSLIB_SANDBOX_DIR, so notebooks run by papermill
in a separate kernel reach the same sandbox over HTTP."""
from __future__ import annotations

import os
from datetime import datetime, timezone

import pytest

from opslib.sandbox.core import Sandbox, SandboxConfig
from opslib.sandbox.daemon import start_control
from opslib.sandbox.state import SANDBOX_DIR_ENV

# A fixed clock: Wednesday 2026-11-25 12:00 UTC (tests reproduce the same data every run).
TEST_NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
TEST_SEED = 42


SANDBOX_FIXTURES = {"sandbox", "sb"}   # the session sandbox; a module's own moto server (``sb``)


def pytest_collection_modifyitems(config, items):
    """Tests that use the session sandbox (directly or through ``ops``/``healthy_sandbox``) or a moto
    server of their own are marked ``sandbox``, so ``make test-fast`` (``-m "not slow and not sandbox
    and not system_postgres"``) skips them."""
    for item in items:
        if SANDBOX_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.sandbox)


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
