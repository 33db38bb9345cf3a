"""Settings: every OPSLIB_* variable is named in opslib.settings and resolved there (explicit argument >
environment > default); a run hands its kernel the run id and audit folder in the kernel's own environment
and leaves the runner's os.environ as it was."""
from __future__ import annotations

import os
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from opslib import settings
from opslib.settings import (ARCHIVE_ENV, AUDIT_DIR_ENV, LAB_PROFILE_ENV, PROFILE_ENV, RUN_ID_ENV, kernel_environment,
                             project_root, resolve_archive, resolve_audit_dir, resolve_notebooks_dir,
                             resolve_kernel_fork, resolve_pagerduty_webhook_secrets, resolve_profile, resolve_run_id,
                             resolve_sandbox_dir)

OPSLIB = Path(__file__).resolve().parent.parent / "opslib"
TOYS = Path(__file__).parent / "notebooks"


def test_explicit_beats_environment_beats_default():
    env = {PROFILE_ENV: "staging", ARCHIVE_ENV: "s3://bucket/runs", RUN_ID_ENV: "r1"}
    assert resolve_profile("prod", env) == "prod"
    assert resolve_profile(None, env) == "staging"
    assert resolve_profile(None, {}) == "sandbox"
    assert resolve_profile(None, {PROFILE_ENV: ""}) == "sandbox"
    assert resolve_archive("/srv/a", env) == "/srv/a"
    assert resolve_archive(None, env) == "s3://bucket/runs"
    assert resolve_archive(None, {}) == str(project_root({}) / "runs")
    assert resolve_run_id("x", env) == "x" and resolve_run_id(None, env) == "r1" and resolve_run_id(None, {}) is None
    assert resolve_notebooks_dir(None, {}) == project_root({}) / "notebooks"
    assert resolve_sandbox_dir(None, {}) == project_root({}) / ".sandbox"
    assert resolve_pagerduty_webhook_secrets(None, {settings.PAGERDUTY_WEBHOOK_SECRET_ENV: "a,,b"}) == ["a", "b"]


def test_one_archive_default_for_the_cli_the_audit_log_and_the_postmortem():
    from opslib.actions.audit import audit_dir
    from opslib.runner.archive import default_archive
    from opslib.sections.postmortem import default_archive as postmortem_default
    assert default_archive() == postmortem_default() == resolve_archive()
    assert resolve_audit_dir(None, {}) == Path(resolve_archive(None, {})) / "audit"
    assert resolve_audit_dir(None, {ARCHIVE_ENV: "s3://b/p"}) == project_root({}) / "runs" / "audit"
    assert resolve_audit_dir(None, {AUDIT_DIR_ENV: "/x"}) == Path("/x")
    assert audit_dir("/y") == Path("/y")


def test_every_opslib_variable_is_named_in_the_settings_module_only():
    """Outside opslib/settings.py, OPSLIB_* names appear in docs and help texts, never as a string constant."""
    named = {v for k, v in vars(settings).items() if k.endswith("_ENV")}
    offenders = []
    for path in OPSLIB.rglob("*.py"):
        if path.name == "settings.py" and path.parent == OPSLIB:
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#")[0]
            if re.search(r"""["']OPSLIB_[A-Z_]+["']""", code) and "help=" not in code:
                offenders.append(f"{path.relative_to(OPSLIB)}:{n}: {line.strip()}")
            for name in re.findall(r"\$\{?(OPSLIB_[A-Z_]+)", line):
                assert name in named, f"{path}:{n}: {name} is not named in opslib.settings"
    assert not offenders, "\n".join(offenders)


def test_kernels_are_forked_unless_opslib_kernel_fork_says_no():
    assert resolve_kernel_fork({}) is True and resolve_kernel_fork({"OPSLIB_KERNEL_FORK": "1"}) is True
    assert not any(resolve_kernel_fork({"OPSLIB_KERNEL_FORK": v}) for v in ("0", "false", "No", " off "))


def test_kernel_environment_is_a_new_mapping():
    base = {"PATH": "/bin", LAB_PROFILE_ENV: "prod", RUN_ID_ENV: "old"}
    env = kernel_environment(run_id="r2", audit_dir=Path("/a/audit"), environ=base)
    assert env == {"PATH": "/bin", RUN_ID_ENV: "r2", AUDIT_DIR_ENV: "/a/audit"}
    assert base == {"PATH": "/bin", LAB_PROFILE_ENV: "prod", RUN_ID_ENV: "old"}


@pytest.mark.slow
def test_a_run_hands_its_kernel_the_run_id_and_audit_folder_and_leaves_os_environ_alone(tmp_path, monkeypatch):
    from opslib.runner.archive import LocalArchive
    from opslib.runner.catalog import resolve
    from opslib.runner.execute import run_notebook
    monkeypatch.delenv(RUN_ID_ENV, raising=False)
    monkeypatch.delenv(AUDIT_DIR_ENV, raising=False)
    monkeypatch.setenv(LAB_PROFILE_ENV, "a-lab-session")     # `runbook run` from a lab terminal
    before = dict(os.environ)
    seen = []

    def clock():           # called before the kernel starts and after it stopped, inside the run
        seen.append(dict(os.environ))
        return datetime.now(timezone.utc)

    archive = LocalArchive(tmp_path / "archive")
    entry = run_notebook(resolve(str(TOYS / "environment.ipynb")), profile="sandbox", archive=archive, clock=clock,
                         run_id="envtest00001")
    assert entry.status == "ok", entry.error
    assert dict(os.environ) == before
    assert seen and all(env == before for env in seen)
    figures = entry.findings[0]["figures"]
    assert figures == {"run_id": "envtest00001", "env_run_id": "envtest00001",
                       "env_audit_dir": str(archive.root / "audit"), "env_lab_profile": None}
