"""The stream processor's batch size and worker count, measured on real records read from the stream
(:func:`opslib.aws.kinesis.read_records`)."""
from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable, Sequence

import pandas as pd

from ...aws import kinesis as kinesis_reads
from ...errors import ParameterError
from ...findings import Check
from ...records import REQUIRED


def read_stream_records(ops: Any, stream: str | None = None, *, limit: int = 5000) -> list[bytes]:
    """Up to ``limit`` records' data from the shards of ``stream`` (the profile's) in turn, each oldest first."""
    return kinesis_reads.read_records(ops.client("kinesis"), stream or ops.profile.kinesis.stream, limit=limit)


__all__ = ["REQUIRED", "BatchRecommendation", "BatchResult", "batch_check", "measure_batch_settings", "process_batch",
           "process_records", "read_stream_records", "recommend_batch_setting"]


@dataclass
class BatchResult:
    valid: int = 0
    invalid: int = 0
    by_type: dict[str, int] = field(default_factory=dict)
    by_minute: dict[str, int] = field(default_factory=dict)

    def merge(self, other: "BatchResult") -> "BatchResult":
        self.valid += other.valid
        self.invalid += other.invalid
        for mine, theirs in ((self.by_type, other.by_type), (self.by_minute, other.by_minute)):
            for k, v in theirs.items():
                mine[k] = mine.get(k, 0) + v
        return self


def process_batch(records: Sequence[bytes]) -> BatchResult:
    """What the stream processor does per batch: parse, validate, aggregate (per type and minute)."""
    out = BatchResult()
    for data in records:
        try:
            event = json.loads(data)
            if not isinstance(event, dict) or any(not event.get(k) for k in REQUIRED):
                raise ValueError("missing field")
            minute = datetime.fromisoformat(str(event["event_timestamp"]).replace("Z", "+00:00")).strftime("%Y-%m-%dT%H:%M")
        except (ValueError, TypeError, UnicodeDecodeError):
            out.invalid += 1
            continue
        out.valid += 1
        out.by_type[event["event_type"]] = out.by_type.get(event["event_type"], 0) + 1
        out.by_minute[minute] = out.by_minute.get(minute, 0) + 1
    return out


def process_records(records: Sequence[bytes], *, batch_size: int, workers: int,
                    process: Callable[[Sequence[bytes]], BatchResult] = process_batch) -> BatchResult:
    """The runbook's ``BatchProcessor.process_records``: chunks of ``batch_size`` on ``workers`` threads."""
    total = BatchResult()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for result in pool.map(process, [records[i:i + batch_size] for i in range(0, len(records), batch_size)]):
            total.merge(result)
    return total


def measure_batch_settings(records: Sequence[bytes], *, batch_sizes: Iterable[int] = (100, 500, 1000, 2000),
                           workers: Iterable[int] = (1, 2, 4, 10), working_set: int = 4000, repeat: int = 3,
                           timer: Callable[[], float] = time.perf_counter,
                           process: Callable[[Sequence[bytes]], BatchResult] = process_batch) -> pd.DataFrame:
    """Throughput (records/s, best of ``repeat`` rounds) of :func:`process_records` for every batch size and
    worker count, over ``working_set`` records cycled from the real ``records`` (so timings are measurable).
    Rounds interleave the settings, so a noisy moment does not favour one setting."""
    if not records:
        raise ParameterError("records", 0, "at least one record read from the stream")
    grid = [(size, w) for size in batch_sizes for w in workers]
    if any(size < 1 or w < 1 for size, w in grid):
        raise ParameterError("batch_sizes/workers", grid, "positive integers")
    data = [records[i % len(records)] for i in range(max(working_set, len(records)))]
    best = {key: float("inf") for key in grid}
    invalid = 0
    for _ in range(max(1, repeat)):
        for size, w in grid:
            t0 = timer()
            result = process_records(data, batch_size=size, workers=w, process=process)
            best[(size, w)] = min(best[(size, w)], timer() - t0)
            invalid = result.invalid
    return pd.DataFrame([{"batch_size": size, "workers": w, "records": len(data), "seconds": s,
                          "records_per_s": len(data) / s if s > 0 else float("inf"), "invalid": invalid}
                         for (size, w), s in best.items()])


@dataclass(frozen=True)
class BatchRecommendation:
    batch_size: int
    workers: int
    records_per_s: float
    best_records_per_s: float
    runbook_records_per_s: float | None
    reason: str


def recommend_batch_setting(measured: pd.DataFrame, *, tolerance: float = 0.1, runbook: tuple[int, int] = (1000, 10)
                            ) -> BatchRecommendation:
    """The fewest workers, then the smallest batch (lower latency per batch), within ``tolerance`` of the
    best measured throughput."""
    best = float(measured["records_per_s"].max())
    good = measured[measured["records_per_s"] >= best * (1 - tolerance)].sort_values(["workers", "batch_size"])
    pick = good.iloc[0]
    rb = measured[(measured["batch_size"] == runbook[0]) & (measured["workers"] == runbook[1])]
    rb_rate = float(rb["records_per_s"].iloc[0]) if len(rb) else None
    reason = (f"batch_size={int(pick.batch_size)}, workers={int(pick.workers)}: {pick.records_per_s:,.0f} records/s, "
              f"within {tolerance:.0%} of the best ({best:,.0f}/s) with the fewest threads and the smallest batch")
    if rb_rate is not None:
        reason += f"; the runbook's {runbook[0]} x {runbook[1]} measured {rb_rate:,.0f}/s"
    return BatchRecommendation(int(pick.batch_size), int(pick.workers), float(pick.records_per_s), best, rb_rate, reason)


def batch_check(recommendation: BatchRecommendation, records_read: int, invalid: int) -> Check:
    figures = {"batch_size": recommendation.batch_size, "workers": recommendation.workers,
               "records_per_s": round(recommendation.records_per_s), "records_read": records_read,
               "invalid_records": invalid}
    if invalid:
        return Check.warn("stream-batch-setting", f"{invalid} of {records_read} stream records are invalid (see "
                          f"Stream Backup: poison messages); recommended {recommendation.reason}", **figures)
    return Check.ok("stream-batch-setting", f"measured on {records_read} stream records; recommended "
                    f"{recommendation.reason}", **figures)
