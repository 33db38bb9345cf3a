"""The capacity picture every operation starts from: ECS tasks and their scaling, Kinesis shards and their
write throughput against the per-shard limits, Lambda aliases and their weights."""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import pandas as pd
import plotly.graph_objects as go

from ... import charts
from ...actions import ecs as ecs_actions
from ...actions import kinesis as kinesis_actions
from ...actions import lambda_ as lambda_actions
from ...aws import ecs as ecs_reads
from ...aws.cloudwatch import metric_frame
from ...config import Metric
from ...findings import Check

if TYPE_CHECKING:
    from ...connection import Ops

SHARD_RECORDS_PER_S = 1000          # Kinesis write limit per shard: 1,000 records/s ...
SHARD_BYTES_PER_S = 1024 * 1024     # ... and 1 MB/s


@dataclass
class Capacity:
    services: pd.DataFrame     # one row per ECS service: desired/running/pending, its scaling target and policy
    stream: dict               # the primary stream: name, open shards, status
    throughput: pd.DataFrame   # per minute: records/s and bytes/s per shard (stream total / open shards)
    aliases: pd.DataFrame      # one row per Lambda alias: version and additional version weights
    window: tuple[datetime, datetime]


def _scaling(ops: "Ops") -> dict[str, dict]:
    aas = ops.client("application-autoscaling")
    out: dict[str, dict] = {}
    for page in aas.get_paginator("describe_scalable_targets").paginate(ServiceNamespace="ecs"):
        for t in page["ScalableTargets"]:
            if t["ScalableDimension"] == ecs_actions.DIMENSION:
                out.setdefault(t["ResourceId"], {}).update(min=t["MinCapacity"], max=t["MaxCapacity"])
    for page in aas.get_paginator("describe_scaling_policies").paginate(ServiceNamespace="ecs"):
        for p in page["ScalingPolicies"]:
            if p["ScalableDimension"] == ecs_actions.DIMENSION and p.get("TargetTrackingScalingPolicyConfiguration"):
                value = ecs_actions._policy_value(p["TargetTrackingScalingPolicyConfiguration"])
                out.setdefault(p["ResourceId"], {}).update(
                    policy=p["PolicyName"], target=value["TargetValue"], metric=value["Metric"])
    return out


def _ecs_capacity(ops: "Ops") -> pd.DataFrame:
    cluster = ops.profile.ecs.cluster
    names = [s.name for s in ops.profile.services if s.type == "ecs"]
    frame = ecs_reads.services(ops.client("ecs"), cluster, names)
    scaling = _scaling(ops)
    for col in ("min", "max", "policy", "target", "metric"):
        frame[f"scaling_{col}"] = [scaling.get(f"service/{cluster}/{s}", {}).get(col) for s in frame["service"]]
    return frame


def _kinesis_throughput(ops: "Ops", *, now: datetime, minutes: int = 60) -> tuple[dict, pd.DataFrame]:
    """Open shards of the primary stream and, per minute, its write rate per shard from CloudWatch
    (``IncomingRecords``/``IncomingBytes``, Sum per minute / 60 / open shards)."""
    stream = ops.profile.kinesis.stream
    summ = kinesis_actions.summary(ops, stream)
    shards = summ["OpenShardCount"]
    dims = {"StreamName": stream}
    metrics = {name: Metric(namespace="AWS/Kinesis", name=metric, dimensions=dims, stat="Sum", unit=unit)
               for name, metric, unit in (("records", "IncomingRecords", "Count"), ("bytes", "IncomingBytes", "Bytes"))}
    start = now - timedelta(minutes=minutes)
    raw = metric_frame(ops.client("cloudwatch"), metrics, start, now, 60)
    frame = pd.DataFrame({"records_per_s_per_shard": raw["records"] / 60 / shards,
                          "bytes_per_s_per_shard": raw["bytes"] / 60 / shards}, index=raw.index)
    return {"stream": stream, "open_shards": shards, "status": summ["StreamStatus"]}, frame


def _lambda_aliases(ops: "Ops") -> pd.DataFrame:
    lam = ops.client("lambda")
    rows = []
    for svc in ops.profile.services:
        if svc.type != "lambda":
            continue
        alias = svc.alias or "production"
        value = lambda_actions._alias_value(lam.get_alias(FunctionName=svc.name, Name=alias))
        rows.append({"function": svc.name, "alias": alias, **value,
                     "primary_share": round(1 - sum(value["weights"].values()), 4)})
    return pd.DataFrame(rows, columns=["function", "alias", "version", "weights", "primary_share"])


def capacity(ops: "Ops", *, now: datetime, minutes: int = 60) -> Capacity:
    """The capacity picture at ``now`` (throughput over the ``minutes`` before it)."""
    stream, throughput = _kinesis_throughput(ops, now=now, minutes=minutes)
    return Capacity(_ecs_capacity(ops), stream, throughput, _lambda_aliases(ops), (now - timedelta(minutes=minutes), now))


def shards_needed(records_per_s: float, bytes_per_s: float, headroom: float = 0.7) -> int:
    """Open shards that keep the given stream-wide write rate at ``headroom`` of the per-shard limits."""
    need = max(records_per_s / (SHARD_RECORDS_PER_S * headroom), (bytes_per_s or 0) / (SHARD_BYTES_PER_S * headroom))
    return max(1, math.ceil(need))


def capacity_checks(cap: Capacity, *, warn_ratio: float = 0.8) -> list[Check]:
    """ECS tasks vs desired, desired vs the scaling range, shard throughput vs the limits, canaries in flight."""
    checks = []
    s = cap.services
    short = s[(s["running"] != s["desired"]) | (s["pending"] > 0)]
    if len(short):
        checks.append(Check.warn("ecs-tasks", "not at desired count: " + "; ".join(
            f"{r.service} {r.running}/{r.desired} running, {r.pending} pending" for r in short.itertuples()),
            services=list(short["service"])))
    else:
        checks.append(Check.ok("ecs-tasks", f"{len(s)} services at their desired count",
                               tasks=int(s["running"].sum())))
    scaled = s[s["scaling_min"].notna()]
    outside = scaled[(scaled["desired"] < scaled["scaling_min"]) | (scaled["desired"] > scaled["scaling_max"])]
    if len(outside):
        checks.append(Check.warn("ecs-scaling", "desired count outside the scaling range (auto scaling will move it): "
                                 + "; ".join(f"{r.service} {r.desired} not in [{r.scaling_min:g}, {r.scaling_max:g}]"
                                             for r in outside.itertuples())))
    else:
        checks.append(Check.ok("ecs-scaling", f"{len(scaled)} services under target tracking, desired within range"))
    t = cap.throughput
    name, shards = cap.stream["stream"], cap.stream["open_shards"]
    if t["records_per_s_per_shard"].notna().sum() == 0:
        checks.append(Check.warn("kinesis-shard-throughput", f"{name}: no IncomingRecords data in the window"))
    else:
        rec = float(t["records_per_s_per_shard"].max())
        byt = float(t["bytes_per_s_per_shard"].max()) if t["bytes_per_s_per_shard"].notna().any() else None
        ratio = max(rec / SHARD_RECORDS_PER_S, (byt or 0) / SHARD_BYTES_PER_S)
        need = shards_needed(rec * shards, (byt or 0) * shards)
        detail = (f"{name}: peak {rec:,.0f} records/s per shard over {shards} shards ({ratio:.0%} of the limit "
                  f"1,000 records/s" + (f", {byt / 1024:,.0f} KB/s of 1 MB/s" if byt is not None
                                          else "; no IncomingBytes data") + ")")
        figures = {"open_shards": shards, "peak_records_per_s_per_shard": rec, "peak_bytes_per_s_per_shard": byt,
                   "ratio": ratio, "shards_needed": need}
        if ratio >= 1:
            odd = ("; Kinesis does not count throttled records, so a rate this far above the limit means more shards "
                   "were open earlier in the window, or the metric does not match the stream" if ratio > 1.05 else "")
            checks.append(Check.fail("kinesis-shard-throughput", detail + f": at or over the limit, producers are "
                                     f"throttled; reshard to at least {need} (operation='reshard', target_shards={need})"
                                     + odd, **figures))
        elif ratio >= warn_ratio:
            checks.append(Check.warn("kinesis-shard-throughput", detail + f": near the limit; plan a reshard to {need}",
                                     **figures))
        else:
            checks.append(Check.ok("kinesis-shard-throughput", detail, **figures))
    canaries = cap.aliases[cap.aliases["weights"].map(bool)]
    if len(canaries):
        checks.append(Check.warn("lambda-aliases", "weighted routing in place (a canary not finished): " + "; ".join(
            f"{r.function}:{r.alias} {r.version} with {r.weights}" for r in canaries.itertuples())))
    else:
        checks.append(Check.ok("lambda-aliases", "; ".join(f"{r.function}:{r.alias} -> {r.version}"
                                                           for r in cap.aliases.itertuples())))
    return checks


def throughput_chart(cap: Capacity) -> go.Figure:
    """Per-shard write rate as a share of the limits (1.0 = throttling)."""
    t = cap.throughput
    share = pd.DataFrame({"records/s per shard / 1,000": t["records_per_s_per_shard"] / SHARD_RECORDS_PER_S})
    if t["bytes_per_s_per_shard"].notna().any():
        share["bytes/s per shard / 1 MB"] = t["bytes_per_s_per_shard"] / SHARD_BYTES_PER_S
    return charts.timeseries(share, title=f"{cap.stream['stream']}: write throughput per shard "
                                          f"({cap.stream['open_shards']} open shards)",
                             y_title="share of the limit", target=1.0, target_label="per-shard write limit")
