"""CloudWatch metric history of the sandbox: 26 hours of healthy, 1-minute metrics for every metric
of the profile's catalog (daily spend: one point a day for 10 days), plus a little DR-region traffic.

Written straight into moto's in-process backend (``put_metric_data`` over HTTP takes ~3 s per
17,000 datapoints). Deterministic from the seed and the clock. Fault scenarios rewrite windows of it
with :func:`set_values` and :func:`scale_values`.
"""
from __future__ import annotations

import logging
import math
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Union

import numpy as np

from ..config import Metric, Profile
from ..errors import ParameterError
from . import moto_gaps

log = logging.getLogger("opslib.sandbox")

HISTORY = timedelta(hours=26)
SPEND_DAYS = 10
LATENCY_SAMPLES = 20                 # values stored per minute for ApiLatency (p99 needs a distribution)
PEAK_REQUESTS_PER_MINUTE = 230_000   # ALB requests at the daily peak (19:00 UTC)
TROUGH_RATIO = 0.30                  # night trough as a share of the peak
PEAK_HOUR_UTC = 19
EVENTS_PER_REQUEST = 20              # events batched per ingestion request -> ~50,000 events/s on average
DAILY_SPEND_USD = 4_800.0
DR_LOAD_BALANCER = "app/dr-alb/3e2b9f1d7a6c8045"

Value = Union[float, list, Callable[[int], Any]]


@dataclass(frozen=True)
class Series:
    """One metric time series to store: ``values[i]`` is a number or a list of samples at ``times[i]``."""
    key: str
    region: str                      # 'primary' | 'dr'
    namespace: str
    name: str
    dimensions: dict[str, str]
    unit: str | None
    times: list[datetime]
    values: list

    def points(self) -> list[tuple[datetime, float]]:
        out = []
        for t, v in zip(self.times, self.values):
            if isinstance(v, (list, tuple)):
                out.extend((t, x) for x in v)
            else:
                out.append((t, v))
        return out


@dataclass(frozen=True)
class MetricWindow:
    """What :func:`set_values` / :func:`scale_values` changed."""
    metric: str
    region: str
    dimensions: dict[str, str]
    start: datetime
    end: datetime
    datapoints: int


# -- generation (pure) --------------------------------------------------------------------------
def _rng(seed: int, now: datetime, key: str) -> np.random.Generator:
    return np.random.default_rng([seed, int(now.timestamp()), zlib.crc32(key.encode())])


def _minutes(now: datetime) -> list[datetime]:
    start = now - HISTORY
    return [start + timedelta(minutes=i) for i in range(int(HISTORY.total_seconds() // 60))]


def load_curve(times: list[datetime]) -> np.ndarray:
    """Share of the daily peak (1.0 at PEAK_HOUR_UTC, TROUGH_RATIO twelve hours later)."""
    amp = (1 - TROUGH_RATIO) / (1 + TROUGH_RATIO)
    hours = np.array([t.hour + t.minute / 60 for t in times])
    return (1 + amp * np.cos(2 * np.pi * (hours - PEAK_HOUR_UTC) / 24)) / (1 + amp)


def _walk(rng: np.random.Generator, n: int, center: float, step: float, pull: float = 0.02) -> np.ndarray:
    """A mean-reverting random walk around ``center``."""
    out = np.empty(n)
    x = center
    noise = rng.normal(0, step, n)
    for i in range(n):
        x += noise[i] - pull * (x - center)
        out[i] = x
    return out


def generate(profile: Profile, seed: int, now: datetime) -> list[Series]:
    """Every series the sandbox stores, healthy; the same for the same (seed, now)."""
    now = now.astimezone(timezone.utc)
    times = _minutes(now)
    n = len(times)
    load = load_curve(times)
    base = _rng(seed, now, "traffic")
    requests = np.round(PEAK_REQUESTS_PER_MINUTE * load * (1 + base.normal(0, 0.02, n)))
    http_5xx = base.poisson(requests * 0.0002).astype(float)
    http_4xx = base.poisson(requests * 0.005).astype(float)
    records = np.round((requests - http_5xx - http_4xx) * EVENTS_PER_REQUEST * (1 + base.normal(0, 0.005, n)))
    ecs_services = [s.name for s in profile.services if s.type == "ecs"]

    def latency(rng: np.random.Generator) -> list:
        median = 36.0 * (1 + 0.1 * load)
        body = np.clip(rng.lognormal(np.log(median)[:, None], 0.2, (n, LATENCY_SAMPLES - 1)), 18, 80)
        tail = rng.uniform(62, 84, (n, 1))       # the slowest request of the minute
        return np.round(np.hstack([body, tail]), 1).tolist()

    per_minute: dict[str, Callable[[np.random.Generator], Any]] = {
        "requests": lambda rng: requests,
        "http_5xx": lambda rng: http_5xx,
        "http_4xx": lambda rng: http_4xx,
        "latency_ms": latency,
        "health_check_failures": lambda rng: np.zeros(n),
        "incoming_records": lambda rng: records,
        "iterator_age_ms": lambda rng: np.round(np.clip(rng.lognormal(np.log(700), 0.5, n), 200, 3000)),
        "events_dropped": lambda rng: np.minimum(rng.poisson(4, n), 20).astype(float),
        "disk_used_percent": lambda rng: np.round(np.clip(
            45 + 10 * np.arange(n) / n + rng.normal(0, 0.3, n), 40, 60), 2),
        "db_connections": lambda rng: np.round(np.clip(22 + 14 * load + rng.normal(0, 1.5, n), 20, 40)),
    }
    per_service: dict[str, Callable[[np.random.Generator], Any]] = {
        "ecs_cpu": lambda rng: np.round(np.clip(31 + 24 * load + rng.normal(0, 2, n), 30, 60), 2),
        "ecs_memory": lambda rng: np.round(np.clip(_walk(rng, n, 52, 0.4), 40, 65), 2),
    }

    out: list[Series] = []
    for key, metric in profile.metrics.items():
        if key == "daily_spend":
            out.append(_daily_spend(key, metric, seed, now))
        elif key in per_service:
            for service in ecs_services:
                dims = {**metric.dimensions, "ServiceName": service}
                values = per_service[key](_rng(seed, now, f"{key}:{service}"))
                out.append(_series(key, metric, dims, times, values))
        elif key in per_minute:
            out.append(_series(key, metric, dict(metric.dimensions), times, per_minute[key](_rng(seed, now, key))))
        else:
            log.debug("metric %s has no generator in the sandbox history; skipped", key)
    if profile.has_dr:
        out.extend(_dr_series(profile, seed, now, times))
    if profile.rds.replica:
        out.extend(_replica_lag_series(profile, seed, now, times))
    return out


def _series(key: str, metric: Metric, dims: dict, times: list, values: Any, region: str | None = None) -> Series:
    values = values.tolist() if isinstance(values, np.ndarray) else list(values)
    return Series(key, region or metric.region, metric.namespace, metric.name, dims, metric.unit, times, values)


def _daily_spend(key: str, metric: Metric, seed: int, now: datetime) -> Series:
    rng = _rng(seed, now, key)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    days = [today - timedelta(days=SPEND_DAYS - 1 - i) for i in range(SPEND_DAYS)]
    values = np.round(DAILY_SPEND_USD * (1 + rng.uniform(-0.05, 0.05, SPEND_DAYS)), 2)
    return _series(key, metric, dict(metric.dimensions), days, values)


def _dr_series(profile: Profile, seed: int, now: datetime, times: list) -> list[Series]:
    """Low DR-region traffic: the DR stream (replicated events) and the DR ALB (probes)."""
    rng = _rng(seed, now, "dr")
    n = len(times)
    stream = {"StreamName": profile.kinesis.dr_stream}
    dr_alb = re.sub(r"-\d+$", "", profile.dns.dr_alb_dns.split(".", 1)[0])
    return [
        Series("dr:incoming_records", "dr", "AWS/Kinesis", "IncomingRecords", stream, "Count", times,
               np.round(500 * (1 + rng.normal(0, 0.05, n))).tolist()),
        Series("dr:iterator_age_ms", "dr", "AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds", stream,
               "Milliseconds", times, np.round(rng.uniform(200, 1000, n)).tolist()),
        Series("dr:requests", "dr", "AWS/ApplicationELB", "RequestCount", {"LoadBalancer": DR_LOAD_BALANCER.replace("dr-alb", dr_alb)},
               "Count", times, rng.poisson(60, n).astype(float).tolist()),
    ]


def _replica_lag_series(profile: Profile, seed: int, now: datetime, times: list) -> list[Series]:
    """RDS publishes ``ReplicaLag`` (seconds) for every read replica; moto does not: a healthy lag of ~1-3 s."""
    rng = _rng(seed, now, "replica_lag")
    lag = np.round(np.clip(rng.lognormal(np.log(1.5), 0.4, len(times)), 0.3, 8.0), 2)
    return [Series("rds:replica_lag", "primary", "AWS/RDS", "ReplicaLag",
                   {"DBInstanceIdentifier": profile.rds.replica}, "Seconds", times, lag.tolist())]


# -- writing into moto --------------------------------------------------------------------------
def seed(sb: Any) -> None:
    """Store the history in the sandbox's moto backends (replacing any stored for the same window)."""
    for s in generate(sb.profile, sb.config.seed, sb.now):
        backend = sb.backend("cloudwatch", s.region)
        datums = moto_gaps.make_datums(s.namespace, s.name, s.dimensions, s.unit, s.points())
        moto_gaps.replace_datums(backend, s.namespace, s.name, s.dimensions, s.times[0],
                                 s.times[-1] + timedelta(seconds=1), datums)


def _metric(sb: Any, metric_key: str) -> Metric:
    try:
        return sb.profile.metrics[metric_key]
    except KeyError as exc:
        raise ParameterError("metric_key", metric_key, ", ".join(sorted(sb.profile.metrics))) from exc


def _window(sb: Any, minutes: int, until_minutes_ago: int, step_minutes: int) -> tuple[datetime, datetime]:
    if step_minutes < 1:
        raise ParameterError("step_minutes", step_minutes, "a positive number of minutes")
    if until_minutes_ago < 0 or minutes <= until_minutes_ago:
        raise ParameterError("minutes", minutes, f"more minutes than until_minutes_ago ({until_minutes_ago}), "
                                                 f"which must be >= 0")
    now = sb.now.astimezone(timezone.utc)
    return now - timedelta(minutes=minutes), now - timedelta(minutes=until_minutes_ago)


def set_values(sb: Any, metric_key: str, *, minutes: int, value: Value, region: str = "primary",
               dimensions: dict[str, str] | None = None, until_minutes_ago: int = 0,
               step_minutes: int = 1) -> MetricWindow:
    """Replace a metric's datapoints in [now - minutes, now - until_minutes_ago) with one datapoint per step.

    ``value``: a number; a list of samples (stored as a distribution every step); or a callable
    ``(minute_index) -> number | list`` where 0 is the oldest step of the window."""
    metric = _metric(sb, metric_key)
    dims = dict(metric.dimensions if dimensions is None else dimensions)
    start, end = _window(sb, minutes, until_minutes_ago, step_minutes)
    points = []
    for i in range(math.ceil((minutes - until_minutes_ago) / step_minutes)):
        v = value(i) if callable(value) else value
        t = start + timedelta(minutes=i * step_minutes)
        if isinstance(v, (list, tuple)):
            points.extend((t, x) for x in v)
        else:
            points.append((t, v))
    datums = moto_gaps.make_datums(metric.namespace, metric.name, dims, metric.unit, points)
    moto_gaps.replace_datums(sb.backend("cloudwatch", region), metric.namespace, metric.name, dims,
                             start, end, datums)
    return MetricWindow(metric_key, region, dims, start, end, len(datums))


def scale_values(sb: Any, metric_key: str, *, minutes: int, factor: float | Callable[[int], float],
                 region: str = "primary", dimensions: dict[str, str] | None = None,
                 until_minutes_ago: int = 0) -> MetricWindow:
    """Multiply a metric's stored values in [now - minutes, now - until_minutes_ago) by ``factor``
    (or ``factor(minute_index)``, 0 the oldest minute). Counts stay whole numbers."""
    metric = _metric(sb, metric_key)
    dims = dict(metric.dimensions if dimensions is None else dimensions)
    start, end = _window(sb, minutes, until_minutes_ago, 1)
    whole = metric.unit == "Count"

    def update(datum: Any) -> None:
        f = factor(int((datum.timestamp - start.replace(tzinfo=None)).total_seconds() // 60)) \
            if callable(factor) else factor
        datum.value = float(round(datum.value * f)) if whole else datum.value * f

    count = moto_gaps.update_datums(sb.backend("cloudwatch", region), metric.namespace, metric.name, dims,
                                    start, end, update)
    return MetricWindow(metric_key, region, dims, start, end, count)
