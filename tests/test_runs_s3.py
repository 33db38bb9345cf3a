"""The S3 archive against the sandbox's S3 (moto over HTTP): layout, write-once, manifest, verify."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from opslib.errors import EvidenceError
from opslib.runner.archive import S3Archive, open_archive
from opslib.runner.catalog import resolve
from opslib.runner.execute import run_notebook
from opslib.runner.verify import verify_entries

TOYS = Path(__file__).parent / "notebooks"
BUCKET = "runbook-evidence"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def s3(sandbox):
    """The sandbox's S3 with the evidence bucket; the shared sandbox is reset after the module (its snapshot test
    compares the healthy sandbox with a reset one, and a bucket left here made them differ)."""
    client = sandbox.client("s3")
    client.create_bucket(Bucket=BUCKET)
    yield client
    sandbox.reset()


def test_s3_archive_run_layout_write_once_and_verify(s3):
    archive = open_archive(f"s3://{BUCKET}/evidence", s3_client=s3)
    assert isinstance(archive, S3Archive)
    entry = run_notebook(resolve(str(TOYS / "fail.ipynb")), profile="sandbox", archive=archive,
                         clock=lambda: datetime.now(timezone.utc), incident_id="INC-9")
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="evidence/")["Contents"])
    stem = entry.files["ipynb"]["rel"][:-len(".ipynb")]
    assert f"evidence/{stem}.ipynb" in keys and f"evidence/{stem}.html" in keys
    assert "evidence/manifest/000000000001.json" in keys and entry.seq == 1     # the chain's first place
    assert [e["id"] for e in archive.manifest()] == [entry.id]
    assert entry.files["html"]["path"] == f"s3://{BUCKET}/evidence/{stem}.html"
    with pytest.raises(EvidenceError, match="written once"):
        archive.write_once(entry.files["ipynb"]["rel"], b"tampered")
    assert all(c.status == "ok" for c in verify_entries(archive, archive.manifest()))
    s3.put_object(Bucket=BUCKET, Key=f"evidence/{stem}.html", Body=b"<html>edited</html>")   # tampering outside
    s3.delete_object(Bucket=BUCKET, Key=f"evidence/{stem}.ipynb")
    statuses = {c.kind: c.status for c in verify_entries(archive, archive.manifest())}
    assert statuses == {"html": "changed", "ipynb": "missing", "asset:index": "ok", "asset:theme-light": "ok"}


def test_cli_run_into_s3_with_sandbox_profile(s3):
    env = {**os.environ, "OPSLIB_NOTEBOOKS": str(TOYS)}
    cmd = [sys.executable, "-c", "from opslib.cli import run; run()"]
    proc = subprocess.run(cmd + ["run", "ok", "--archive", f"s3://{BUCKET}/cli", "--json"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    entry = json.loads(proc.stdout)
    assert entry["operator"]["aws"].get("account") == "123456789012"   # caller identity from the sandbox
    proc = subprocess.run(cmd + ["runs", "verify", "--archive", f"s3://{BUCKET}/cli"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "0 problems" in proc.stdout and "chain head: " in proc.stdout
