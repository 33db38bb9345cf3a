"""Run `runbook` commands as a scheduler would (each in a process of its own) and read back what they recorded.

Each command runs in a new process forked from a server that has already imported the CLI and the runner
(multiprocessing's ``forkserver``, one per pytest process, gone when it exits): the child gets its own argv,
environment, working folder, stdout and stderr and calls the console script's function, ``opslib.cli.run()``,
as a ``runbook`` process does, without importing papermill, nbconvert, SQLAlchemy, boto3 and pydantic again
(~0.5 s of CPU per command, a few hundred commands in the suite). Its exit code is the process's. Tests that
signal a run, or start the CLI another way, use ``subprocess`` directly."""
from __future__ import annotations

import atexit
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

#: what the fork server imports once: the CLI and what ``runbook run`` imports when it runs
PRELOAD = ["opslib.cli", "opslib.runner.launch", "opslib.runner.execute", "opslib.runner.preflight",
           "opslib.connection", "sqlalchemy", "runbook_cli"]
_FORKS = multiprocessing.get_context("forkserver")
_FORKS.set_forkserver_preload(PRELOAD)


def _child(argv: list[str], env: dict, cwd: str, out: str, err: str) -> None:
    """In the forked process: what a new ``runbook ARGV`` process would have, then the CLI. Its SystemExit is
    the exit code; the exit handlers run as at a normal interpreter exit."""
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    sys.stdout.flush()
    sys.stderr.flush()
    for fd, path in ((1, out), (2, err)):
        target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(target, fd)
        os.close(target)
    sys.argv = ["runbook", *argv]
    from opslib.cli import run
    try:
        run()
    finally:
        atexit._run_exitfuncs()


class Runbook:
    """``runbook ARGS`` running in a forked child; ``communicate`` and ``returncode`` as subprocess.Popen's."""

    def __init__(self, *args: str, env: dict | None = None, cwd: str | Path | None = None):
        self.args, self.returncode = args, None
        self._folder = tempfile.TemporaryDirectory(prefix="runbook-cli-")
        self._out, self._err = (os.path.join(self._folder.name, n) for n in ("stdout", "stderr"))
        self._process = _FORKS.Process(target=_child, name=f"runbook {' '.join(args[:2])}",
                                       args=(list(args), {**os.environ, **(env or {})}, str(cwd or os.getcwd()),
                                             self._out, self._err))
        self._process.start()

    def communicate(self, timeout: float | None = None) -> tuple[str, str]:
        """Wait for the end (at most ``timeout`` seconds: then SIGTERM, which stops the run and its kernel, and
        subprocess.TimeoutExpired); its stdout and stderr."""
        self._process.join(timeout)
        timed_out = self._process.exitcode is None
        if timed_out:
            self._process.terminate()
            self._process.join(60)
            self._process.kill()
            self._process.join()
        try:
            out, err = (Path(p).read_text() for p in (self._out, self._err))
        finally:
            self._folder.cleanup()
        self.returncode = self._process.exitcode
        if timed_out:
            raise subprocess.TimeoutExpired(["runbook", *self.args], timeout, out, err)
        return out, err


def runbook(*args: str, env: dict | None = None, cwd: str | Path | None = None,
            timeout: float = 900) -> subprocess.CompletedProcess:
    """``runbook ARGS`` to its end: exit code, stdout and stderr."""
    proc = Runbook(*args, env=env, cwd=cwd)
    out, err = proc.communicate(timeout=timeout)
    return subprocess.CompletedProcess(["runbook", *args], proc.returncode, out, err)


def start(notebook: str, archive: Path, *params: str, profile: str | None = None) -> Runbook:
    args = ["run", notebook, "--archive", str(archive), "--json", *[x for p in params for x in ("-p", p)]]
    return Runbook(*args, *(["--profile", profile] if profile else []))


def finish(proc: Runbook) -> tuple[int, dict]:
    out, err = proc.communicate(timeout=600)
    assert out.strip(), f"no JSON entry; stderr:\n{err[-3000:]}"
    return proc.returncode, json.loads(out)


def run(notebook: str, archive: Path, *params: str, profile: str | None = None) -> tuple[int, dict]:
    return finish(start(notebook, archive, *params, profile=profile))


def run_init(*args: str) -> subprocess.CompletedProcess:
    """``runbook init ARGS`` in a process of its own."""
    return runbook("init", *args, timeout=300)


def run_all(profile: str, archive: Path) -> tuple[int, dict[str, dict]]:
    """``runbook run --all --profile PROFILE --json``: its exit code and each notebook's manifest entry."""
    proc = runbook("run", "--all", "--profile", profile, "--archive", str(archive), "--json")
    assert proc.stdout.strip(), f"no JSON entries; stderr:\n{proc.stderr[-3000:]}"
    return proc.returncode, {e["notebook"]: e for e in json.loads(proc.stdout)}


def statuses(entry: dict) -> dict[str, str]:
    return {n: c["status"] for n, c in findings(entry).items()}


def findings(entry: dict) -> dict[str, dict]:
    """The recorded checks by name."""
    return {c["name"]: c for c in entry["findings"]}


def output_notebook(entry: dict):
    return nbformat.read(entry["files"]["ipynb"]["path"], as_version=4)


def _decode(value):
    """plotly stores numeric arrays as {"dtype", "bdata": base64}; return them as lists."""
    import base64

    import numpy as np
    if isinstance(value, dict) and "bdata" in value:
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]).tolist()
    if isinstance(value, dict):
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def figures(entry: dict) -> list[dict]:
    """The plotly figures stored in the output notebook (JSON, without plotly.js), arrays decoded."""
    out = []
    for cell in output_notebook(entry).cells:
        for o in cell.get("outputs", []):
            fig = o.get("data", {}).get("application/vnd.plotly.v1+json")
            if fig:
                out.append(_decode(fig))
    return out


def chromium_dom(html_path: str | Path) -> str:
    """The DOM of an archived HTML file after headless Chromium ran its scripts with the network cut off
    (``unshare -n``). Skips where Chromium is not installed (.ci/run installs Debian's package)."""
    import shutil

    import pytest
    if not shutil.which("chromium") or not shutil.which("unshare"):
        pytest.skip("needs Debian's chromium and unshare (.ci/run installs chromium)")
    cmd = ["unshare", "-n", "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--no-first-run", "--virtual-time-budget=8000", "--dump-dom",
           Path(html_path).as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0 and "unshare" in proc.stderr:
        pytest.skip(f"cannot cut the network off here: {proc.stderr.strip()[:200]}")
    return proc.stdout


#: `runbook run --all` runs the read-only notebooks; incident-response leans most on the roles
ALSO = ("incident-response",)


def same_findings(profile: str, archive: Path, reference) -> None:
    """``runbook run --all --profile PROFILE`` exits 0 and every notebook's checks (and incident-response's) have
    the statuses ``reference(notebook)`` gives for the hand-written profile."""
    rc, entries = run_all(profile, archive)
    for nb in ALSO:
        entries[nb] = run(nb, archive, profile=profile)[1]
    assert rc == 0, {nb: e["status"] for nb, e in entries.items()}
    assert len(entries) >= 5 + len(ALSO)
    for nb, entry in sorted(entries.items()):
        assert statuses(entry), f"{nb}: no findings on the draft"
        assert statuses(entry) == reference(nb), f"{nb}: draft {statuses(entry)} != hand-written {reference(nb)}"
        assert entry["exit_code"] == 0, f"{nb} exit {entry['exit_code']} on a healthy pipeline"
