"""Benchmark: building the sandbox warehouse (DuckDB) at 1M and 10M events (100M with --full).

Prints rows/s for each size and the ratio against a baseline measured in the same run: the naive
way, 1M event rows generated row by row in Python, collected in a pandas DataFrame and inserted into
DuckDB. A benchmark, not a test: nothing is asserted.

    .venv/bin/python bench/bench_warehouse_build.py [--full] [--dir DIR] [--threads N]
"""
from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pandas as pd

from opslib.sandbox.synthetic import DAYS, EVENT_TYPES, PLATFORMS, build_warehouse

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
BASELINE_ROWS = 1_000_000


def naive_baseline(path: Path, rows: int, seed: int = 42) -> float:
    """Seconds to build ``rows`` events the naive way: a Python loop, a DataFrame, one INSERT."""
    t0 = time.perf_counter()
    rng = random.Random(seed)
    start = NOW.replace(tzinfo=None) - timedelta(days=DAYS)
    span = DAYS * 86_400
    types, tw = [t for t, _ in EVENT_TYPES], [w for _, w in EVENT_TYPES]
    plats, pw = [p for p, _ in PLATFORMS], [w for _, w in PLATFORMS]
    records = []
    for _ in range(rows):
        ts = start + timedelta(seconds=rng.random() * span)
        etype = rng.choices(types, tw)[0]
        records.append({
            "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "user_id": f"u_{int(rows / 40 * rng.random() ** 1.5):07d}",
            "session_id": f"s_{rng.getrandbits(64):016x}",
            "event_type": etype,
            "event_timestamp": ts,
            "received_at": ts + timedelta(milliseconds=50 + rng.expovariate(1 / 400)),
            "platform": rng.choices(plats, pw)[0],
            "country": "US",
            "page": "/",
            "revenue": round(rng.lognormvariate(3.4, 0.7), 2) if etype == "purchase" else None,
        })
    df = pd.DataFrame.from_records(records)
    con = duckdb.connect(str(path))
    try:
        con.register("df", df)
        con.execute("CREATE TABLE events AS SELECT * FROM df")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="also build 100 million events (several minutes)")
    ap.add_argument("--dir", type=Path, help="where to write the files (default: a temporary directory)")
    ap.add_argument("--threads", type=int, help="DuckDB threads (default: all cores)")
    ap.add_argument("--baseline-rows", type=int, default=BASELINE_ROWS)
    args = ap.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="bench-wh-", dir=args.dir))
    try:
        base_s = naive_baseline(work / "baseline.duckdb", args.baseline_rows)
        base_rate = args.baseline_rows / base_s
        print(f"{'build':<28}{'rows':>13}{'seconds':>10}{'rows/s':>13}{'vs baseline':>13}{'MB':>9}")
        print(f"{'baseline: python+pandas':<28}{args.baseline_rows:>13,}{base_s:>10.2f}{base_rate:>13,.0f}"
              f"{1.0:>12.1f}x{(work / 'baseline.duckdb').stat().st_size / 1e6:>9.0f}")
        sizes = [200_000, 1_000_000, 10_000_000] + ([100_000_000] if args.full else [])
        for n in sizes:
            path = work / f"warehouse-{n}.duckdb"
            t0 = time.perf_counter()
            build_warehouse(path, now=NOW, seed=42, events=n, threads=args.threads)
            secs = time.perf_counter() - t0
            rate = n / secs
            label = "synthetic (in DuckDB SQL)" + (" *" if n == 200_000 else "")
            print(f"{label:<28}{n:>13,}{secs:>10.2f}{rate:>13,.0f}{rate / base_rate:>12.1f}x"
                  f"{path.stat().st_size / 1e6:>9.0f}")
            path.unlink()
        print("* the sandbox's default size; rows/s counts events only (error_logs and audit_logs are built too)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
