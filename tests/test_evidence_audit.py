"""One audit log per archive: what `runbook run` records (``<archive>/audit/``) is what `runbook audit list`,
`runbook undo`, the incident timeline and the post-mortem read by default. No kernel, no sandbox."""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from opslib.actions.audit import AUDIT_DIR_ENV, AuditLog, AuditRecord, StepRecord, audit_dir
from opslib.cli import main
from opslib.sections.postmortem import load_incident
from opslib.runner.archive import ARCHIVE_ENV, LocalArchive, open_archive
from opslib.runner.execute import _kernel_env
from opslib.settings import RUN_ID_ENV


def record(audit_id: str, run_id: str) -> AuditRecord:
    return AuditRecord(id=audit_id, timestamp="2026-11-27T12:00:05+00:00", status="applied",
                       title="scale ingestion-api 6 -> 8", profile="sandbox", environment="sandbox", production=False,
                       dry_run=False, run_id=run_id, operator={"local_user": "oncall"},
                       steps=[StepRecord({"resource": "ingestion-api", "attribute": "desired"}, "applied", 6, 8)])


@pytest.fixture
def default_archive(tmp_path, monkeypatch) -> Path:
    monkeypatch.delenv(AUDIT_DIR_ENV, raising=False)
    monkeypatch.setenv(ARCHIVE_ENV, str(tmp_path / "evidence"))
    return tmp_path / "evidence"


def test_the_run_the_cli_and_the_postmortem_share_one_default(default_archive):
    archive = open_archive(None)                          # what `runbook run` writes to without --archive
    assert isinstance(archive, LocalArchive) and archive.root == default_archive.resolve()
    kernel_env = _kernel_env(archive, "run000000001")       # what the kernel of that run audits to
    with pytest.MonkeyPatch.context() as kernel:
        for name in (AUDIT_DIR_ENV, RUN_ID_ENV):
            kernel.setenv(name, kernel_env[name])
        AuditLog().append(record("20261127T120005Z-aaaa0001", "run000000001"))
    assert audit_dir() == default_archive / "audit"
    assert (default_archive / "audit" / "audit.jsonl").is_file()

    listing = CliRunner().invoke(main, ["audit", "list"], standalone_mode=False, catch_exceptions=False)
    assert "20261127T120005Z-aaaa0001" in listing.output and "scale ingestion-api" in listing.output

    archive.append_manifest({"id": "run000000001", "notebook": "common-operations", "incident_id": "INC-7",
                             "start": "2026-11-27T12:00:00+00:00", "end": "2026-11-27T12:00:30+00:00",
                             "status": "ok", "files": {}})
    incident = load_incident("INC-7")                      # the timeline's and post-mortem's default
    assert [a.id for a in incident.actions] == ["20261127T120005Z-aaaa0001"]


def test_audit_list_and_undo_take_the_archive(tmp_path, monkeypatch, default_archive):
    other = tmp_path / "other"
    AuditLog(other / "audit").append(record("20261127T130000Z-bbbb0002", "r2"))
    out = CliRunner().invoke(main, ["audit", "list", "--archive", str(other)], standalone_mode=False).output
    assert "20261127T130000Z-bbbb0002" in out
    out = CliRunner().invoke(main, ["audit", "list"], standalone_mode=False).output
    assert "20261127T130000Z-bbbb0002" not in out and f"no audit records in {default_archive / 'audit'}" in out
    help_text = CliRunner().invoke(main, ["undo", "--help"]).output
    assert "--archive" in help_text and ".audit/" not in help_text


def test_dry_run_hint_names_a_real_flag():
    from opslib.actions.apply import ApplyResult
    from opslib.actions.plan import Plan
    result = ApplyResult("planned", Plan("scale", []), [], "a1")
    assert "run again with -p dry_run=False (runbook run) to apply" in result.to_text()
    assert "run again with --apply" in result.to_text(apply_hint="run again with --apply to apply it")
