"""Every notebook that plans changes, run headless against the sandbox: with its defaults it changes
nothing (snapshots of the sandbox's AWS and database state before and after are equal) and audits a
planned-only attempt; with dry_run=False it changes exactly what its audited plans said."""
from __future__ import annotations

import pytest

import golden
from runbook_cli import finish, start
from test_actions_env import snapshot

from opslib.actions import AuditLog
from opslib.sections.alerts import alarm_definition
from opslib.runner.catalog import discover

pytestmark = pytest.mark.slow


def _action_notebooks() -> list[str]:
    return sorted(info.name for info in discover() if not info.read_only)


def _records(archive, run_id: str):
    return [r for r in AuditLog(archive / "audit").records() if r.run_id == run_id]


def _drift_an_alarm(ops) -> None:
    rule = next(r for r in ops.profile.alerts if r.name == "Stream Backup")
    drifted = alarm_definition(ops.profile, rule, region=ops.primary_region, account="123456789012")
    ops.client("cloudwatch").put_metric_alarm(**{**drifted, "Threshold": 900000.0})


def test_the_action_notebooks_are_the_ones_expected():
    assert _action_notebooks() == ["alarm-sync", "common-operations", "disaster-recovery", "incident-response",
                                   "maintenance", "performance-tuning", "security-operations"]


@pytest.mark.golden
def test_defaults_change_nothing_and_audit_the_plans(ops, healthy_sandbox, healthy_runs, tmp_path, nb_regression):
    """Also the golden outputs of alarm-sync (one alarm drifted, so its plan has a change) and
    common-operations (defaults): their other runs happen during drills. alarm-sync runs here, after the
    drift; the others' default runs are the shared healthy runs (``healthy_runs``, the sandbox's state
    recorded before and after them), which other modules assert on too."""
    shared = healthy_runs.get(*[n for n in _action_notebooks() if n != "alarm-sync"])
    _drift_an_alarm(ops)                     # so the alarm sync has something to plan
    before = snapshot(ops)
    rc, entry = finish(start("alarm-sync", tmp_path))
    entries = [(rc, entry, tmp_path)] + [(r.rc, r.entry, r.archive) for r in shared.values()]
    assert sorted(e["notebook"] for _, e, _ in entries) == _action_notebooks()
    for rc, entry, archive in entries:
        assert rc in (0, 1) and entry["status"] in ("ok", "warn", "fail"), entry.get("error")
        records = _records(archive, entry["id"])
        assert records and all(r.dry_run and r.status == "planned" for r in records), entry["notebook"]
        if entry["notebook"] in ("alarm-sync", "common-operations"):
            golden.check(nb_regression, entry)
    assert snapshot(ops) == before
    for name, run in shared.items():
        assert run.world_after == run.world_before, name


def test_applied_they_change_exactly_what_their_plans_said(ops, healthy_sandbox, tmp_path):
    _drift_an_alarm(ops)
    before = snapshot(ops)
    changed_targets = set()
    procs = {name: start(name, tmp_path, "dry_run=False") for name in _action_notebooks()}   # different resources
    for name, proc in procs.items():
        rc, entry = finish(proc)
        assert entry["status"] in ("ok", "warn", "fail"), entry.get("error")
        for record in _records(tmp_path, entry["id"]):
            assert not record.dry_run and record.status == "applied", record.reason
            changed_targets |= {s.change["target"] for s in record.steps if s.status == "applied"}
    after = snapshot(ops)
    changed = {k for k in before if before[k] != after.get(k)} | (after.keys() - before.keys())
    # what the snapshots saw changing, named as the plans name their targets
    expected = {"alarm/pipeline-stream-backup": "pipeline-stream-backup",
                f"s3/{ops.profile.s3.events_bucket}/tiering": ops.profile.s3.events_bucket,
                "db/indexes": "idx_events_user_timestamp", "db/last_vacuum": "events"}
    assert changed == set(expected), changed
    assert set(expected.values()) <= changed_targets, changed_targets
    assert after["alarm/pipeline-stream-backup"][0] == 300000.0
    assert "idx_events_user_timestamp" in after["db/indexes"]
