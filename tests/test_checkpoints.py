"""The checkpoint table in both layouts (``kinesis.checkpoint_layout: seed | kcl``): reads, the poison scan
after the checkpoints, and the checkpoint skip with its undo, against a moto server over HTTP. A KCL skip
(and its undo) is conditional on the lease counter: a worker renewing the lease in between fails it cleanly."""
from __future__ import annotations

import json
import os
import random
from datetime import datetime, timedelta, timezone

import pytest

from opslib import connect
from opslib.actions import apply, plan_undo
from opslib.actions import kinesis as kinesis_actions
from opslib.aws import checkpoints
from opslib.config import load_profile
from opslib.errors import ActionFailed, ParameterError
from opslib.sections.incident import diagnostics
from opslib.sandbox import synthetic_records
from opslib.sandbox.state import SandboxState

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)

SHARDS = ("shardId-000000000000", "shardId-000000000001")


@pytest.fixture(scope="module")
def moto_url(act_moto):
    """A moto server in a process of its own (``/moto-api/reset`` below must not wipe a sandbox of this one)."""
    return act_moto


@pytest.fixture(params=["seed", "kcl"])
def env(request, moto_url, tmp_path, monkeypatch):
    """(ops, layout, first sequence numbers per shard) on a fresh table and stream named by a fresh profile."""
    import urllib.request
    urllib.request.urlopen(urllib.request.Request(moto_url + "/moto-api/reset", method="POST"), timeout=10)
    monkeypatch.setenv("OPSLIB_AUDIT_DIR", str(tmp_path / "audit"))
    layout = request.param
    base = load_profile("sandbox")
    profile = base.model_copy(update={"kinesis": base.kinesis.model_copy(update={"checkpoint_layout": layout})})
    SandboxState(dir=str(tmp_path), aws_endpoint=moto_url, health_url="http://127.0.0.1:9/", control_url="",
                 warehouse_path=str(tmp_path / "w.duckdb"), database_url="", now=NOW.isoformat(), seed=1, size=0,
                 pid=os.getpid()).write()
    ops = connect(profile, sandbox_dir=str(tmp_path))
    ddb, kin = ops.client("dynamodb"), ops.client("kinesis")
    table, stream = profile.dynamodb.checkpoint_table, profile.kinesis.stream
    ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST", **checkpoints.table_schema(layout))
    kin.create_stream(StreamName=stream, ShardCount=2)
    first = {}
    good = [json.dumps(e).encode() for e in synthetic_records.events(random.Random(3), NOW, 6)]
    for n, (shard, hash_key) in enumerate(zip(SHARDS, ("0", str(2 ** 127 + 1)))):
        data = good[3 * n:3 * n + 3]
        if n == 1:
            data[1] = b"{not json"              # one poison record after shard 1's checkpoint
        seqs = [kin.put_record(StreamName=stream, Data=d, PartitionKey="p",
                               ExplicitHashKey=hash_key)["SequenceNumber"] for d in data]
        first[shard] = seqs
        ddb.put_item(TableName=table, Item=checkpoints.item(layout, shard, seqs[0], owner="worker-1", counter=7,
                                                            checkpointed_at=NOW - timedelta(minutes=3)))
    yield ops, layout, first
    ops.close()


def _raw(ops, shard):
    p = ops.profile
    return ops.client("dynamodb").get_item(TableName=p.dynamodb.checkpoint_table,
                                           Key=checkpoints.key(p.kinesis.checkpoint_layout, shard))["Item"]


def _renew(ops, shard):
    """What a live KCL worker does every few seconds: bump the lease counter."""
    ops.client("dynamodb").update_item(TableName=ops.profile.dynamodb.checkpoint_table, Key={"leaseKey": {"S": shard}},
                                       UpdateExpression="SET leaseCounter = leaseCounter + :one",
                                       ExpressionAttributeValues={":one": {"N": "1"}})


def test_read_all_and_the_diagnostics_frame_in_either_layout(env):
    ops, layout, first = env
    frame = checkpoints.read_all(ops.client("dynamodb"), ops.profile.dynamodb.checkpoint_table, layout)
    assert list(frame["shard_id"]) == list(SHARDS)
    assert list(frame["sequence_number"]) == [first[s][0] for s in SHARDS]
    assert set(frame["owner"]) == {"worker-1"}
    diag = diagnostics.checkpoints(ops, now=NOW)
    assert list(diag["shard"]) == list(SHARDS) and list(diag["sequence_number"]) == [first[s][0] for s in SHARDS]
    if layout == "kcl":          # a lease table has a counter and no checkpoint time
        assert list(frame["counter"]) == [7, 7] and list(diag["lease_counter"]) == [7, 7]
        assert diag["age_seconds"].isna().all()
    else:
        assert frame["counter"].isna().all()
        assert list(diag["age_seconds"]) == [180.0, 180.0]
    # the records after each checkpoint are what the poison scan reads
    scan = diagnostics.scan_poison(ops, diag)
    assert dict(zip(scan.shards["shard"], scan.shards["read"])) == {s: 2 for s in SHARDS}
    assert scan.sequence_numbers() == {SHARDS[1]: [first[SHARDS[1]][1]]}


def test_the_other_layout_is_named_instead_of_a_key_error(env):
    ops, layout, _ = env
    other = "seed" if layout == "kcl" else "kcl"
    with pytest.raises(ParameterError, match="checkpoint_layout"):
        checkpoints.read_all(ops.client("dynamodb"), ops.profile.dynamodb.checkpoint_table, other)


def test_kcl_sentinels_read_from_the_shard_start_or_not_at_all():
    assert checkpoints.iterator_args("TRIM_HORIZON") == {"ShardIteratorType": "TRIM_HORIZON"}
    assert checkpoints.iterator_args("LATEST") == {"ShardIteratorType": "LATEST"}
    assert checkpoints.iterator_args("SHARD_END") is None
    assert checkpoints.iterator_args("4961") == {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER",
                                                 "StartingSequenceNumber": "4961"}


def test_skip_applied_then_undone(env, tmp_path):
    ops, layout, first = env
    shard, (old, _, new) = SHARDS[0], first[SHARDS[0]]
    plan = kinesis_actions.plan_checkpoint_skip(ops, shard, new)
    [change] = plan.changes
    assert (change.current, change.new, change.undo.new) == (old, new, old)
    assert ("--condition-expression" in change.cli) == (layout == "kcl")
    result = apply(plan, dry_run=False, ops=ops, audit_database=False)
    assert result.status == "applied" and kinesis_actions.read_checkpoint(ops, shard) == new
    assert kinesis_actions.read_checkpoint(ops, SHARDS[1]) == first[SHARDS[1]][0]      # the other shard untouched
    if layout == "kcl":
        raw = _raw(ops, shard)
        assert raw["leaseCounter"]["N"] == "8" and raw["checkpointSubSequenceNumber"]["N"] == "0"
        assert raw["leaseOwner"]["S"] == "worker-1"
    undo = plan_undo(ops, result.audit_id)
    assert apply(undo, dry_run=False, ops=ops, audit_database=False).status == "applied"
    assert kinesis_actions.read_checkpoint(ops, shard) == old
    if layout == "kcl":
        assert _raw(ops, shard)["leaseCounter"]["N"] == "9"


def test_kcl_skip_fails_cleanly_when_a_worker_renews_the_lease(env):
    ops, layout, first = env
    if layout != "kcl":
        assert "ConditionExpression" not in kinesis_actions.plan_checkpoint_skip(
            ops, SHARDS[0], first[SHARDS[0]][2]).changes[0].params        # seed items carry no lease to respect
        return
    shard, (old, _, new) = SHARDS[0], first[SHARDS[0]]
    plan = kinesis_actions.plan_checkpoint_skip(ops, shard, new)
    _renew(ops, shard)
    with pytest.raises(ActionFailed, match="lease of shardId-000000000000 .* moved .*re-plan") as failed:
        apply(plan, dry_run=False, ops=ops, audit_database=False)
    assert failed.value.result.status == "failed"
    assert kinesis_actions.read_checkpoint(ops, shard) == old and _raw(ops, shard)["leaseCounter"]["N"] == "8"
    # re-planned, it applies; a renewal before the undo makes the undo fail the same way
    result = apply(kinesis_actions.plan_checkpoint_skip(ops, shard, new), dry_run=False, ops=ops, audit_database=False)
    assert result.status == "applied" and kinesis_actions.read_checkpoint(ops, shard) == new
    _renew(ops, shard)
    with pytest.raises(ActionFailed, match="moved .*re-plan"):
        apply(plan_undo(ops, result.audit_id), dry_run=False, ops=ops, audit_database=False)
    assert kinesis_actions.read_checkpoint(ops, shard) == new
