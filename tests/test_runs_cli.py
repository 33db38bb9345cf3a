"""`runbook run` end to end on the toy notebooks (no sandbox): one real notebook per exit code,
findings round-trip into the manifest, archive layout and write-once, verify, --all, and credential
scrubbing of every output. The CLI runs as a subprocess, in parallel, as a scheduler would run it."""
from __future__ import annotations

import itertools
import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from opslib.errors import EvidenceError
from opslib.findings import read_findings
from opslib.runner.archive import LocalArchive
from runbook_cli import Runbook

TOYS = Path(__file__).parent / "notebooks"
pytestmark = pytest.mark.slow
PARAMETERS = Path(__file__).parent.parent / "parameters"
SECRETS = {"AWS_ACCESS_KEY_ID": "AKIAQPLANTEDKEY12345", "AWS_SECRET_ACCESS_KEY": "pLaNtEd/SeCrEt+AcCeSsKeY0123456789abcdef",
           "AWS_SESSION_TOKEN": "IQoJplantedSESSIONtokenFwoGZXIvYXdzEXAMPLE", "OPSLIB_TEST_PASSWORD": "EnvPassw0rdPlanted"}
PROFILE_PASSWORD = "Pr0fileSecretPlanted"
PARAM_PASSWORD = "ParamSecretPlanted9"


def runbook(*args: str, env: dict | None = None, cwd: Path | None = None) -> Runbook:
    return Runbook(*args, cwd=cwd, env={"OPSLIB_NOTEBOOKS": str(TOYS), **(env or {})})


def finish(proc: Runbook) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=300)
    return proc.returncode, out, err


@pytest.fixture(scope="module")
def leaky_profile(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("profiles")
    shutil.copy(PARAMETERS / "_common.yaml", folder)
    text = (PARAMETERS / "sandbox.yaml").read_text().replace(
        "warehouse: {url: sandbox, dialect_hint: duckdb}",
        f'warehouse: {{url: "postgresql://ops:{PROFILE_PASSWORD}@warehouse.internal:5432/events"}}')
    assert PROFILE_PASSWORD in text
    (folder / "leaky.yaml").write_text(text)
    return folder / "leaky.yaml"


@pytest.fixture(scope="module")
def runs(tmp_path_factory, leaky_profile):
    """Every toy notebook run once through the CLI, concurrently."""
    archive = tmp_path_factory.mktemp("archive")
    common = ["--archive", str(archive), "--json"]
    procs = {
        "ok": runbook("run", "ok", "-p", "threshold=4", "--incident", "INC-42", *common),
        "warn": runbook("run", str(TOYS / "warn.ipynb"), *common),
        "fail": runbook("run", "fail", *common),
        "raise": runbook("run", "raise", *common),
        "die": runbook("run", "die", *common),
        "slow": runbook("run", "slow", "--timeout", "3", *common),
        "bad": runbook("run", "ok", "-p", "threshold=lots", *common),
        "leaky": runbook("run", "leaky", "--profile", str(leaky_profile), "-p",
                         f"db_url=postgresql://ops:{PARAM_PASSWORD}@db.internal/analytics", *common, env=SECRETS),
    }
    results = {name: finish(p) for name, p in procs.items()}
    return archive, results


@pytest.mark.parametrize("name, code, status", [
    ("ok", 0, "ok"), ("warn", 0, "warn"), ("fail", 1, "fail"), ("raise", 3, "error"), ("die", 4, "died"),
    ("slow", 4, "timeout"), ("leaky", 3, "error")])
def test_exit_codes_and_manifest_entry(runs, name, code, status):
    archive, results = runs
    rc, out, err = results[name]
    assert rc == code, err
    entry = json.loads(out)
    assert entry["status"] == status and entry["exit_code"] == code
    manifest = {e["id"]: e for e in LocalArchive(archive).manifest()}
    assert manifest[entry["id"]] == entry                 # --json prints exactly the manifest entry
    assert Path(entry["files"]["ipynb"]["path"]).is_file() and Path(entry["files"]["html"]["path"]).is_file()
    if code in (3, 4):
        assert entry["failing_cell"]["index"] is not None and entry["error"]["ename"]


def test_kernels_talk_over_private_unix_sockets(runs):
    """Eight kernels started together: none on TCP (ipykernel warns when it is), so none races for a port."""
    _, results = runs
    errors = {name: err for name, (_, _, err) in results.items() if name != "bad"}
    assert len(errors) == 7
    for name, err in errors.items():
        assert "over TCP" not in err and "Address already in use" not in err, f"{name}: {err[-500:]}"


def test_failing_cell_and_error_are_recorded(runs):
    _, results = runs
    raised = json.loads(results["raise"][1])
    assert raised["error"] == {"ename": "ValueError", "evalue": "the toy notebook raised on purpose"}
    assert raised["failing_cell"]["source"].startswith("raise ValueError")
    assert [c["name"] for c in raised["findings"]] == ["before"]       # findings before the error are kept
    died = json.loads(results["die"][1])
    assert died["error"]["ename"] == "DeadKernelError" and died["failing_cell"]["source"] == "import os"
    slow = json.loads(results["slow"][1])
    assert slow["failing_cell"]["source"] == "import os, time" and "3s" in slow["error"]["evalue"]


def test_bad_input_runs_nothing(runs):
    archive, results = runs
    rc, out, err = results["bad"]
    assert rc == 2 and out == ""
    assert "parameter 'threshold'" in err and "'lots'" in err
    assert len(list(LocalArchive(archive).manifest())) == 7            # the seven other runs only


def test_findings_round_trip_and_injected_parameters(runs):
    _, results = runs
    entry = json.loads(results["ok"][1])
    nb = nbformat.read(entry["files"]["ipynb"]["path"], as_version=4)
    assert [c.to_dict() for c in read_findings(nb)] == entry["findings"]
    identity = entry["findings"][1]["figures"]
    assert identity == {"run_id": entry["id"], "incident_id": "INC-42", "label": "toy"}
    assert entry["findings"][0]["figures"]["threshold"] == 4
    assert entry["parameters"] == {"threshold": 4, "profile": "sandbox", "run_id": entry["id"], "incident_id": "INC-42"}
    fail = json.loads(results["fail"][1])
    assert fail["findings"][1] == {"name": "completeness", "status": "fail", "detail": "hour 11:00 dropped 62%",
                                   "figures": {"drop_pct": 62.0}}


def test_provenance_fields(runs):
    _, results = runs
    entry = json.loads(results["ok"][1])
    assert entry["operator"]["user"] and "aws" in entry["operator"]
    assert re.fullmatch(r"[0-9a-f]{40}(-dirty)?", entry["git_revision"])
    assert entry["opslib_version"] and entry["host"] and entry["duration_seconds"] > 0
    assert entry["incident_id"] == "INC-42" and entry["job"] == "ok@sandbox"
    # its two files, plus the shared style sheets if this run, of the concurrent ones, wrote them first
    shared = [f["bytes"] for kind, f in entry["files"].items() if kind.startswith("asset:")]
    extra = entry["bytes_added"] - entry["files"]["ipynb"]["bytes"] - entry["files"]["html"]["bytes"]
    assert shared and extra in {sum(c) for n in range(len(shared) + 1) for c in itertools.combinations(shared, n)}


def test_archive_layout_and_write_once(runs):
    archive, results = runs
    entry = json.loads(results["fail"][1])
    rel = entry["files"]["ipynb"]["rel"]
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\d{6}Z-fail-" + entry["id"] + r"\.ipynb", rel)
    assert rel[:10].replace("/", "-") == entry["start"][:10]
    with pytest.raises(EvidenceError, match="written once"):
        LocalArchive(archive).write_once(rel, b"tampered")
    assert Path(entry["files"]["ipynb"]["path"]).read_bytes() != b"tampered"


def test_verify_detects_modified_and_deleted_files(runs, tmp_path):
    archive, results = runs
    copy = tmp_path / "archive"
    shutil.copytree(archive, copy)
    rc, out, err = finish(runbook("runs", "verify", "--archive", str(copy)))
    assert rc == 0 and "0 problems" in out and "chain intact" in out and "chain head: " in out
    ok, fail = json.loads(results["ok"][1]), json.loads(results["fail"][1])
    html = copy / ok["files"]["html"]["rel"]
    html.chmod(0o644)
    html.write_text(html.read_text().replace("threshold is 4", "threshold is 5"))
    (copy / fail["files"]["ipynb"]["rel"]).unlink()
    rc, out, err = finish(runbook("runs", "verify", "--archive", str(copy)))
    assert rc == 1
    assert re.search(rf"CHANGED .*{ok['files']['html']['rel']}: run {ok['id']} html", out)
    assert re.search(rf"MISSING .*{fail['files']['ipynb']['rel']}: run {fail['id']} ipynb", out)
    rc, out, _ = finish(runbook("runs", "verify", ok["id"][:6], "--archive", str(copy)))
    assert rc == 1 and fail["id"] not in out


def test_runs_list_and_show(runs):
    archive, results = runs
    rc, out, _ = finish(runbook("runs", "list", "--incident", "INC-42", "--archive", str(archive)))
    assert rc == 0 and len(out.strip().splitlines()) == 1 and json.loads(results["ok"][1])["id"] in out
    rc, out, _ = finish(runbook("runs", "list", "--status", "fail", "--since", "2000-01-01", "--json",
                                "--archive", str(archive)))
    assert [e["notebook"] for e in json.loads(out)] == ["fail"]
    fail_id = json.loads(results["fail"][1])["id"]
    rc, out, _ = finish(runbook("runs", "show", fail_id, "--archive", str(archive)))
    assert rc == 0 and "FAIL completeness" in out
    rc, _, err = finish(runbook("runs", "show", "nosuchid", "--archive", str(archive)))
    assert rc == 2 and "RUN_ID" in err


def test_no_credential_in_any_output(runs, leaky_profile):
    archive, results = runs
    rc, out, err = results["leaky"]
    entry = json.loads(out)
    nb_text = Path(entry["files"]["ipynb"]["path"]).read_text()
    assert "AWS_SESSION_TOKEN" in nb_text and "***" in nb_text          # the dump and the error did get printed
    # the access key id names a key (shown, like in a breach response); its secret key is the secret
    planted = [v for k, v in SECRETS.items() if k != "AWS_ACCESS_KEY_ID"] + [PROFILE_PASSWORD, PARAM_PASSWORD]
    outputs = {p: p.read_text(errors="replace") for p in Path(archive).rglob("*") if p.is_file()}
    outputs["stdout"], outputs["stderr"] = out, err
    assert len(outputs) > 10
    for where, text in outputs.items():
        for secret in planted:
            assert secret not in text, f"{secret[:6]}... leaked into {where}"


def test_run_all_runs_read_only_notebooks_with_progress(tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    for name in ("ok", "warn", "fail", "die"):                      # die is not read-only: never run by --all
        shutil.copy(TOYS / f"{name}.ipynb", folder)
    proc = runbook("run", "--all", "--jobs", "3", "--archive", str(tmp_path / "runs"), "--json",
                   env={"OPSLIB_NOTEBOOKS": str(folder)})
    rc, out, err = finish(proc)
    assert rc == 1                                                   # the worst: a failed check
    assert sorted(e["notebook"] for e in json.loads(out)) == ["fail", "ok", "warn"]
    progress = [line for line in err.splitlines() if line.startswith("[")]
    assert len(progress) == 3 and all(re.search(r"\b(ok|warn|fail)\s+\d+\.\ds", p) for p in progress)
    assert "3 runs: 1 fail, 1 ok, 1 warn" in err
