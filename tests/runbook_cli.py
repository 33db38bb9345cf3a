"""Run `runbook run` as a scheduler would (a subprocess) and read back its manifest entry."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat


def start(notebook: str, archive: Path, *params: str, profile: str | None = None) -> subprocess.Popen:
    args = [sys.executable, "-c", "from opslib.cli import run; run()", "run", notebook, "--archive", str(archive),
            "--json", *[x for p in params for x in ("-p", p)]]
    if profile:
        args += ["--profile", profile]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))


def finish(proc: subprocess.Popen) -> tuple[int, dict]:
    out, err = proc.communicate(timeout=600)
    assert out.strip(), f"no JSON entry; stderr:\n{err[-3000:]}"
    return proc.returncode, json.loads(out)


def run(notebook: str, archive: Path, *params: str, profile: str | None = None) -> tuple[int, dict]:
    return finish(start(notebook, archive, *params, profile=profile))


def run_init(*args: str) -> subprocess.CompletedProcess:
    """``runbook init ARGS`` in a child process."""
    return subprocess.run([sys.executable, "-c", "from opslib.cli import run; run()", "init", *args],
                          capture_output=True, text=True, timeout=300, env=dict(os.environ))


def run_all(profile: str, archive: Path) -> tuple[int, dict[str, dict]]:
    """``runbook run --all --profile PROFILE --json``: its exit code and each notebook's manifest entry."""
    proc = subprocess.run([sys.executable, "-c", "from opslib.cli import run; run()", "run", "--all", "--profile",
                           profile, "--archive", str(archive), "--json"],
                          capture_output=True, text=True, timeout=900, env=dict(os.environ))
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
