"""`runbook init` without a sandbox: bad input refused before any AWS call, the pieces that guess (checkpoint
layouts, the warehouse's columns, buckets, roles), the YAML with its comments, refused calls kept as gaps,
and the preflight's report of the TODOs left."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import boto3
import pytest
import yaml
from botocore.exceptions import ClientError

from opslib.config import load_profile
from opslib.discovery import guess, render, warehouse
from opslib.discovery.reader import Reader
from opslib.discovery.scan import Region
from opslib.runner.preflight import preflight, todo_markers

ROOT = Path(__file__).resolve().parent.parent


def init(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    import os
    environ = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-c", "from opslib.cli import run; run()", "init", *args],
                          capture_output=True, text=True, timeout=120, env=environ)


# -- bad input, before any AWS call ----------------------------------------------------------------------------
# An endpoint nobody listens on: a command that got as far as calling AWS would say it could not connect.
NOWHERE = "http://127.0.0.1:9"


@pytest.mark.parametrize("args, param, words", [
    (["--region", "europe-west"], "--region", "not an AWS region name"),
    (["--region", "eu-west-1", "--dr-region", "EU_CENTRAL"], "--dr-region", "not an AWS region name"),
    (["--region", "eu-west-1", "--dr-region", "eu-west-1"], "--dr-region", "must differ"),
    (["--endpoint", "localhost:4566"], "--endpoint", "not an http(s) URL"),
    (["-o", "profile.json"], "--output", "must end with .yaml"),
    (["--name", "my pipeline!"], "--name", "letters, digits"),
])
def test_bad_input_names_the_parameter_before_any_call(tmp_path, args, param, words):
    if "-o" not in args:
        args = [*args, "-o", str(tmp_path / "p.yaml")]
    proc = init(*args, "--endpoint", NOWHERE) if "--endpoint" not in args else init(*args)
    assert proc.returncode == 2, proc.stderr
    assert param in proc.stderr and words in proc.stderr
    assert "Could not connect" not in proc.stderr and "reading" not in proc.stderr
    assert not (tmp_path / "p.yaml").exists()


def test_an_existing_output_file_needs_force(tmp_path):
    out = tmp_path / "p.yaml"
    out.write_text("name: mine\n")
    proc = init("--region", "eu-west-1", "--dr-region", "eu-central-1", "--endpoint", NOWHERE, "-o", str(out))
    assert proc.returncode == 2 and "--output" in proc.stderr and "--force" in proc.stderr
    assert out.read_text() == "name: mine\n"
    proc = init("--region", "eu-west-1", "--dr-region", "eu-central-1", "--endpoint", NOWHERE,
                "-o", str(tmp_path / "missing" / "p.yaml"))
    assert proc.returncode == 2 and "does not exist" in proc.stderr


# -- the guesses ---------------------------------------------------------------------------------------------
def test_checkpoint_layouts_are_recognised_by_their_key_schema():
    assert guess.checkpoint_layout({"HASH": "leaseKey"}) == "kcl"
    assert guess.checkpoint_layout({"HASH": "ShardId"}) == "seed"
    assert guess.checkpoint_layout({"HASH": "user_id", "RANGE": "window_start"}) is None
    assert guess.checkpoint_layout({"HASH": "ShardId", "RANGE": "ts"}) is None


def test_the_warehouse_events_table_and_its_renamed_columns():
    rows = [("analytics", "user_events", c, t) for c, t in
            (("id", "VARCHAR"), ("uid", "VARCHAR"), ("kind", "VARCHAR"), ("occurred_at", "TIMESTAMP WITH TIME ZONE"))]
    rows += [("main", "error_logs", "message", "VARCHAR"), ("main", "error_logs", "logged_at", "TIMESTAMP")]
    found = warehouse.choose(rows)
    assert found["table"] == "analytics.user_events"
    assert found["columns"] == {"event_id": "id", "user_id": "uid", "event_type": "kind", "event_timestamp": "occurred_at"}
    plain = [("main", "events", c, "VARCHAR") for c in ("event_id", "user_id", "event_type")]
    plain.append(("main", "events", "event_timestamp", "TIMESTAMP"))
    assert warehouse.choose(plain) == {**warehouse.choose(plain), "table": "events", "columns": {}}
    assert warehouse.choose([("public", "audit_logs", "actor", "text")]) is None


@pytest.mark.parametrize("column, dtype, unit", [("ts_ms", "BIGINT", "epoch_ms"), ("ts", "bigint", "epoch_s"),
                                                 ("event_time", "character varying", "iso_text")])
def test_a_numeric_time_column_is_drafted_with_its_unit_to_check(column, dtype, unit):
    found = warehouse.choose([("raw", "clicks", c, t) for c, t in
                              (("event_id", "VARCHAR"), ("user_id", "VARCHAR"), (column, dtype))])
    assert found["columns"].get("event_timestamp", "event_timestamp") == column and found["timestamps"] == unit
    assert found["unsure"] and f"{column} is {dtype.lower()}" in found["evidence"]
    assert [warehouse.epoch_unit(c) for c in ("event_time_millis", "created_us", "epoch")] == \
        ["epoch_ms", "epoch_us", "epoch_s"]


def _region(name: str, **kw) -> Region:
    r = Region(name)
    for k, v in kw.items():
        setattr(r, k, v)
    return r


def test_buckets_are_told_apart_by_content_and_name():
    b = lambda **kw: {"region": "eu-west-1", "storage_classes": set(), "expires": False, "versioned": False,  # noqa: E731
                      "keys": [], **kw}
    primary = _region("eu-west-1", trails=[{"name": "t", "bucket": "x-audit-logs", "home": "eu-west-1"}], buckets={
        "x-raw": b(storage_classes={"STANDARD_IA", "GLACIER"}, keys=["events/2026/11/25/00.json.gz"]),
        "x-archive": b(storage_classes={"GLACIER"}),
        "x-dumps": b(versioned=True, keys=["daily/2026/11/25/db.dump"]),
        "x-packages": b(keys=["validator-v1.2.0.zip"]),
        "x-audit-logs": b(),
        "x-lb-logs": b(keys=["2026/11/25/alb-access.log"]),
    })
    d = guess.Draft()
    assert guess._buckets(primary, d) == {
        "events_bucket": "x-raw", "archive_bucket": "x-archive", "backups_bucket": "x-dumps",
        "lambda_artifacts_bucket": "x-packages", "access_logs_bucket": "x-lb-logs", "cloudtrail_bucket": "x-audit-logs"}
    assert "a trail writes to it" in d.notes[("s3", "cloudtrail_bucket")].text
    assert not d.todos()


def test_roles_come_from_evidence_and_the_undecided_are_todo():
    lb = {"name": "edge", "dns": "edge-1.eu-west-1.elb.amazonaws.com", "arn": "arn:lb/app/edge/1", "scheme": "internet-facing",
          "type": "application", "dimension": "app/edge/1", "forwards": {"tg-a"}}
    svc = lambda name, tgs: {"name": name, "desired": 3, "target_groups": tgs, "log_groups": [f"/svc/{name}"],  # noqa: E731
                             "task_definition": name}
    primary = _region("eu-west-1", clusters={"main": [svc("front", ["tg-a"]), svc("worker", []), svc("sidecar", [])]},
                      load_balancers=[lb], target_groups={"tg-a": {"name": "front-tg", "health_check_path": "/ping", "lbs": []}},
                      streams={"clicks": {"shards": 4, "consumers": []}},
                      tables={"clicks-app-leases": {"keys": {"HASH": "leaseKey"}, "backups": 0}},
                      functions={"schema-guard": {"aliases": ["v1", "live"]}, "misc-cron": {"aliases": []}})
    items = {"clicks-app-leases": [{"leaseKey": {"S": "shardId-0"}, "leaseOwner": {"S": "worker-abc-1"}},
                                   {"leaseKey": {"S": "shardId-1"}, "leaseOwner": {"S": "worker-abc-2"}}]}
    d = guess.build(primary, _region("eu-central-1"), account="1", name="x", endpoint_url=None, sandbox=False,
                    items=items, warehouse=None, gaps=[], timeouts={})
    roles = {s["name"]: s["role"] for s in d.values["services"]}
    assert roles == {"front": "ingest", "worker": "process", "sidecar": "TODO", "schema-guard": "validate"}
    at = {s["name"]: i for i, s in enumerate(d.values["services"])}
    assert list(at) == ["front", "worker", "schema-guard", "sidecar"]          # in role order, undecided last
    front = d.values["services"][0]
    assert front["health_check"] == "/ping" and front["target_group"] == "front-tg" and front["dr_desired_count"] == 3
    assert "behind the internet-facing load balancer edge" in d.notes[("services", 0)].text
    assert "leases" in d.notes[("services", 1)].text and d.notes[("services", at["sidecar"])].todo
    assert d.values["kinesis"]["checkpoint_layout"] == "kcl" and d.values["kinesis"]["consumer"] == "clicks-app"
    assert d.values["services"][at["schema-guard"]]["alias"] == "live"
    assert "Lambda function misc-cron (no role evidence)" in d.ignored
    todo_paths = dict(d.todos())
    assert "ecs.dr_cluster" in todo_paths and "contacts" in todo_paths and "metrics.requests" in todo_paths


# -- YAML, gaps, TODOs in the preflight ------------------------------------------------------------------------
def _minimal_draft() -> guess.Draft:
    primary = _region("eu-west-1", clusters={"c": [{"name": "api", "desired": 2, "target_groups": [], "log_groups": [],
                                                    "task_definition": "api"}]})
    return guess.build(primary, _region("eu-central-1", clusters={"c-dr": []}), account="210987654321", name="draft",
                       endpoint_url=None, sandbox=False, items={}, warehouse=None, timeouts={"connect_timeout": 5},
                       gaps=[])


def test_the_draft_loads_as_a_profile_and_the_preflight_lists_its_todos(tmp_path):
    d = _minimal_draft()
    from opslib.discovery.reader import Gap
    d.gaps.append(Gap("rds:DescribeDBInstances", "eu-west-1", "access", "AccessDenied"))
    text = render.render(d, command="runbook init", when="now", account="210987654321", primary="eu-west-1",
                         dr="eu-central-1")
    assert "# Calls refused (1)" in text and "rds:DescribeDBInstances in eu-west-1: access (AccessDenied)" in text
    assert "role: TODO  # " not in text or "TODO:" in text
    assert yaml.safe_load(text)["extends"] == "_common"
    path = tmp_path / "draft.yaml"
    path.write_text(text)
    profile = load_profile(str(path))
    assert profile.aws.account_id == "210987654321" and profile.services[0].role == "TODO"
    assert profile.contacts.on_call[0].name == "TODO"
    # the draft's own metrics, not _common's sandbox dimensions
    assert "prod-alb" not in str(profile.metrics)
    marks = todo_markers(profile)
    assert "services[0].role" in marks and any(m.startswith("line ") and "environment" in m for m in marks)
    report = preflight(profile, needs=[])
    todo = {p.name: p for p in report.probes}["profile-todo"]
    assert todo.status == "warn" and f"{len(marks)} TODO" in todo.detail and str(path) in todo.remedy
    assert report.ok                      # TODOs are to fill in, not a reason to refuse a run


def test_a_dimension_extends_would_merge_in_is_a_todo():
    d = guess.Draft(values={"metrics": {"latency_ms": {"dimensions": {"ServiceName": "api"}},
                                        "requests": {"dimensions": {"LoadBalancer": "app/x/1"}}}})
    guess.merged_dimensions(d, {"latency_ms": {"dimensions": {"Service": "ingestion-api"}},
                                "requests": {"dimensions": {"LoadBalancer": "app/y/2"}}})
    assert [p for p, _ in d.todos()] == ["metrics.latency_ms"] and "Service" in d.todos()[0][1]


def test_a_profile_without_todo_has_no_todo_probe():
    report = preflight(load_profile("sandbox"), needs=[])
    assert "profile-todo" not in {p.name for p in report.probes} and not todo_markers(load_profile("sandbox"))


def test_refused_calls_are_gaps_and_reads_go_on():
    session = boto3.Session(aws_access_key_id="x", aws_secret_access_key="y", region_name="eu-west-1")

    def deny(model, **_):
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"},
                           "ResponseMetadata": {"HTTPStatusCode": 400}}, model.name)
    session.events.register("before-call.kinesis", deny)
    session.events.register("before-call.lambda.ListFunctions", deny)
    reader = Reader(session, endpoint_url="http://127.0.0.1:9")
    assert reader.pages("kinesis", "eu-west-1", "list_streams", "StreamNames") == []
    assert reader.pages("lambda", "eu-west-1", "list_functions", "Functions") == []
    assert [g.line() for g in reader.gaps] == ["kinesis:ListStreams in eu-west-1: access (AccessDeniedException)",
                                               "lambda:ListFunctions in eu-west-1: access (AccessDeniedException)"]
    with pytest.raises(ValueError, match="reads only"):
        reader.call("ecs", "eu-west-1", "update_service", cluster="c", service="s", desiredCount=0)
