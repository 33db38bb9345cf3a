"""Kinesis reads: a stream's summary, its shards (``list_shards``, paginated) and its records
(``GetRecords`` from a position, bounded). Clients are passed in."""
from __future__ import annotations

from typing import Any, Iterator

TRIM_HORIZON = {"ShardIteratorType": "TRIM_HORIZON"}


def stream_summary(kinesis: Any, stream: str) -> dict:
    """``describe_stream_summary``'s StreamDescriptionSummary."""
    return kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]


def shard_ids(kinesis: Any, stream: str) -> list[str]:
    """Every shard of ``stream`` (open and closed), in the order ``list_shards`` gives them."""
    return [s["ShardId"] for page in kinesis.get_paginator("list_shards").paginate(StreamName=stream)
            for s in page["Shards"]]


def shard_records(kinesis: Any, stream: str, shard: str, *, position: dict | None = None, limit: int,
                  per_call: int = 1000, max_calls: int | None = None, stop_when_empty: bool = False
                  ) -> Iterator[dict]:
    """The records of one shard from ``position`` (``get_shard_iterator`` arguments; TRIM_HORIZON when None),
    at most ``limit`` of them in calls of at most ``per_call`` (and at most ``max_calls`` calls), until the
    shard's tip (``MillisBehindLatest`` 0) or, with ``stop_when_empty``, a call that returns nothing."""
    position = TRIM_HORIZON if position is None else position
    it = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard, **position)["ShardIterator"]
    read = calls = 0
    while it and read < limit and (max_calls is None or calls < max_calls):
        resp = kinesis.get_records(ShardIterator=it, Limit=min(per_call, limit - read))
        calls += 1
        read += len(resp["Records"])
        yield from resp["Records"]
        if (stop_when_empty and not resp["Records"]) or resp.get("MillisBehindLatest", 0) == 0:
            break
        it = resp.get("NextShardIterator")


def read_records(kinesis: Any, stream: str, *, limit: int = 5000, per_call: int = 1000) -> list[bytes]:
    """Up to ``limit`` records' data from the shards of ``stream`` in turn, each oldest first."""
    out: list[bytes] = []
    for shard in shard_ids(kinesis, stream):
        if len(out) >= limit:
            break
        out.extend(r["Data"] for r in shard_records(kinesis, stream, shard, limit=limit - len(out),
                                                    per_call=per_call, stop_when_empty=True))
    return out
