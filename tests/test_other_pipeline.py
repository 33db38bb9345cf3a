"""Every runbook on a pipeline it has never seen: ``tests/profiles/other-pipeline.yaml`` (eu-west-1 with
eu-central-1 as DR, other names for every resource, services found by role, a KCL lease table for the
consumer's checkpoints, ``analytics.user_events`` with four renamed columns).

The sandbox is started from that profile as ``runbook sandbox up --profile FILE`` starts it (a background
process: moto's backends are per process, and the session sandbox of the other modules may be running in
this one). Every notebook's healthy run passes; the api-down, stream-backup, poison-messages,
region-outage and volume-drop drills each fail the finding written for them, and nothing unrelated."""
from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from conftest import profile_sandbox
from runbook_cli import findings, run, run_init, same_findings, statuses

from opslib.config import load_profile
from opslib.aws import checkpoints
from opslib.sandbox import control

pytestmark = pytest.mark.slow
PROFILE = str(Path(__file__).resolve().parent / "profiles" / "other-pipeline.yaml")
NOTEBOOKS = sorted(p.stem for p in (Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
# Names of the default sandbox that must not exist in this one.
SANDBOX_NAMES = ("prod-cluster", "ingestion-api", "stream-processor", "user-events-prod", "kinesis-checkpoints")


@pytest.fixture(scope="module")
def other(tmp_path_factory):
    with profile_sandbox(tmp_path_factory.mktemp("other-pipeline"), PROFILE, events=50_000) as (ops, state):
        yield ops, state


@pytest.fixture
def drill(other):
    """The sandbox, reset to healthy after the drill; ``inject(name)`` returns what was injected."""
    ops, state = other
    yield ops, (lambda scenario: control.inject(scenario, Path(state.dir))["details"])
    control.reset(Path(state.dir))


def failing(entry: dict) -> set[str]:
    assert entry["status"] != "error", f"{entry['notebook']} raised: {entry.get('error')}"
    return {n for n, c in findings(entry).items() if c["status"] == "fail"}


def test_the_sandbox_seeds_what_the_profile_names(other):
    ops, state = other
    p = ops.profile
    assert state.profile == PROFILE and state.account_id == "210987654321"
    ecs = {which: ops.client("ecs", which) for which in ("primary", "dr")}
    assert ops.region("primary") == "eu-west-1" and ops.region("dr") == "eu-central-1"
    for which, cluster in (("primary", p.ecs.cluster), ("dr", p.ecs.dr_cluster)):
        names = sorted(a.rsplit("/", 1)[-1] for a in ecs[which].list_services(cluster=cluster)["serviceArns"])
        assert names == ["collector", "enricher", "insights-api"], which
    assert ops.client("ecs", "us-east-1").list_clusters()["clusterArns"] == []     # nothing in the sandbox's regions
    assert ops.client("kinesis").describe_stream_summary(StreamName=p.kinesis.stream)["StreamDescriptionSummary"]
    assert ops.client("kinesis", "dr").describe_stream_summary(StreamName=p.kinesis.dr_stream)
    buckets = {b["Name"] for b in ops.client("s3").list_buckets()["Buckets"]}
    assert {p.s3.events_bucket, p.s3.backups_bucket, p.s3.cloudtrail_bucket} <= buckets
    # the consumer's checkpoints: a KCL lease table, one lease per shard, held by the process service's workers
    leases = checkpoints.read_all(ops.client("dynamodb"), p.dynamodb.checkpoint_table, "kcl")
    shards = ops.client("kinesis").describe_stream_summary(StreamName=p.kinesis.stream)["StreamDescriptionSummary"]
    assert len(leases) == shards["OpenShardCount"] and leases["counter"].notna().all()
    assert {o.rsplit("-worker-", 1)[0] for o in leases["owner"]} == {"enricher"}
    with pytest.raises(Exception, match="checkpoint_layout"):
        checkpoints.read_all(ops.client("dynamodb"), p.dynamodb.checkpoint_table, "seed")
    # the warehouse: the schema-qualified table with exactly the mapped columns, under their own names
    with duckdb.connect(state.warehouse_path, read_only=True) as con:
        cols = [r[0] for r in con.execute("SELECT column_name FROM information_schema.columns WHERE "
                                          "table_schema = 'analytics' AND table_name = 'user_events' "
                                          "ORDER BY ordinal_position").fetchall()]
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        rows = con.execute("SELECT count(*) FROM analytics.user_events").fetchone()[0]
    assert cols == ["id", "uid", "kind", "occurred_at"] and "events" not in tables and rows == 50_000
    # none of the default sandbox's names were seeded
    seen = (str(ecs["primary"].list_clusters()) + str(ecs["dr"].list_clusters())
            + str(ops.client("dynamodb").list_tables()) + str(ops.client("kinesis").list_streams())
            + str(ops.client("logs").describe_log_groups()))
    assert not [n for n in SANDBOX_NAMES if n in seen]


@pytest.fixture(scope="module")
def healthy(other, tmp_path_factory):
    """notebook -> (exit code, entry) of its run on the healthy pipeline: each notebook runs once, for the quiet
    test and as the reference of `runbook init`'s draft."""
    runs: dict[str, tuple[int, dict]] = {}

    def get(notebook: str) -> tuple[int, dict]:
        if notebook not in runs:
            runs[notebook] = run(notebook, tmp_path_factory.mktemp("healthy"), profile=PROFILE)
        return runs[notebook]
    return get


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_every_notebook_is_quiet_on_the_healthy_pipeline(healthy, notebook):
    rc, entry = healthy(notebook)
    assert entry["status"] in ("ok", "warn"), entry.get("error")
    assert rc == 0 and findings(entry) and not failing(entry), \
        {n: c["detail"] for n, c in findings(entry).items() if c["status"] == "fail"}


def test_api_down_drill_fails_the_ingest_service_only(drill, tmp_path):
    ops, inject = drill
    assert inject("api-down")["services"] == ["collector"]
    rc, entry = run("critical-services", tmp_path, profile=PROFILE)
    checks = findings(entry)
    assert rc == 1 and failing(entry) == {"service-collector"}, entry.get("error")
    assert "no running tasks" in checks["service-collector"]["detail"]
    rc, entry = run("incident-response", tmp_path, profile=PROFILE)
    assert "procedure-api-down" in failing(entry)


def test_stream_backup_drill_pages_for_the_consumer_lag(drill, tmp_path):
    ops, inject = drill
    inject("stream-backup")
    rc, entry = run("monitoring-alerts", tmp_path, profile=PROFILE)
    assert rc == 1 and failing(entry) == {"alert-stream-backup"}, entry.get("error")
    rc, entry = run("incident-response", tmp_path, profile=PROFILE)
    checks = findings(entry)
    assert "procedure-stream-backup" in failing(entry)
    assert checks["procedure-api-down"]["status"] == checks["procedure-high-error-rate"]["status"] == "ok"


def test_poison_messages_drill_skips_the_kcl_checkpoint_with_the_lease(drill, tmp_path):
    ops, inject = drill
    poison = inject("poison-messages")
    table, shard = ops.profile.dynamodb.checkpoint_table, poison["shard"]
    before = checkpoints.read_one(ops.client("dynamodb"), table, "kcl", shard)
    assert before.sequence_number == poison["stuck_checkpoint"]
    rc, entry = run("incident-response", tmp_path, "dry_run=False", profile=PROFILE)
    checks = findings(entry)
    assert rc == 1 and "hint-poison-messages" in failing(entry), entry.get("error")
    assert checks["hint-poison-messages"]["figures"]["sequence_numbers"] == {shard: poison["poison_sequence_numbers"]}
    assert failing(entry) == {"procedure-stream-backup", "hint-poison-messages"}
    after = checkpoints.read_one(ops.client("dynamodb"), table, "kcl", shard)
    assert after.sequence_number == poison["poison_sequence_numbers"][-1]
    assert (after.counter, after.owner) == (before.counter + 1, before.owner)      # the lease was respected


def test_region_outage_drill_shows_the_dr_side_ready(drill, tmp_path):
    ops, inject = drill
    inject("region-outage")
    rc, entry = run("system-overview", tmp_path, profile=PROFILE)
    assert "dr-readiness" in failing(entry)
    dr = findings(entry)["dr-readiness"]
    assert rc == 1 and dr["status"] == "fail", entry.get("error")
    assert dr["figures"]["primary_out"] is True and dr["figures"]["dr_ready"] is True
    assert "eu-west-1 is down" in dr["detail"] and "eu-central-1 is ready" in dr["detail"]
    assert failing(entry) <= {"dr-readiness", "services-primary", "throughput", "availability"}


def test_volume_drop_drill_fails_completeness_at_the_hour(drill, tmp_path):
    ops, inject = drill
    hour = inject("volume-drop")["hour"]
    rc, entry = run("data-quality", tmp_path, profile=PROFILE)
    assert rc == 1 and failing(entry) == {"completeness"}, entry.get("error")
    completeness = findings(entry)["completeness"]
    assert completeness["figures"]["anomalous_hours"] == [hour[:10] + " " + hour[11:13] + ":00"]


def test_poison_messages_found_and_skipped_through_the_library(drill, tmp_path, monkeypatch):
    """The same drill without a kernel: the scan reads after the leases' checkpoints, the skip and its undo
    go through the lease counter."""
    from opslib.actions import apply, plan_undo
    from opslib.sections.incident import diagnostics, remedies
    ops, inject = drill
    monkeypatch.setenv("OPSLIB_AUDIT_DIR", str(tmp_path / "audit"))
    poison = inject("poison-messages")
    table, shard = ops.profile.dynamodb.checkpoint_table, poison["shard"]
    scan = diagnostics.scan_poison(ops, diagnostics.checkpoints(ops, now=ops.now()))
    assert scan.sequence_numbers() == {shard: poison["poison_sequence_numbers"]}
    before = checkpoints.read_one(ops.client("dynamodb"), table, "kcl", shard)
    result = apply(remedies.plan_skip_poison(ops, scan), dry_run=False, ops=ops, audit_database=False)
    after = checkpoints.read_one(ops.client("dynamodb"), table, "kcl", shard)
    assert result.status == "applied" and after.sequence_number == poison["poison_sequence_numbers"][-1]
    assert (after.counter, after.owner) == (before.counter + 1, before.owner)
    assert not diagnostics.scan_poison(ops, diagnostics.checkpoints(ops, now=ops.now())).found
    apply(plan_undo(ops, result.audit_id), dry_run=False, ops=ops, audit_database=False)
    assert checkpoints.read_one(ops.client("dynamodb"), table, "kcl", shard).sequence_number == poison["stuck_checkpoint"]


# -- runbook init on a pipeline nobody described ---------------------------------------------------------------
def test_init_drafts_the_other_pipeline_and_it_gives_the_same_findings(other, healthy, tmp_path):
    out = tmp_path / "clicks.yaml"
    proc = run_init("--endpoint", "sandbox", "-o", str(out))
    assert proc.returncode == 0, proc.stderr + proc.stdout
    draft, reference = load_profile(str(out)), load_profile(PROFILE)
    assert (draft.aws.primary_region, draft.aws.dr_region) == ("eu-west-1", "eu-central-1")
    assert draft.kinesis.checkpoint_layout == "kcl" and draft.dynamodb == reference.dynamodb
    assert draft.kinesis.consumer == "enricher-app" and draft.ecs.dr_cluster == "clickstream-eu-standby"
    assert {s.name: s.role for s in draft.services} == {s.name: s.role for s in reference.services}
    assert draft.metrics == reference.metrics and draft.dns == reference.dns and draft.s3 == reference.s3
    assert draft.databases.warehouse.events_table == "analytics.user_events"
    assert draft.databases.warehouse.columns == reference.databases.warehouse.columns
    same_findings(str(out), tmp_path / "runs", lambda nb: statuses(healthy(nb)[1]))
