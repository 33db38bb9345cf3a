"""Kinesis changes: resharding in steps ``UpdateShardCount`` allows, stream encryption, and skipping a
consumer's checkpoint in the DynamoDB checkpoint table (the old sequence number is the undo)."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

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
        return ops.client("kinesis", region).describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
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
def _read_checkpoint(ops: "Ops", change: Change) -> str | None:
    item = ops.client("dynamodb", change.region).get_item(
        TableName=change.params["TableName"], Key=change.params["Key"], ConsistentRead=True).get("Item")
    return item["SequenceNumber"]["S"] if item and "SequenceNumber" in item else None


def _checkpoint_change(ops: "Ops", table: str, shard_id: str, current: str | None, new: str, region: str,
                       undo: Change | None = None) -> Change:
    reg = ops.region(region)
    key = {"ShardId": {"S": shard_id}}
    values = {":seq": {"S": new}}
    return Change(kind="dynamodb.checkpoint", resource=f"checkpoint {table}[{shard_id}] ({reg})",
                  attribute="SequenceNumber", current=current, new=new, service="dynamodb", operation="update_item",
                  params={"TableName": table, "Key": key, "UpdateExpression": "SET SequenceNumber = :seq",
                          "ExpressionAttributeValues": values},
                  cli=aws("dynamodb", "update-item", reg, table_name=table, key=key,
                          update_expression="SET SequenceNumber = :seq", expression_attribute_values=values),
                  target=shard_id, region=region, undo=undo,
                  note="records between the old and new sequence numbers are skipped by the consumer")


def read_checkpoint(ops: "Ops", shard_id: str, *, table: str | None = None, region: str = "primary") -> str | None:
    """A shard's checkpointed sequence number (None when the shard has no checkpoint)."""
    table = table or ops.profile.dynamodb.checkpoint_table
    return _read_checkpoint(ops, _checkpoint_change(ops, table, shard_id, None, "0", region))


def plan_checkpoint_skip(ops: "Ops", shard_id: str, sequence_number: str, *, table: str | None = None,
                         region: str = "primary") -> Plan:
    """Move a shard's checkpoint to ``sequence_number`` (skip poison records); the undo restores the old one."""
    table = table or ops.profile.dynamodb.checkpoint_table
    if not str(sequence_number).isdigit():
        raise ParameterError("sequence_number", sequence_number, "a Kinesis sequence number (digits only)")
    probe = _checkpoint_change(ops, table, shard_id, None, str(sequence_number), region)
    current = _read_checkpoint(ops, probe)
    if current is None:
        raise ParameterError("shard_id", shard_id, f"a shard with a checkpoint in {table}")
    undo = _checkpoint_change(ops, table, shard_id, str(sequence_number), current, region)
    return Plan(f"skip {shard_id} checkpoint to {sequence_number}",
                [_checkpoint_change(ops, table, shard_id, current, str(sequence_number), region, undo)], ops)


kinds.register("kinesis.shard_count", read=_read_shards, execute=_execute_shards)
kinds.register("kinesis.encryption", read=_read_encryption)
kinds.register("dynamodb.checkpoint", read=_read_checkpoint)
