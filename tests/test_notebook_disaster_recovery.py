"""Drills: the Disaster Recovery notebook run headless (``runbook run``) against the sandbox. Healthy: no
fail/warn; stale-backup fails the backup age; region-outage advises the failover, which, applied, moves
DNS and scales the DR side within the RTO; the test restore leaves no scratch table behind."""
from __future__ import annotations

import json

import pytest

import golden
from runbook_cli import figures, findings, finish, output_notebook, start

from opslib.sections import disaster_recovery as dr
from opslib.drills import DRILLS, judge
from opslib.actions import AuditLog

pytestmark = pytest.mark.slow


def _statuses(entry: dict) -> dict[str, str]:
    return {name: c["status"] for name, c in findings(entry).items()}


def _text(entry: dict) -> str:
    return json.dumps([c.get("outputs", []) for c in output_notebook(entry).cells])


def _scratch_tables(ops) -> list[str]:
    pages = ops.client("dynamodb").get_paginator("list_tables").paginate()
    return [t for p in pages for t in p["TableNames"] if t.startswith(dr.SCRATCH_PREFIX)]


@pytest.mark.golden
def test_healthy_and_test_restore(ops, sandbox, healthy_runs, tmp_path, nb_regression):
    """The healthy run with defaults is the shared one (``healthy_runs``); then a test restore."""
    shared = healthy_runs["disaster-recovery"]
    rc, healthy = shared.rc, shared.entry
    rc_restore, restore = finish(start("disaster-recovery", tmp_path / "b", "operation=test-restore", "dry_run=False"))

    assert rc == 0, healthy.get("error")
    assert _statuses(healthy) == {"backup-age": "ok", "backup-verification": "ok", "rpo": "ok",
                                  "primary-region": "ok", "dr-readiness": "ok"}
    assert [r.status for r in AuditLog(shared.archive / "audit").records()] == ["planned"]   # the empty plan
    titles = [f["layout"]["title"]["text"] for f in figures(healthy)]
    assert any("replica lag" in t for t in titles) and any("backup age" in t for t in titles)
    markdown = " ".join(c.source for c in output_notebook(healthy).cells if c.cell_type == "markdown")
    assert all(t in markdown for t in ("enable-stream-encryption", "does not exist", "start-stream-encryption"))

    assert rc_restore == 0, restore.get("error")
    check = findings(restore)["test-restore"]
    assert check["status"] == "ok" and check["figures"]["restored_items"] == check["figures"]["backup_items"] > 0
    assert check["figures"]["scratch_deleted"] is True and _scratch_tables(ops) == []
    records = [r for r in AuditLog(tmp_path / "b" / "audit").records() if r.run_id == restore["id"]]
    assert [(r.status, r.steps[0].change["operation"]) for r in records] == [
        ("applied", "restore_table_from_backup"), ("applied", "delete_table")]
    golden.check(nb_regression, healthy)


def test_drill_region_outage_failover_applied_with_a_stale_backup(ops, healthy_sandbox, tmp_path):
    """Both scenarios at once (one notebook run and one reset): each is found by its own check."""
    injected = {s: healthy_sandbox.inject(s) for s in ("stale-backup", "region-outage")}
    rc, run = finish(start("disaster-recovery", tmp_path / "outage", "operation=regional-failover", "dry_run=False"))
    assert rc == 1, run.get("error")
    for scenario, other in (("stale-backup", "region-outage"), ("region-outage", "stale-backup")):
        verdict = judge(DRILLS[scenario].expect("disaster-recovery"), run, injected[scenario],
                        together=[DRILLS[other].expect("disaster-recovery")])
        assert verdict.detected, (scenario, verdict.problem)
    got = findings(run)
    assert got["backup-age"]["status"] == "fail" and got["backup-age"]["figures"]["S3 daily"] > 26
    assert got["rpo"]["status"] == got["backup-verification"]["status"] == "ok"
    assert got["primary-region"]["status"] == "fail" and "ADVISED" in got["primary-region"]["detail"]
    assert got["dr-readiness"]["status"] == "ok"
    assert got["regional-failover"]["status"] == "ok", got["regional-failover"]["detail"]
    timing = got["failover-rto"]
    assert timing["status"] == "ok" and 0 < timing["figures"]["elapsed_s"] < timing["figures"]["rto_s"] == 900

    # the DR side serves: DNS moved, DR service scaled and running, its health endpoint answers
    ready = dr.readiness(ops)
    assert ready.on_dr and ready.dns["alias"] == ops.profile.dns.dr_alb_dns
    svc = ops.client("ecs", "dr").describe_services(cluster=ops.profile.ecs.dr_cluster,
                                                    services=["ingestion-api"])["services"][0]
    assert svc["desiredCount"] == svc["runningCount"] == 10
    assert all(c.ok for c in dr.verify_dr_serving(ops))
    records = [r for r in AuditLog(tmp_path / "outage" / "audit").records() if r.run_id == run["id"]]
    assert [r.status for r in records] == ["applied"] * 3 and not any(r.dry_run for r in records)
    timing_chart = [f for f in figures(run) if "against the RTO" in f["layout"]["title"]["text"]]
    assert len(timing_chart) == 1 and len(timing_chart[0]["data"][0]["y"]) == 6   # pre-flight, 3 changes, wait, verify
    assert "elapsed s" in _text(run)
