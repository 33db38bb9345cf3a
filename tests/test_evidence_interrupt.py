"""A run stopped by SIGTERM or SIGINT is evidence: archived as ``interrupted`` with the cells that ran,
exit 143/130, no traceback, and neither its temp folder nor its kernel's connection file stays behind.
The toy ``slow`` notebook sleeps in its third cell; the signal is sent once that cell has started (it touches
``$TOY_STARTED``: the runner saves the output notebook only at the start and the end of a run)."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

TOYS = Path(__file__).parent / "notebooks"
pytestmark = pytest.mark.slow


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_archives_the_partial_run_and_leaves_nothing_behind(tmp_path, signum, code):
    tmp, runtime, archive = tmp_path / "tmp", tmp_path / "runtime", tmp_path / "archive"
    tmp.mkdir()
    runtime.mkdir()
    env = {**os.environ, "OPSLIB_NOTEBOOKS": str(TOYS), "TMPDIR": str(tmp), "JUPYTER_RUNTIME_DIR": str(runtime),
           "TOY_STARTED": str(tmp_path / "started")}
    cli = [sys.executable, "-c", "from opslib.cli import run; run()"]
    proc = subprocess.Popen(cli + ["run", "slow", "--archive", str(archive), "--timeout", "120"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (tmp_path / "started").exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.2)
    assert list(tmp.glob("opslib-run-*/kernel-connection.json"))      # the connection file is the run's
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=90)
    assert proc.returncode == code, err
    assert "Traceback" not in out + err
    assert f"interrupted (exit {code})" in out
    assert list(tmp.iterdir()) == [], "the run's temp folder (sockets, connection file) stayed behind"
    assert not list(runtime.glob("kernel-*.json"))

    listing = subprocess.run(cli + ["runs", "list", "--status", "interrupted", "--json", "--archive", str(archive)],
                             env=env, capture_output=True, text=True, timeout=60)
    [entry] = json.loads(listing.stdout)
    assert entry["notebook"] == "slow" and entry["exit_code"] == code
    assert entry["error"]["evalue"] == f"stopped by {signal.Signals(signum).name}"
    assert entry["failing_cell"]["source"] == "import os, time"
    nb = nbformat.read(entry["files"]["ipynb"]["path"], as_version=4)
    states = [(c.metadata.get("papermill") or {}).get("status") for c in nb.cells]
    sleeping = next(i for i, c in enumerate(nb.cells) if "time.sleep" in c.source)
    assert states[sleeping] == "interrupted" and set(states[:sleeping]) == {"completed"}   # what executed so far
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in nb.cells[:sleeping])
    verify = subprocess.run(cli + ["runs", "verify", "--archive", str(archive)], env=env, capture_output=True,
                            text=True, timeout=60)
    assert verify.returncode == 0, verify.stdout


def test_sigterm_to_run_all_is_passed_on_to_its_runs(tmp_path):
    folder, tmp, archive = tmp_path / "notebooks", tmp_path / "tmp", tmp_path / "archive"
    folder.mkdir()
    tmp.mkdir()
    shutil.copy(TOYS / "ok.ipynb", folder)
    slow = nbformat.read(TOYS / "slow.ipynb", as_version=4)
    slow.metadata.setdefault("opslib", {})["read_only"] = True            # so that --all runs it
    nbformat.write(slow, folder / "slow.ipynb")
    env = {**os.environ, "OPSLIB_NOTEBOOKS": str(folder), "TMPDIR": str(tmp), "TOY_STARTED": str(tmp_path / "started")}
    proc = subprocess.Popen([sys.executable, "-c", "from opslib.cli import run; run()", "run", "--all", "--jobs", "2",
                             "--archive", str(archive), "--timeout", "120"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (tmp_path / "started").exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert "Traceback" not in err
    statuses = {json.loads(line)["notebook"]: json.loads(line)["status"]
                for line in (archive / "manifest.jsonl").read_text().splitlines()}
    assert statuses["slow"] == "interrupted"
    assert list(tmp.iterdir()) == []


def test_ctrl_c_at_a_terminal_stops_the_run_once_and_quietly(tmp_path):
    """Ctrl-C reaches the terminal's whole foreground process group: the runner handles it; its kernel (forked
    from it, see opslib/runner/forked_kernel.py) is in a session of its own, as a launched kernel is, and is
    stopped by the runner, not by the signal."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "OPSLIB_NOTEBOOKS": str(TOYS), "TMPDIR": str(tmp), "TOY_STARTED": str(tmp_path / "started")}
    proc = subprocess.Popen([sys.executable, "-c", "from opslib.cli import run; run()", "run", "slow", "--archive",
                             str(tmp_path / "archive"), "--timeout", "120"], env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (tmp_path / "started").exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGINT)                                 # the terminal's Ctrl-C
    out, err = proc.communicate(timeout=90)
    assert proc.returncode == 130, err
    assert "Traceback" not in out + err and "KeyboardInterrupt" not in err
    assert "interrupted (exit 130)" in out
    assert list(tmp.iterdir()) == []
