"""Benchmark: ``Sandbox.reset`` by snapshot (moto's backends unpickled, the warehouse file copied back,
the database recreated from a template) against seeding everything again (``reset(reseed=True)``, the
baseline, measured in the same run on the same sandbox). Each reset follows a fault injection.
Prints CPU seconds of this process (moto, DuckDB and the seeders run in it; PostgreSQL's own
processes are not counted) and wall seconds, and the ratios. A benchmark, not a test.

    .venv/bin/python bench/bench_sandbox_reset.py [--repeat 3] [--events 50000]
"""
from __future__ import annotations

import argparse
import resource
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from opslib.sandbox.core import Sandbox, SandboxConfig

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
FAULTS = ("high-error-rate", "leaked-credential", "volume-drop")


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def measure(sb: Sandbox, fault: str, reseed: bool) -> tuple[float, float]:
    sb.inject(fault)
    c0, w0 = cpu(), time.monotonic()
    sb.reset(reseed=reseed)
    return cpu() - c0, time.monotonic() - w0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--events", type=int, default=50_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-reset-") as tmp:
        c0, w0 = cpu(), time.monotonic()
        sb = Sandbox.start(SandboxConfig(dir=Path(tmp), now=NOW, events=args.events))
        print(f"sandbox up: {cpu() - c0:.2f} CPU s, {time.monotonic() - w0:.2f} s; snapshot taken in "
              f"{sb.snapshot.seconds:.2f} s, {sb.snapshot.cpu_seconds:.2f} CPU s ({sb.snapshot.bytes / 1e6:.1f} MB of moto state)")
        try:
            rows = {"reseed (baseline)": [], "snapshot": []}
            for i in range(args.repeat):
                fault = FAULTS[i % len(FAULTS)]
                rows["reseed (baseline)"].append(measure(sb, fault, True))
                rows["snapshot"].append(measure(sb, fault, False))
        finally:
            sb.stop()
    best = {k: (min(c for c, _ in v), min(w for _, w in v)) for k, v in rows.items()}
    print(f"{'reset':20} {'CPU s (best)':>13} {'wall s (best)':>14}")
    for name, (c, w) in best.items():
        print(f"{name:20} {c:13.2f} {w:14.2f}")
    (bc, bw), (sc, sw) = best["reseed (baseline)"], best["snapshot"]
    print(f"{'ratio':20} {bc / sc:12.1f}x {bw / sw:13.1f}x")


if __name__ == "__main__":
    main()
