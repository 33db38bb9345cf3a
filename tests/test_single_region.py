"""A single-region pipeline: ``tests/profiles/single-region.yaml`` (the other pipeline's eu-west-1, with no
disaster-recovery region and no read replica of its database). The sandbox seeds that one region; every runbook
runs, the DR runbook checks backups and the RPO and says there is no failover side and no replica, a regional or
database failover is refused before any kernel, the drills written for a regional outage and a stale backup still
detect them, and `runbook init` drafts such a profile."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from conftest import profile_sandbox
from runbook_cli import findings, run, run_all, run_init, runbook

from opslib.config import load_profile
from opslib.errors import ProfileError
from opslib.findings import read_findings

pytestmark = pytest.mark.slow
PROFILE = str(Path(__file__).resolve().parent / "profiles" / "single-region.yaml")
OTHER_REGION = "eu-central-1"     # the other pipeline's DR region: nothing may be seeded there


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    with profile_sandbox(tmp_path_factory.mktemp("single-region"), PROFILE, events=20_000) as (ops, _):
        yield ops


def test_the_sandbox_seeds_one_region(single):
    ops = single
    assert ops.sides == ("primary",) and ops.dr_region is None
    assert ops.client("ecs").list_clusters()["clusterArns"]
    assert ops.client("ecs", OTHER_REGION).list_clusters()["clusterArns"] == []
    assert ops.client("kinesis", OTHER_REGION).list_streams()["StreamNames"] == []
    assert [db["DBInstanceIdentifier"] for db in ops.client("rds").describe_db_instances()["DBInstances"]] == \
        [ops.profile.rds.instance] and ops.profile.rds.replica is None
    with pytest.raises(ProfileError, match=r"no DR region \(aws.dr_region\)") as err:
        ops.client("ecs", "dr")
    assert err.value.key == "aws.dr_region"


def test_every_read_only_runbook_is_quiet(single, tmp_path):
    rc, entries = run_all(PROFILE, tmp_path)
    assert rc == 0, {n: e.get("error") for n, e in entries.items()}
    for name, entry in entries.items():
        assert entry["status"] in ("ok", "warn"), (name, entry.get("error"))
    overview = findings(entries["system-overview"])
    assert "inventory-primary" in overview and "inventory-dr" not in overview
    assert overview["dr-readiness"]["status"] == "ok" and "single-region" in overview["dr-readiness"]["detail"]
    assert overview["dr-readiness"]["figures"]["dr_configured"] is False


def test_the_dr_runbook_checks_backups_and_refuses_a_regional_failover(single, tmp_path):
    rc, entry = run("disaster-recovery", tmp_path, profile=PROFILE)
    checks = findings(entry)
    assert rc == 0 and entry["status"] == "ok", entry.get("error")
    assert checks["backup-age"]["status"] == checks["primary-region"]["status"] == "ok"
    assert "single-region" in checks["dr-readiness"]["detail"]
    rpo = checks["rpo"]
    assert "no DR region" in rpo["detail"] and "no read replica (rds.replica)" in rpo["detail"]
    assert rpo["figures"]["dr_stream_idle_min"] is None and rpo["figures"]["replica_lag_s"] is None
    for operation, named in (("regional-failover", "names no DR region to fail over to"),
                             ("database-failover", "parameter 'replica'")):
        proc = runbook("run", "disaster-recovery", "--profile", PROFILE, "--archive", str(tmp_path / "refused"),
                       "-p", f"operation={operation}")
        assert proc.returncode == 2 and named in proc.stderr, proc.stderr
    assert not list((tmp_path / "refused").rglob("*.ipynb"))


def test_the_outage_and_backup_drills_detect_their_faults(single, tmp_path):
    proc = runbook("drill", "region-outage", "stale-backup", "--profile", PROFILE, "--archive", str(tmp_path),
                   timeout=600)
    assert proc.returncode == 0 and "2/2 drills detected" in proc.stdout, proc.stdout + proc.stderr
    details = [c.detail for p in tmp_path.rglob("*disaster-recovery*.ipynb")
               for c in read_findings(json.loads(p.read_text()))]
    assert any("no DR region to fail over to" in d for d in details), details


def test_init_drafts_a_single_region_profile(single, tmp_path):
    out = tmp_path / "single.yaml"
    proc = run_init("--endpoint", "sandbox", "-o", str(out))
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert "single region" in proc.stderr
    draft = load_profile(str(out))
    assert draft.aws.primary_region == "eu-west-1" and not draft.has_dr
    text = out.read_text()
    written = yaml.safe_load(text)          # the draft's own keys (it extends _common, whose DR names go unused)
    assert "dr_region" not in written["aws"] and "dr_cluster" not in written["ecs"]
    assert "dr_stream" not in written["kinesis"] and "dr_alb_dns" not in written["dns"]
    assert not [s for s in written["services"] if "dr_desired_count" in s]
    assert written["rds"] == {"instance": "clicks-meta-pg", "replica": None} and draft.rds.replica is None
    assert "(eu-west-1 only)" in text.splitlines()[0]
