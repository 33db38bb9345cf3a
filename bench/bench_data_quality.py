"""Benchmark: the data-quality notebook's queries on sandbox-style warehouses of 1M and 10M events
(100M with --full), built by ``opslib.sandbox.synthetic.build_warehouse``.

For each size it times every query the notebook runs (completeness with its seasonal history,
duplicates, duplicates by hour, freshness, hourly activity, validity) on one connection, as the
notebook does: a first pass (a new process's cold DuckDB cache) and a second (warm). All of it is
aggregated in DuckDB. The baseline, measured in the same run on the smallest size, is the naive
approach: load the events of the same 5 weeks into pandas and compute the hourly counts, the last
hour's duplicates and the null rates there. Prints the ratio. With --sorted it also times a copy
stored in event_timestamp order (as a warehouse sorted or partitioned on time keeps it), where zone
maps skip the row groups outside the window. A benchmark, not a test: nothing is asserted.

    .venv/bin/python bench/bench_data_quality.py [--full] [--sorted] [--dir DIR] [--keep] [--threads N]
"""
from __future__ import annotations

import argparse
import multiprocessing
import resource
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from opslib.sections import quality
from opslib.sandbox.synthetic import build_warehouse

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
SIZES = (1_000_000, 10_000_000)
FULL = 100_000_000


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: per address space, unlike ru_maxrss, which Linux
    carries over from the parent across fork and exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass          # not Linux: fall back to getrusage
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def isolated(fn, *args):
    """``(fn(*args), peak RSS in MB)`` from a fresh process, so each measurement has its own memory peak."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_measured, fn, *args).result()


def _measured(fn, *args):
    return fn(*args), peak_rss_mb()


def notebook_queries(path: Path, passes: int = 2) -> list[dict[str, float]]:
    """Seconds per step of the notebook (same calls, same defaults, one connection from
    ``quality.open_connection`` as the notebook opens it), per pass."""
    engine = sa.create_engine(f"duckdb:///{path}", connect_args={"read_only": True}, poolclass=NullPool)
    win = quality.window(NOW, hours=24)
    steps = {
        "completeness": lambda db: quality.completeness(db, win),
        "duplicates": lambda db: quality.duplicates(db, win),
        "duplicates_hourly": lambda db: quality.duplicates_hourly(db, win),
        "freshness": lambda db: quality.freshness(db, win, max_minutes=15),
        "hourly_activity": lambda db: quality.hourly_activity(db, win),
        "validity": lambda db: quality.validity(db, win),
    }
    out = []
    try:
        with quality.open_connection(engine) as db:
            for _ in range(passes):
                times = {}
                for name, step in steps.items():
                    t0 = time.perf_counter()
                    step(db)
                    times[name] = time.perf_counter() - t0
                out.append(times)
    finally:
        engine.dispose()
    return out


def naive(path: Path) -> float:
    """Seconds for the naive way: the rows of the window and its 4 previous weeks into pandas, then the
    hourly counts, the last hour's duplicates, the null rates and the newest event computed there."""
    win = quality.window(NOW, hours=24)
    t0 = time.perf_counter()
    con = duckdb.connect(str(path), read_only=True)
    try:
        df = con.execute("SELECT event_id, user_id, session_id, event_type, event_timestamp, received_at FROM events "
                         "WHERE event_timestamp >= ? AND event_timestamp < ?",
                         [win.start - timedelta(weeks=4), win.as_of]).df()
    finally:
        con.close()
    hourly = df.groupby(df["event_timestamp"].dt.floor("h")).size()
    last = df[df["event_timestamp"] >= win.as_of - timedelta(hours=1)]
    dups = last["event_id"].value_counts()
    _ = (hourly.iloc[-24:], dups[dups > 1], df[df["event_timestamp"] >= win.start].isna().mean(),
         df["event_timestamp"].max())
    return time.perf_counter() - t0


def sorted_copy(path: Path) -> Path:
    target = path.with_name(path.stem + "-sorted.duckdb")
    if not target.exists():
        t0 = time.perf_counter()
        con = duckdb.connect(str(target))
        try:
            con.execute(f"ATTACH '{path}' AS src (READ_ONLY)")
            con.execute("CREATE TABLE events AS SELECT * FROM src.events ORDER BY event_timestamp")
            con.execute("CHECKPOINT")
        finally:
            con.close()
        print(f"    sorted copy in {time.perf_counter() - t0:.1f}s")
    return target


def report(label: str, size: int, measured: tuple[list[dict[str, float]], float]) -> float:
    passes, rss = measured
    cold, warm = (sum(p.values()) for p in passes)
    steps = "  ".join(f"{k} {v * 1000:.0f}ms" for k, v in passes[0].items())
    print(f"{size:>11,} events{label}: notebook queries {cold:6.3f}s cold, {warm:6.3f}s warm "
          f"({size / cold / 1e6:7.1f}M table rows/s)  peak RSS {rss:.0f} MB\n    cold: {steps}")
    return cold


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="also 100M events (builds for several minutes, ~5 GB)")
    parser.add_argument("--sorted", action="store_true", help="also time a copy stored in event_timestamp order")
    parser.add_argument("--dir", help="where to build (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep (and reuse) the built warehouses")
    parser.add_argument("--threads", type=int, help="DuckDB threads for the build")
    args = parser.parse_args()
    folder = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="bench-dq-"))
    folder.mkdir(parents=True, exist_ok=True)
    sizes = SIZES + ((FULL,) if args.full else ())
    results = []
    try:
        for size in sizes:
            path = folder / f"events-{size}.duckdb"
            if not path.exists():
                built = build_warehouse(path, now=NOW, seed=42, events=size, threads=args.threads)
                print(f"built {size:>11,} events in {built.seconds:6.1f}s ({path.stat().st_size / 1e9:.2f} GB)")
            results.append((size, path, report("", size, isolated(notebook_queries, path))))
            if args.sorted:
                report(" (time-ordered copy)", size, isolated(notebook_queries, sorted_copy(path)))
        size, path, cold = results[0]
        base, rss = isolated(naive, path)
        print(f"baseline (naive: 5 weeks of rows into pandas, grouped there) at {size:,} events: {base:.3f}s, "
              f"peak RSS {rss:.0f} MB")
        print(f"ratio naive / notebook (cold) at {size:,} events: {base / cold:.1f}x")
        for size, _, cold in results[1:]:
            print(f"notebook at {size:,} events takes {cold / base:.2f}x the naive time at {results[0][0]:,}")
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
