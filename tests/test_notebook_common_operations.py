"""Drills: the Common Operations notebook run headless (``runbook run``) against the sandbox. With its
defaults it plans nothing and changes nothing; a backfill shows its progress per day and inserts exactly the
missing events; a blue-green deploy applied while the service's tasks crash (api-down) is rolled back
automatically, and the environment values it copies to the new revision appear nowhere in the run's output."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest

from runbook_cli import figures, findings, finish, output_notebook, start
from test_actions_env import snapshot
from test_operations import planted_secret

from opslib.actions import AuditLog

pytestmark = pytest.mark.slow
NOTEBOOK = "common-operations"


@pytest.fixture(scope="module")
def drill_sandbox(sandbox):
    """The session sandbox, changed by this module's drills and reset once after them."""
    yield sandbox
    sandbox.reset()


def _records(archive, run_id: str):
    return [r for r in AuditLog(archive / "audit").records() if r.run_id == run_id]


def _text(entry) -> str:
    return json.dumps([c.get("outputs", []) for c in output_notebook(entry).cells])


def test_defaults_backfill_and_a_deploy_rolled_back(ops, drill_sandbox, tmp_path):
    """Three runs at once (to save time): the defaults, a backfill of 3 days applied, and a blue-green deploy
    applied while api-down makes ingestion-api's tasks crash."""
    before = snapshot(ops)
    drill_sandbox.inject("api-down")
    day = ops.now().date()
    with planted_secret(drill_sandbox) as secret:     # in the running ingestion-api:24, which the deploy copies
        procs = [start(NOTEBOOK, tmp_path / "defaults"),
                 start(NOTEBOOK, tmp_path / "backfill", "operation=backfill", f"start_date={day - timedelta(days=2)}",
                       f"end_date={day}", "dry_run=False"),
                 start(NOTEBOOK, tmp_path / "deploy", "operation=deploy-service",
                       "image=123456789012.dkr.ecr.us-east-1.amazonaws.com/ingestion-api:1.25.0",
                       "dry_run=False", "watch_interval=1.0", "watch_seconds=60.0")]
        (_, entry), (_, back), (rc, deploy) = [finish(p) for p in procs]
        registered = ops.client("ecs").describe_task_definition(taskDefinition="ingestion-api:25")["taskDefinition"]

    # the defaults: nothing planned, one audited attempt without steps, the capacity picture
    assert entry["status"] in ("ok", "warn", "fail") and entry.get("error") is None, entry.get("error")
    found = findings(entry)
    assert found["operation status"]["status"] == "ok" and "nothing to change" in found["operation status"]["detail"]
    assert found["ecs-tasks"]["status"] == "warn" and "ingestion-api" in found["ecs-tasks"]["detail"]  # api-down
    assert found["kinesis-shard-throughput"]["figures"]["open_shards"] == 128
    records = _records(tmp_path / "defaults", entry["id"])
    assert len(records) == 1 and records[0].dry_run and records[0].status == "planned" and not records[0].steps
    assert len(figures(entry)) == 1                                   # the shard throughput chart only

    # the backfill: per-day progress, exactly the missing events inserted
    assert back.get("error") is None, back.get("error")
    result = findings(back)["backfill result"]
    assert result["status"] == "ok", result
    inserted = result["figures"]["inserted"]
    assert inserted == result["figures"]["events"] > 0 and result["figures"]["days"] == 3
    assert result["figures"]["objects"] == 11
    (bf_record,) = _records(tmp_path / "backfill", back["id"])
    assert bf_record.status == "applied" and len(bf_record.steps) == 3
    assert sum(s.before - s.after for s in bf_record.steps) == inserted
    progress = [f for f in figures(back) if "Backfill per day" in f["layout"]["title"]["text"]]
    assert len(progress) == 1
    bars = {t["name"]: t["y"] for t in progress[0]["data"]}
    assert sum(bars["inserted by this run"]) == inserted and sum(bars["still missing"]) == 0
    assert "missing_after" in _text(back)                             # the per-day progress table
    apply_cell = next(c for c in output_notebook(back).cells if c.cell_type == "code" and "apply(op.plan" in c.source)
    printed = "".join(o.get("text", "") for o in apply_cell.outputs if o.get("output_type") == "stream")
    for n, step in enumerate(bf_record.steps, 1):                     # the live lines, printed while apply ran
        day_ = step.change["params"]["day"]
        assert f"[{n}/3] {day_}: {step.change['meta']['objects']} objects, " in printed
        assert f"{step.before - step.after:,} inserted (" in printed.split(f"[{n}/3] {day_}")[1].splitlines()[0]

    # the deploy: registered, applied, watched, failed, rolled back automatically
    assert rc == 1 and deploy["status"] == "fail", deploy.get("error")
    found = findings(deploy)
    outcome = found["deploy-service result"]
    assert outcome["status"] == "fail" and "rolled back" in outcome["detail"] and "ingestion-api:24" in outcome["detail"]
    records = _records(tmp_path / "deploy", deploy["id"])
    assert [r.status for r in records] == ["applied", "applied"]
    assert [s.change["new"] for s in records[0].steps] == ["ingestion-api:25", "ingestion-api:25"]
    assert records[1].steps[0].change["new"] == "ingestion-api:24" and "roll back" in records[1].title
    watch = [f for f in figures(deploy) if "Deployment watch" in f["layout"]["title"]["text"]]
    assert len(watch) == 1
    traces = {t["name"]: t["y"] for t in watch[0]["data"]}
    # api-down's 5xx were there before the deploy (the baseline): the new revision's crashed tasks end it
    assert max(traces["new revision failed tasks"]) >= 1 and max(traces["5xx % (last 5 min)"]) == 100
    assert "task(s) of the new revision failed" in outcome["detail"]
    # the new revision carries the running one's environment, yet its value is in none of the run's files
    assert {"name": "DB_PASSWORD", "value": secret} in registered["containerDefinitions"][0]["environment"]
    assert "DB_PASSWORD" in _text(deploy)                             # the plan names the variable ...
    files = {"notebook": deploy["files"]["ipynb"]["path"], "html": deploy["files"]["html"]["path"],
             "audit": tmp_path / "deploy" / "audit" / "audit.jsonl"}
    assert [name for name, path in files.items() if secret in open(path).read()] == []   # ... never its value

    # together they changed only the events the backfill inserted: the deploy's rollback restored ingestion-api:24
    after = snapshot(ops)
    assert after.pop("db/events") == before.pop("db/events") + inserted
    assert after == before


def test_a_backfill_into_the_future_is_refused_before_the_kernel_by_the_sandboxs_clock(ops, tmp_path):
    """The notebook's own check (its metadata's ``check``: ``operations.validate``) runs before the kernel with the
    clock the notebook would use, the sandbox's: a day after its today is refused, exit 2, nothing archived."""
    from runbook_cli import runbook
    tomorrow = ops.now().date() + timedelta(days=1)
    proc = runbook("run", NOTEBOOK, "--archive", str(tmp_path / "runs"), "-p", "operation=backfill",
                   "-p", f"start_date={tomorrow}", "-p", f"end_date={tomorrow}")
    assert proc.returncode == 2, proc.stderr
    assert "end_date" in proc.stderr and f"a day up to today ({ops.now().date()})" in proc.stderr
    assert not (tmp_path / "runs").exists()
