"""The stream consumer's checkpoint table in DynamoDB, in either layout the profile names
(``kinesis.checkpoint_layout``):

* ``seed``: one item per shard ``{ShardId, SequenceNumber, LeaseOwner?, CheckpointedAt?}``;
* ``kcl``: a Kinesis Client Library lease table ``{leaseKey (the shard id), checkpoint (the sequence
  number, or a sentinel such as TRIM_HORIZON), checkpointSubSequenceNumber, leaseOwner, leaseCounter,
  ownerSwitchesSinceCheckpoint}``. KCL records no checkpoint time.

The only code that knows the attribute names: reads return DataFrames / dataclasses, writes are built
here as ``update_item`` arguments. A KCL write is conditional on the lease counter read before it
(``leaseCounter = :seen``) and bumps it, so a worker renewing the lease in between makes the write fail
(:class:`~opslib.errors.ActionFailed`) instead of racing it, and the worker holding the lease drops it
and restarts from the new checkpoint. Clients are passed in.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
from botocore.exceptions import ClientError

from ..errors import ActionFailed, ParameterError

COLUMNS = ["shard_id", "sequence_number", "owner", "counter", "checkpointed_at"]
# KCL writes these instead of a sequence number before the first record / after a closed shard.
SENTINELS = ("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP", "SHARD_END")


@dataclass(frozen=True)
class Layout:
    """Where a layout keeps each field (``None``: the layout has no such attribute)."""
    name: str
    key: str
    sequence: str
    owner: str
    counter: str | None
    written_at: str | None


LAYOUTS = {
    "seed": Layout("seed", key="ShardId", sequence="SequenceNumber", owner="LeaseOwner", counter=None,
                   written_at="CheckpointedAt"),
    "kcl": Layout("kcl", key="leaseKey", sequence="checkpoint", owner="leaseOwner", counter="leaseCounter",
                  written_at=None),
}


def layout(name: "str | Layout") -> Layout:
    if isinstance(name, Layout):
        return name
    try:
        return LAYOUTS[name]
    except KeyError as exc:
        raise ParameterError("checkpoint_layout", name, ", ".join(LAYOUTS)) from exc


@dataclass(frozen=True)
class Checkpoint:
    """One shard's checkpoint as read."""
    shard_id: str
    sequence_number: str | None
    owner: str | None
    counter: int | None
    checkpointed_at: str | None       # ISO time, seed layout only


def _s(item: dict, name: str | None) -> str | None:
    if not name or name not in item:
        return None
    value = item[name]
    return value.get("S") if "S" in value else value.get("N")


def _checkpoint(lay: Layout, item: dict) -> Checkpoint:
    counter = _s(item, lay.counter)
    return Checkpoint(shard_id=_s(item, lay.key), sequence_number=_s(item, lay.sequence), owner=_s(item, lay.owner),
                      counter=int(counter) if counter is not None else None,
                      checkpointed_at=_s(item, lay.written_at))


def read_all(ddb: Any, table: str, layout_name: "str | Layout") -> pd.DataFrame:
    """Every checkpoint of ``table``: shard_id, sequence_number, owner, counter, checkpointed_at (sorted by shard).

    Items without the layout's key (another layout's table) raise a ParameterError naming the layout."""
    lay = layout(layout_name)
    rows = []
    for page in ddb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        for item in page["Items"]:
            if lay.key not in item:
                raise ParameterError("kinesis.checkpoint_layout", lay.name,
                                     f"the layout of {table} (its items have {', '.join(sorted(item))}; "
                                     f"{', '.join(f'{n}: {v.key}' for n, v in LAYOUTS.items())})")
            rows.append(_checkpoint(lay, item).__dict__)
    return pd.DataFrame(rows, columns=COLUMNS).sort_values("shard_id", ignore_index=True)


def read_one(ddb: Any, table: str, layout_name: "str | Layout", shard_id: str) -> Checkpoint | None:
    """One shard's checkpoint (consistent read), or None when the shard has none."""
    lay = layout(layout_name)
    item = ddb.get_item(TableName=table, Key=key(lay, shard_id), ConsistentRead=True).get("Item")
    return _checkpoint(lay, item) if item else None


def key(layout_name: "str | Layout", shard_id: str) -> dict:
    return {layout(layout_name).key: {"S": shard_id}}


def update(table: str, layout_name: "str | Layout", shard_id: str, sequence_number: str, *,
           seen_counter: int | None = None) -> dict:
    """``update_item`` arguments moving ``shard_id``'s checkpoint to ``sequence_number``.

    KCL: conditional on ``leaseCounter = seen_counter`` (required), the sub-sequence reset to 0 and the
    counter bumped (the lease's owner loses it at its next renewal and restarts from this checkpoint)."""
    lay = layout(layout_name)
    if lay.counter is None:
        return {"TableName": table, "Key": key(lay, shard_id), "UpdateExpression": f"SET {lay.sequence} = :seq",
                "ExpressionAttributeValues": {":seq": {"S": sequence_number}}}
    if seen_counter is None:
        raise ParameterError("seen_counter", seen_counter, "the leaseCounter read before the update (KCL layout)")
    return {"TableName": table, "Key": key(lay, shard_id),
            "UpdateExpression": (f"SET {lay.sequence} = :seq, checkpointSubSequenceNumber = :zero, "
                                 f"{lay.counter} = {lay.counter} + :one"),
            "ConditionExpression": f"{lay.counter} = :seen",
            "ExpressionAttributeValues": {":seq": {"S": sequence_number}, ":zero": {"N": "0"}, ":one": {"N": "1"},
                                          ":seen": {"N": str(int(seen_counter))}}}


def seen_counter(params: dict) -> int | None:
    """The lease counter an update built by :func:`update` expects (None: unconditional)."""
    seen = params.get("ExpressionAttributeValues", {}).get(":seen")
    return int(seen["N"]) if seen else None


def write(ddb: Any, params: dict) -> None:
    """Send an update built by :func:`update`; a lost condition is ActionFailed: the lease moved."""
    try:
        ddb.update_item(**params)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        shard = next(iter(params["Key"].values()))["S"]
        now = ddb.get_item(TableName=params["TableName"], Key=params["Key"], ConsistentRead=True).get("Item") or {}
        raise ActionFailed(
            f"the lease of {shard} in {params['TableName']} moved (leaseCounter {seen_counter(params)} when planned, "
            f"now {_s(now, 'leaseCounter')}, owner {_s(now, 'leaseOwner')}): a worker renewed or took it; "
            f"stop the consumer or let its lease expire, then re-plan", failed=shard) from exc


def item(layout_name: "str | Layout", shard_id: str, sequence_number: str, *, owner: str,
         counter: int = 1, checkpointed_at: datetime | None = None) -> dict:
    """A checkpoint item in the layout (what a consumer writes; the sandbox seeds these)."""
    lay = layout(layout_name)
    out = {lay.key: {"S": shard_id}, lay.sequence: {"S": sequence_number}, lay.owner: {"S": owner}}
    if lay.counter:
        out.update({lay.counter: {"N": str(counter)}, "checkpointSubSequenceNumber": {"N": "0"},
                    "ownerSwitchesSinceCheckpoint": {"N": "0"}})
    if lay.written_at and checkpointed_at is not None:
        out[lay.written_at] = {"S": checkpointed_at.isoformat()}
    return out


def table_schema(layout_name: "str | Layout") -> dict:
    """``create_table`` key arguments of a checkpoint table in the layout."""
    lay = layout(layout_name)
    return {"AttributeDefinitions": [{"AttributeName": lay.key, "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": lay.key, "KeyType": "HASH"}]}


def iterator_args(sequence_number: str | None) -> dict | None:
    """``get_shard_iterator`` arguments to read what follows a checkpoint (None: a closed shard, nothing)."""
    if not sequence_number or sequence_number in ("TRIM_HORIZON", "AT_TIMESTAMP"):
        return {"ShardIteratorType": "TRIM_HORIZON"}
    if sequence_number == "LATEST":
        return {"ShardIteratorType": "LATEST"}
    if sequence_number == "SHARD_END":
        return None
    return {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "StartingSequenceNumber": sequence_number}
