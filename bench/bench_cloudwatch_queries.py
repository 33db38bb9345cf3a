"""CloudWatch reads in the sandbox: the indexed get_metric_data of opslib.sandbox.moto_gaps against
moto 5.2's own implementation (the baseline), measured in the same run on the same 26 hours of
one-minute history for every metric of the sandbox profile, over HTTP with boto3.

    .venv/bin/python bench/bench_cloudwatch_queries.py [--repeat N]

Prints seconds per query for each and the ratio baseline / indexed."""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import datetime, timedelta, timezone

from moto.cloudwatch.models import CloudWatchBackend

from opslib.aws.cloudwatch import metric_frame
from opslib.sandbox import metric_history
from opslib.sandbox.core import Sandbox, SandboxConfig


def timed(fn, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    now = datetime(2026, 11, 25, 12, tzinfo=timezone.utc)
    with tempfile.TemporaryDirectory() as tmp:
        sb = Sandbox(SandboxConfig(dir=tmp, now=now))
        sb.start_aws()
        metric_history.seed(sb)
        cw = sb.client("cloudwatch")
        metrics = sb.profile.metrics
        one = {"requests": metrics["requests"]}
        stats = {k: "Sum" for k in metrics}    # moto's own code has no percentiles
        cases = {
            "one metric, 24 h at 1 min": lambda: metric_frame(cw, one, now - timedelta(hours=24), now, 60, stats=stats),
            f"{len(metrics)} metrics, 24 h at 1 min": lambda: metric_frame(cw, metrics, now - timedelta(hours=24), now,
                                                                           60, stats=stats),
        }
        indexed = CloudWatchBackend.get_metric_data
        print(f"{'query':<34} {'indexed s':>10} {'moto 5.2 s':>11} {'ratio':>7}")
        for label, fn in cases.items():
            CloudWatchBackend.get_metric_data = indexed
            fast = timed(fn, args.repeat)
            CloudWatchBackend.get_metric_data = CloudWatchBackend._moto_get_metric_data
            slow = timed(fn, 1)
            CloudWatchBackend.get_metric_data = indexed
            print(f"{label:<34} {fast:>10.3f} {slow:>11.3f} {slow / fast:>6.0f}x")
        sb.stop_aws()


if __name__ == "__main__":
    main()
