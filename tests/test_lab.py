"""`runbook lab` reuses the running sandbox and serves JupyterLab on the runbook notebooks, with the
kernels' profile set; and the sandbox CLI talks to the same sandbox."""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

pytestmark = pytest.mark.slow
CLI = [sys.executable, "-c", "from opslib.cli import run; run()"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read()
    except (urllib.error.URLError, OSError) as exc:
        return getattr(exc, "code", 0), b""


def test_sandbox_cli_reaches_the_running_sandbox(healthy_sandbox):
    out = subprocess.run([*CLI, "sandbox", "status", "--json"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and json.loads(out.stdout)["endpoint"] == healthy_sandbox.endpoint
    bad = subprocess.run([*CLI, "sandbox", "inject", "api-dwn"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "api-down" in bad.stderr and not healthy_sandbox.faults.active
    ok = subprocess.run([*CLI, "sandbox", "inject", "duplicates"], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and "duplicates" in healthy_sandbox.faults


def test_lab_serves_the_notebooks_on_the_running_sandbox(sandbox, tmp_path):
    port = _free_port()
    log = open(tmp_path / "lab.log", "w+")
    proc = subprocess.Popen([*CLI, "lab", "--port", str(port)], stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
                                 "OPSLIB_ARCHIVE": str(tmp_path / "archive"), "BROWSER": "true"})
    try:
        token = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and token is None:
            time.sleep(1)
            assert proc.poll() is None, (tmp_path / "lab.log").read_text()[-2000:]
            found = re.search(rf"127\.0\.0\.1:{port}/lab\?token=(\w+)", (tmp_path / "lab.log").read_text())
            token = found and found.group(1)
        assert token, (tmp_path / "lab.log").read_text()[-2000:]
        text = (tmp_path / "lab.log").read_text()
        assert f"AWS {sandbox.endpoint}" in text          # the running sandbox, not a new one
        status, body = _get(f"http://127.0.0.1:{port}/api/contents?token={token}")
        names = {item["name"] for item in json.loads(body)["content"]}
        assert status == 200 and {"system-overview.ipynb", "data-quality.ipynb", "maintenance.ipynb"} <= names
        status, body = _get(f"http://127.0.0.1:{port}/api/kernelspecs?token={token}")
        assert status == 200 and "python3" in json.loads(body)["kernelspecs"]
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    with pytest.raises(OSError):                      # terminating `runbook lab` stopped JupyterLab too
        socket.create_connection(("127.0.0.1", port), timeout=2)
    assert (tmp_path / "archive" / "workspaces").is_dir()     # it served copies, not the tracked notebooks
