"""A run's kernel is forked from the runner (opslib.runner.forked_kernel): it shares what the runner imported, and
nothing else of it: its environment is the run's, the runner's open files are /dev/null to it, it has a session
of its own and the run's working folder. ``OPSLIB_KERNEL_FORK=0`` starts a new Python instead; a child that never
became a kernel exits and is reaped."""
from __future__ import annotations

import os
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from opslib.runner.archive import LocalArchive
from opslib.runner.catalog import resolve
from opslib.runner.execute import run_notebook
from opslib.runner.forked_kernel import Zygote, forkable
from opslib.settings import KERNEL_FORK_ENV

TOYS = Path(__file__).parent / "notebooks"
pytestmark = pytest.mark.slow


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _kernel_facts(tmp_path, **parameters) -> dict:
    entry = run_notebook(resolve(str(TOYS / "kernel.ipynb")), profile="sandbox", clock=_utcnow,
                         archive=LocalArchive(tmp_path / "archive"), parameters=parameters)
    assert entry.status == "ok", entry.error
    return entry.findings[0]["figures"]


@pytest.fixture
def started(monkeypatch) -> list:
    """The zygotes the runs of the test forked, in order."""
    zygotes, start = [], Zygote.start.__func__

    def recorded(cls, environ=None):
        zygote = start(cls, environ)
        if zygote is not None:
            zygotes.append(zygote)
        return zygote

    monkeypatch.setattr(Zygote, "start", classmethod(recorded))
    return zygotes


def test_the_kernel_is_forked_with_the_runs_environment_and_none_of_the_runners_files(tmp_path, monkeypatch, started):
    import ipykernel.kernelapp  # noqa: F401 - imported before the run: it read $JPY_PARENT_PID (unset) then
    monkeypatch.delenv(KERNEL_FORK_ENV, raising=False)
    monkeypatch.setenv("TOY_MARKER", "from the runner's environment")
    with open(tmp_path / "held.txt", "w") as held:                      # a file the runner has open
        facts = _kernel_facts(tmp_path, fd=held.fileno())
    [zygote] = started
    assert facts["pid"] == zygote.pid and facts["ppid"] == os.getpid()   # the runner's child ...
    assert facts["runner_modules"] and not facts["launcher"]           # ... forked, not a new Python
    assert facts["sid"] == facts["pid"]                                 # its own session, as a launched kernel
    assert facts["fd_target"] == os.devnull                             # the runner's file is not open in it
    assert facts["cwd"] == str(TOYS)                                    # the notebook's folder
    assert facts["marker"] == "from the runner's environment"           # the run's environment, handed over
    assert facts["parent_handle"] == os.getpid()                        # it exits if the runner dies
    assert zygote.returncode is not None                                # reaped: nothing stays
    with pytest.raises(ProcessLookupError):
        os.kill(zygote.pid, 0)


def test_opslib_kernel_fork_0_starts_a_new_python(tmp_path, monkeypatch):
    monkeypatch.setenv(KERNEL_FORK_ENV, "0")
    with open(tmp_path / "held.txt", "w") as held:
        facts = _kernel_facts(tmp_path, fd=held.fileno())
    assert facts["launcher"] and not facts["runner_modules"]
    assert facts["fd_target"] != str(tmp_path / "held.txt") and facts["ppid"] == os.getpid()


def test_a_child_that_never_becomes_a_kernel_exits_and_is_reaped(tmp_path, started):
    zygote = Zygote.start({})
    assert zygote is not None and zygote.poll() is None
    zygote.close()
    assert zygote.returncode == 0
    with pytest.raises(ProcessLookupError):
        os.kill(zygote.pid, 0)
    # a run whose kernel cannot start (no such kernel): its child is reaped too
    with pytest.raises(Exception, match="no-such-kernel"):
        run_notebook(resolve(str(TOYS / "ok.ipynb")), profile="sandbox", clock=_utcnow,
                     archive=LocalArchive(tmp_path / "archive"), kernel_name="no-such-kernel")
    [_, zygote] = started                                               # the one above, then the run's
    assert zygote.returncode == 0 and not zygote.launched


def test_a_killed_forked_kernel_is_a_dead_kernel(tmp_path):
    """The kernel-death path (toy ``die``: ``os._exit(1)``) through the forked kernel: archived as died."""
    entry = run_notebook(resolve(str(TOYS / "die.ipynb")), profile="sandbox", clock=_utcnow,
                         archive=LocalArchive(tmp_path / "archive"))
    assert entry.status == "died" and entry.exit_code != 0


def test_only_this_pythons_ipykernel_is_forked():
    assert forkable([sys.executable, "-m", "ipykernel_launcher", "-f", "c.json"])
    assert not forkable(["/opt/other-env/bin/python", "-m", "ipykernel_launcher", "-f", "c.json"])
    assert not forkable([sys.executable, "-m", "other_kernel", "-f", "c.json"])
    assert not forkable(["R", "--slave", "-e", "IRkernel::main()"])


def test_a_failed_fork_starts_the_kernel_as_a_new_process(tmp_path, monkeypatch):
    def no_fork():
        raise BlockingIOError(11, "Resource temporarily unavailable")
    monkeypatch.setattr(os, "fork", no_fork)
    assert Zygote.start({}) is None
    facts = _kernel_facts(tmp_path)
    assert facts["launcher"] and not facts["runner_modules"]
