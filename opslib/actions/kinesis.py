"""Kinesis changes: resharding in steps ``UpdateShardCount`` allows, stream encryption, and skipping a
consumer's checkpoint in the DynamoDB checkpoint table (the old sequence number is the undo)."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from ..aws import checkpoints
from ..aws import kinesis as kinesis_reads
from ..errors import ParameterError
from . import kinds
from ._cli import aws
from .plan import Change, Plan

if TYPE_CHECKING:
    from ..connection import Ops


def _stream(ops: "Ops", stream: str | None, region: str) -> str:
    return stream or (ops.profile.kinesis.dr_stream if region == "dr" else ops.profile.kinesis.stream)


def summary(ops: "Ops", stream: str, region: str = "primary") -> dict:
    try:
        return kinesis_reads.stream_summary(ops.client("kinesis", region), stream)
    except ClientError as exc:
        raise ParameterError("stream", stream, f"an existing Kinesis stream in {ops.region(region)}") from exc


def reshard_steps(current: int, target: int) -> list[int]:
    """Shard counts to pass through, each at most double or half the one before."""
    steps, n = [], current
    while n != target:
        n = min(target, 2 * n) if target > n else max(target, math.ceil(n / 2))
        steps.append(n)
    return steps


# -- shard count -----------------------------------------------------------------------------------
def _read_shards(ops: "Ops", change: Change) -> int:
    return summary(ops, change.params["StreamName"], change.region)["OpenShardCount"]


def _wait_active(ops: "Ops", stream: str, region: str) -> None:
    ops.client("kinesis", region).get_waiter("stream_exists").wait(
        StreamName=stream, WaiterConfig={"Delay": 5, "MaxAttempts": 120})


def _execute_shards(ops: "Ops", change: Change) -> None:
    """Wait for ACTIVE, reshard, wait for ACTIVE again (the next step needs an ACTIVE stream)."""
    stream = change.params["StreamName"]
    _wait_active(ops, stream, change.region)
    kinds.call_boto3(ops, change)
    _wait_active(ops, stream, change.region)


def _shard_change(ops: "Ops", stream: str, current: int, new: int, region: str, undo: Change | None = None) -> Change:
    reg = ops.region(region)
    return Change(kind="kinesis.shard_count", resource=f"kinesis stream {stream} ({reg})", attribute="OpenShardCount",
                  current=current, new=new, service="kinesis", operation="update_shard_count",
                  params={"StreamName": stream, "TargetShardCount": new, "ScalingType": "UNIFORM_SCALING"},
                  cli=aws("kinesis", "update-shard-count", reg, stream_name=stream, target_shard_count=new,
                          scaling_type="UNIFORM_SCALING"), target=stream, region=region, undo=undo)


def plan_reshard(ops: "Ops", target: int, *, stream: str | None = None, region: str = "primary") -> Plan:
    """Reshard to ``target`` open shards in as many ``UpdateShardCount`` calls as the API requires."""
    stream = _stream(ops, stream, region)
    if not isinstance(target, int) or target < 1:
        raise ParameterError("target", target, "a positive number of shards")
    current = summary(ops, stream, region)["OpenShardCount"]
    changes, n = [], current
    for step in reshard_steps(current, target):
        changes.append(_shard_change(ops, stream, n, step, region, _shard_change(ops, stream, step, n, region)))
        n = step
    notes = []
    if len(changes) > 1:
        notes.append(f"UpdateShardCount may at most double or halve the open shards per call: {current} -> "
                     f"{target} takes {len(changes)} calls ({' -> '.join(map(str, [current] + reshard_steps(current, target)))}); "
                     "AWS also limits how many calls a stream may take in 24 hours")
    return Plan(f"reshard {stream} from {current} to {target} shards", changes, ops, notes)


# -- encryption ------------------------------------------------------------------------------------
def _read_encryption(ops: "Ops", change: Change) -> str:
    return summary(ops, change.params["StreamName"], change.region).get("EncryptionType", "NONE")


def _encryption_change(ops: "Ops", stream: str, current: str, new: str, key_id: str, region: str,
                       undo: Change | None = None) -> Change:
    reg = ops.region(region)
    start = new == "KMS"
    op = "start_stream_encryption" if start else "stop_stream_encryption"
    return Change(kind="kinesis.encryption", resource=f"kinesis stream {stream} ({reg})", attribute="EncryptionType",
                  current=current, new=new, service="kinesis", operation=op,
                  params={"StreamName": stream, "EncryptionType": "KMS", "KeyId": key_id},
                  cli=aws("kinesis", op.replace("_", "-"), reg, stream_name=stream, encryption_type="KMS",
                          key_id=key_id), target=stream, region=region, undo=undo)


def plan_stream_encryption(ops: "Ops", *, stream: str | None = None, region: str = "dr",
                           key_id: str = "alias/aws/kinesis") -> Plan:
    """Turn on KMS encryption of a stream (the runbook's ``enable-stream-encryption`` does not exist:
    the command is ``start-stream-encryption``)."""
    stream = _stream(ops, stream, region)
    current = summary(ops, stream, region).get("EncryptionType", "NONE")
    note = "the runbook's `aws kinesis enable-stream-encryption` does not exist; it is `start-stream-encryption`"
    if current == "KMS":
        return Plan(f"encrypt {stream}", [], ops, [f"{stream} is already KMS-encrypted", note])
    undo = _encryption_change(ops, stream, "KMS", current, key_id, region)
    return Plan(f"encrypt {stream}", [_encryption_change(ops, stream, current, "KMS", key_id, region, undo)], ops, [note])


# -- checkpoint skip -------------------------------------------------------------------------------
def _layout(ops: "Ops") -> str:
    return ops.profile.kinesis.checkpoint_layout


def _change_layout(change: Change) -> str:
    """The checkpoint layout a change was planned for (records from before layouts: by their key)."""
    return change.meta.get("layout") or ("kcl" if checkpoints.LAYOUTS["kcl"].key in change.params["Key"] else "seed")


def _read_checkpoint(ops: "Ops", change: Change) -> str | None:
    found = checkpoints.read_one(ops.client("dynamodb", change.region), change.params["TableName"],
                                 _change_layout(change), next(iter(change.params["Key"].values()))["S"])
    return found.sequence_number if found else None


def _execute_checkpoint(ops: "Ops", change: Change) -> None:
    checkpoints.write(ops.client("dynamodb", change.region), change.params)


def _checkpoint_change(ops: "Ops", table: str, shard_id: str, current: str | None, new: str, region: str,
                       undo: Change | None = None, *, layout: str = "seed", seen_counter: int | None = None) -> Change:
    reg = ops.region(region)
    params = checkpoints.update(table, layout, shard_id, new, seen_counter=seen_counter)
    cli = aws("dynamodb", "update-item", reg, table_name=table, key=params["Key"],
              update_expression=params["UpdateExpression"],
              **({"condition_expression": params["ConditionExpression"]} if "ConditionExpression" in params else {}),
              expression_attribute_values=params["ExpressionAttributeValues"])
    note = "records between the old and new sequence numbers are skipped by the consumer"
    if seen_counter is not None:
        note += (f"; only while the lease's counter is still {seen_counter} (a worker renewing the lease makes "
                 f"this fail: stop the consumer or let the lease expire first), and the worker holding it "
                 f"restarts from the new checkpoint")
    return Change(kind="dynamodb.checkpoint", resource=f"checkpoint {table}[{shard_id}] ({reg})",
                  attribute=checkpoints.layout(layout).sequence, current=current, new=new, service="dynamodb",
                  operation="update_item", params=params, cli=cli, target=shard_id, region=region, undo=undo,
                  note=note, meta={"layout": layout})


def read_checkpoint(ops: "Ops", shard_id: str, *, table: str | None = None, region: str = "primary") -> str | None:
    """A shard's checkpointed sequence number (None when the shard has no checkpoint)."""
    table = table or ops.profile.dynamodb.checkpoint_table
    found = checkpoints.read_one(ops.client("dynamodb", region), table, _layout(ops), shard_id)
    return found.sequence_number if found else None


def plan_checkpoint_skip(ops: "Ops", shard_id: str, sequence_number: str, *, table: str | None = None,
                         region: str = "primary") -> Plan:
    """Move a shard's checkpoint to ``sequence_number`` (skip poison records); the undo restores the old one.

    In a KCL lease table both are conditional on the lease counter they expect (read now for the skip,
    the skip's own for the undo): a lease that moved in between fails the change with "re-plan"."""
    table = table or ops.profile.dynamodb.checkpoint_table
    layout = _layout(ops)
    if not str(sequence_number).isdigit():
        raise ParameterError("sequence_number", sequence_number, "a Kinesis sequence number (digits only)")
    found = checkpoints.read_one(ops.client("dynamodb", region), table, layout, shard_id)
    if found is None or found.sequence_number is None:
        raise ParameterError("shard_id", shard_id, f"a shard with a checkpoint in {table}")
    current, seen = found.sequence_number, found.counter
    if layout == "kcl" and seen is None:
        raise ParameterError("shard_id", shard_id, f"a lease with a leaseCounter in {table} (KCL layout)")
    after = seen + 1 if seen is not None else None
    undo = _checkpoint_change(ops, table, shard_id, str(sequence_number), current, region, layout=layout,
                              seen_counter=after)
    notes = []
    if layout == "kcl":
        notes.append(f"{table} is a KCL lease table: {shard_id} is leased by {found.owner or 'nobody'} "
                     f"(leaseCounter {seen}); the skip applies only if no worker renews the lease first")
    return Plan(f"skip {shard_id} checkpoint to {sequence_number}",
                [_checkpoint_change(ops, table, shard_id, current, str(sequence_number), region, undo,
                                    layout=layout, seen_counter=seen)], ops, notes)


kinds.register("kinesis.shard_count", read=_read_shards, execute=_execute_shards)
kinds.register("kinesis.encryption", read=_read_encryption)
kinds.register("dynamodb.checkpoint", read=_read_checkpoint, execute=_execute_checkpoint)
