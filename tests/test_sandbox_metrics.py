"""The sandbox's CloudWatch metric history, moto's CloudWatch/CloudTrail gaps closed, CloudTrail data.

Runs against its own moto server (in-process, port 0) under a separate account, so it neither needs
nor disturbs the session sandbox of tests/conftest.py. Everything is read back through boto3 over HTTP.
"""
from __future__ import annotations

import gzip
import json
import re
import time
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import boto3
import numpy as np
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from opslib.config import load_profile
from opslib.errors import ParameterError
from opslib.sandbox import cloudtrail, metric_history, moto_gaps

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
SEED = 42
ACCOUNT = "111111111111"       # not the session sandbox's account: moto's backends are per process
CT_BUCKET = "test-metrics-cloudtrail-logs"   # S3 bucket names are global across moto accounts


class MiniSandbox:
    """The attributes of opslib.sandbox.core.Sandbox that these modules use, on a private moto server."""

    def __init__(self, endpoint: str, seed: int = SEED, now: datetime = NOW):
        profile = load_profile("sandbox")
        self.profile = profile.model_copy(update={"s3": profile.s3.model_copy(update={"cloudtrail_bucket": CT_BUCKET})})
        self.config = SimpleNamespace(seed=seed, now=now)
        self.now = now
        self.account_id = ACCOUNT
        self.endpoint = endpoint
        self._clients: dict = {}

    def region(self, which: str = "primary") -> str:
        return {"primary": self.profile.aws.primary_region, "dr": self.profile.aws.dr_region}.get(which, which)

    def client(self, service: str, region: str = "primary"):
        key = (service, self.region(region))
        if key not in self._clients:
            c = boto3.client(service, region_name=key[1], endpoint_url=self.endpoint, aws_access_key_id="testing",
                             aws_secret_access_key="testing", config=Config(retries={"max_attempts": 1}))
            c.meta.events.register("before-sign.*.*", _account_header)
            self._clients[key] = c
        return self._clients[key]

    def backend(self, service: str, region: str = "primary"):
        from moto.backends import get_backend
        return get_backend(service)[self.account_id][self.region(region)]


def _account_header(request, **_):
    request.headers["x-moto-account-id"] = ACCOUNT


@pytest.fixture(scope="module")
def sb():
    from moto.server import ThreadedMotoServer
    moto_gaps.install()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    mini = MiniSandbox(f"http://{host}:{port}")
    t0 = time.perf_counter()
    metric_history.seed(mini)
    mini.seed_seconds = time.perf_counter() - t0
    cloudtrail.seed(mini)
    yield mini
    server.stop()


@pytest.fixture
def reseed(sb):
    """For tests that rewrite the history: restore it afterwards."""
    yield sb
    metric_history.seed(sb)


@pytest.fixture(scope="module")
def generated():
    return {(s.key, s.region, tuple(sorted(s.dimensions.items()))): s
            for s in metric_history.generate(load_profile("sandbox"), SEED, NOW)}


def _series(generated, key, region="primary", **dims):
    for (k, r, d), s in generated.items():
        if k == key and r == region and all(dict(d).get(n) == v for n, v in dims.items()):
            return s
    raise KeyError(key)


def _query(qid, metric, stat, period=60, dims=None, **extra):
    dims = metric.dimensions if dims is None else dims
    return {"Id": qid, "MetricStat": {"Metric": {
        "Namespace": metric.namespace, "MetricName": metric.name,
        "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()]}, "Period": period, "Stat": stat}, **extra}


def _data(cw, queries, start, end, **kw):
    out = cw.get_metric_data(MetricDataQueries=queries, StartTime=start, EndTime=end,
                             ScanBy=kw.pop("ScanBy", "TimestampAscending"), **kw)
    return {r["Id"]: r for r in out["MetricDataResults"]}


def _minute_values(series, start, end):
    return [v for t, v in zip(series.times, series.values) if start <= t < end]


# -- history ------------------------------------------------------------------------------------
def test_seed_is_fast(sb):
    print(f"metric_history.seed: {sb.seed_seconds:.2f}s")
    assert sb.seed_seconds < 3.0        # target 1.5 s; generous on a shared 2-core machine


def test_every_profile_metric_has_24h_of_history(sb):
    cw = sb.client("cloudwatch")
    ecs = [s.name for s in sb.profile.services if s.type == "ecs"]
    queries, expected = [], {}
    for key, metric in sb.profile.metrics.items():
        stat = "SampleCount"
        if key == "daily_spend":
            queries.append(_query("spend", metric, stat, period=86400))
            continue
        if key in ("ecs_cpu", "ecs_memory"):
            for i, svc in enumerate(ecs):
                qid = f"{key}_{i}"
                queries.append(_query(qid, metric, stat, dims={**metric.dimensions, "ServiceName": svc}))
                expected[qid] = 1440
        else:
            queries.append(_query(key, metric, stat))
            expected[key] = 1440
    results = _data(cw, queries, NOW - timedelta(hours=24), NOW)
    for qid, n in expected.items():
        assert len(results[qid]["Values"]) == n, qid
        assert results[qid]["Timestamps"][0] == NOW - timedelta(hours=24)
        assert results[qid]["Timestamps"][-1] == NOW - timedelta(minutes=1)
    assert len(ecs) == 3
    spend = _data(cw, [_query("s", sb.profile.metrics["daily_spend"], "Maximum", period=86400)],
                  NOW - timedelta(days=10), NOW)["s"]["Values"]
    assert len(spend) == 10
    assert max(spend) / min(spend) < 1.11       # flat within +-5%


def test_history_is_healthy(sb):
    cw = sb.client("cloudwatch")
    m = sb.profile.metrics
    q = [_query("req", m["requests"], "Sum"), _query("e5", m["http_5xx"], "Sum"), _query("e4", m["http_4xx"], "Sum"),
         _query("p99", m["latency_ms"], "p99"), _query("hc", m["health_check_failures"], "Sum"),
         _query("rec", m["incoming_records"], "Sum"), _query("age", m["iterator_age_ms"], "Maximum"),
         _query("drop", m["events_dropped"], "Sum"), _query("disk", m["disk_used_percent"], "Maximum"),
         _query("db", m["db_connections"], "Maximum")]
    for i, svc in enumerate(["ingestion-api", "stream-processor", "data-api"]):
        q.append(_query(f"cpu{i}", m["ecs_cpu"], "Average", dims={"ClusterName": "prod-cluster", "ServiceName": svc}))
        q.append(_query(f"mem{i}", m["ecs_memory"], "Average", dims={"ClusterName": "prod-cluster", "ServiceName": svc}))
    r = {k: np.array(v["Values"]) for k, v in _data(cw, q, NOW - timedelta(hours=24), NOW).items()}
    req = r["req"]
    assert 0.25 < req.min() / req.max() < 0.36                      # night trough ~30% of the peak
    assert 0.00012 < r["e5"].sum() / req.sum() < 0.0003             # 5xx ~0.02%
    assert 0.004 < r["e4"].sum() / req.sum() < 0.006                # 4xx ~0.5%
    assert 55 <= r["p99"].min() and r["p99"].max() <= 85            # p99 well under 100 ms
    assert r["hc"].max() == 0
    ratio = r["rec"] / req
    assert 19 < ratio.min() and ratio.max() < 21                    # records follow requests
    assert 200 <= r["age"].min() and r["age"].max() <= 3000
    assert r["drop"].max() <= 20
    assert 40 <= r["disk"].min() and r["disk"].max() <= 60
    assert 20 <= r["db"].min() and r["db"].max() <= 40
    for i in range(3):
        assert 30 <= r[f"cpu{i}"].min() and r[f"cpu{i}"].max() <= 60
        assert 40 <= r[f"mem{i}"].min() and r[f"mem{i}"].max() <= 65
    eps = req.mean() * metric_history.EVENTS_PER_REQUEST / 60
    assert 30_000 < eps < 70_000        # near the runbook's 50,000 events/s average


def test_dr_region_has_small_history(sb):
    cw = sb.client("cloudwatch", "dr")
    stream = {"StreamName": sb.profile.kinesis.dr_stream}
    rec = SimpleNamespace(namespace="AWS/Kinesis", name="IncomingRecords", dimensions=stream)
    alb = SimpleNamespace(namespace="AWS/ApplicationELB", name="RequestCount",
                          dimensions={"LoadBalancer": metric_history.DR_LOAD_BALANCER})
    r = _data(cw, [_query("rec", rec, "Sum"), _query("alb", alb, "Sum")], NOW - timedelta(hours=1), NOW)
    assert len(r["rec"]["Values"]) == 60 and max(r["rec"]["Values"]) < 1000
    assert len(r["alb"]["Values"]) == 60 and 0 < sum(r["alb"]["Values"]) < 10_000


def test_history_is_deterministic(sb, generated):
    again = metric_history.generate(load_profile("sandbox"), SEED, NOW)
    assert [(s.key, s.dimensions, s.values) for s in again] == \
        [(s.key, s.dimensions, s.values) for s in generated.values()]
    other = metric_history.generate(load_profile("sandbox"), SEED + 1, NOW)
    assert other[0].values != again[0].values
    # what is stored is what was generated
    req = _series(generated, "requests")
    start = NOW - timedelta(hours=2)
    got = _data(sb.client("cloudwatch"), [_query("r", sb.profile.metrics["requests"], "Sum")], start, NOW)["r"]
    assert got["Values"] == _minute_values(req, start, NOW)


# -- percentiles, math, speed -------------------------------------------------------------------
def test_p99_from_both_apis_is_the_exact_percentile(sb, generated):
    cw = sb.client("cloudwatch")
    metric = sb.profile.metrics["latency_ms"]
    samples = _series(generated, "latency_ms")
    start = NOW - timedelta(hours=1)
    got = _data(cw, [_query("p99", metric, "p99"), _query("p999", metric, "p99.9")], start, NOW)
    minutes = _minute_values(samples, start, NOW)
    assert len(minutes) == 60 and all(len(m) == metric_history.LATENCY_SAMPLES for m in minutes)
    assert got["p99"]["Values"] == pytest.approx([np.percentile(m, 99) for m in minutes], rel=1e-12)
    assert got["p999"]["Values"] == pytest.approx([np.percentile(m, 99.9) for m in minutes], rel=1e-12)

    stats = cw.get_metric_statistics(
        Namespace=metric.namespace, MetricName=metric.name, StartTime=start, EndTime=NOW, Period=300,
        Dimensions=[{"Name": k, "Value": v} for k, v in metric.dimensions.items()],
        Statistics=["SampleCount", "Maximum"], ExtendedStatistics=["p99", "p50"])["Datapoints"]
    stats.sort(key=lambda d: d["Timestamp"])
    assert len(stats) == 12
    for i, dp in enumerate(stats):
        window = [x for m in minutes[5 * i:5 * i + 5] for x in m]
        assert set(dp["ExtendedStatistics"]) == {"p99", "p50"}
        assert dp["ExtendedStatistics"]["p99"] == pytest.approx(np.percentile(window, 99), rel=1e-12)
        assert dp["ExtendedStatistics"]["p50"] == pytest.approx(np.percentile(window, 50), rel=1e-12)
        assert dp["SampleCount"] == 100 and dp["Maximum"] == max(window)
        assert dp["Unit"] == "Milliseconds"
    only_ext = cw.get_metric_statistics(
        Namespace=metric.namespace, MetricName=metric.name, StartTime=start, EndTime=NOW, Period=3600,
        Dimensions=[{"Name": "Service", "Value": "ingestion-api"}], ExtendedStatistics=["p99"])["Datapoints"]
    assert len(only_ext) == 1 and set(only_ext[0]) >= {"Timestamp", "ExtendedStatistics"}
    assert "Sum" not in only_ext[0]


def test_unsupported_statistic_is_a_client_error(sb):
    cw = sb.client("cloudwatch")
    with pytest.raises(ClientError) as err:
        _data(cw, [_query("x", sb.profile.metrics["latency_ms"], "tm99")], NOW - timedelta(hours=1), NOW)
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_metric_math_still_works(sb, generated):
    cw = sb.client("cloudwatch")
    m = sb.profile.metrics
    start = NOW - timedelta(minutes=30)
    r = _data(cw, [_query("e", m["http_5xx"], "Sum", ReturnData=False), _query("r", m["requests"], "Sum", ReturnData=False),
                   {"Id": "rate", "Expression": "100 * e / r", "Label": "5xx %"}, {"Id": "same", "Expression": "r"}],
              start, NOW)
    assert set(r) == {"rate", "same"}                       # ReturnData=False hides the inputs
    e5, req = _minute_values(_series(generated, "http_5xx"), start, NOW), _minute_values(_series(generated, "requests"), start, NOW)
    assert r["rate"]["Label"] == "5xx %"
    assert r["rate"]["Values"] == pytest.approx([100 * a / b for a, b in zip(e5, req)])
    assert r["same"]["Values"] == req
    assert r["rate"]["Timestamps"] == r["same"]["Timestamps"]
    other = _data(cw, [_query("r", m["requests"], "Sum"), {"Id": "neg", "Expression": "-r + 1"},
                       {"Id": "zero", "Expression": "r / 0"}, {"Id": "fn", "Expression": "SUM(METRICS())"}], start, NOW)
    assert other["neg"]["Values"] == [1 - v for v in req]
    assert other["zero"]["Values"] == [] and other["fn"]["Values"] == []     # dropped / not supported: empty


def test_scan_by_and_unit_filter(sb):
    cw = sb.client("cloudwatch")
    req = sb.profile.metrics["requests"]
    start = NOW - timedelta(minutes=10)
    desc = _data(cw, [_query("r", req, "Sum")], start, NOW, ScanBy="TimestampDescending")["r"]
    asc = _data(cw, [_query("r", req, "Sum")], start, NOW)["r"]
    assert desc["Timestamps"] == asc["Timestamps"][::-1] and desc["Values"] == asc["Values"][::-1]
    q = _query("r", req, "Sum")
    q["MetricStat"]["Unit"] = "Percent"
    assert _data(cw, [q], start, NOW)["r"]["Values"] == []
    q["MetricStat"]["Unit"] = "Count"
    assert _data(cw, [q], start, NOW)["r"]["Values"] == asc["Values"]


def test_24h_one_minute_query_is_fast(sb):
    cw = sb.client("cloudwatch")
    for key, stat in (("latency_ms", "p99"), ("requests", "Sum")):
        t0 = time.perf_counter()
        r = _data(cw, [_query("q", sb.profile.metrics[key], stat)], NOW - timedelta(hours=24), NOW)["q"]
        elapsed = time.perf_counter() - t0
        print(f"get_metric_data 24h/1min {key} {stat}: {elapsed:.3f}s")
        assert len(r["Values"]) == 1440
        assert elapsed < 2.0            # target well under 0.5 s


def test_http_put_metric_data_is_seen_by_the_index(sb):
    cw = sb.client("cloudwatch")
    dims = [{"Name": "Service", "Value": "index-probe"}]
    t = NOW - timedelta(minutes=3)
    cw.put_metric_data(Namespace="Probe", MetricData=[
        {"MetricName": "Hits", "Dimensions": dims, "Timestamp": t, "Values": [1.0, 2.0, 3.0], "Unit": "Count"}])
    dps = cw.get_metric_statistics(Namespace="Probe", MetricName="Hits", Dimensions=dims, StartTime=NOW - timedelta(hours=1),
                                   EndTime=NOW, Period=60, Statistics=["Sum"], ExtendedStatistics=["p50"])["Datapoints"]
    assert [(d["Sum"], d["ExtendedStatistics"]["p50"]) for d in dps] == [(6.0, 2.0)]
    names = {(x["Namespace"], x["MetricName"]) for x in cw.get_paginator("list_metrics").paginate().build_full_result()["Metrics"]}
    assert ("Probe", "Hits") in names and ("UserBehaviorPipeline", "ApiLatency") in names
    ecs = cw.list_metrics(Namespace="AWS/ECS", MetricName="CPUUtilization")["Metrics"]
    assert len(ecs) == 3                # one per series, not one per datapoint


# -- fault helpers ------------------------------------------------------------------------------
def test_set_values_changes_exactly_the_window(reseed, generated):
    sb = reseed
    cw = sb.client("cloudwatch")
    req = sb.profile.metrics["requests"]
    start = NOW - timedelta(minutes=30)
    window = metric_history.set_values(sb, "requests", minutes=10, value=lambda i: 1000 + i)
    assert window.datapoints == 10 and window.start == NOW - timedelta(minutes=10)
    got = _data(cw, [_query("r", req, "Sum")], start, NOW)["r"]["Values"]
    original = _minute_values(_series(generated, "requests"), start, NOW)
    assert got[:20] == original[:20]
    assert got[20:] == [1000.0 + i for i in range(10)]

    metric_history.set_values(sb, "latency_ms", minutes=5, value=[400.0] * 19 + [900.0])
    p99 = _data(cw, [_query("p", sb.profile.metrics["latency_ms"], "p99")], start, NOW)["p"]["Values"]
    assert p99[-5:] == [pytest.approx(np.percentile([400.0] * 19 + [900.0], 99))] * 5
    assert p99[-6] < 100

    sp = {"ClusterName": "prod-cluster", "ServiceName": "stream-processor"}
    metric_history.set_values(sb, "ecs_memory", minutes=3, value=97.0, dimensions=sp)
    mem = _data(cw, [_query("m", sb.profile.metrics["ecs_memory"], "Average", dims=sp),
                     _query("i", sb.profile.metrics["ecs_memory"], "Average")], start, NOW)
    assert mem["m"]["Values"][-3:] == [97.0] * 3 and mem["m"]["Values"][-4] < 66
    assert max(mem["i"]["Values"]) <= 65        # ingestion-api untouched


def test_scale_values_multiplies_the_window(reseed, generated):
    sb = reseed
    start = NOW - timedelta(minutes=20)
    w = metric_history.scale_values(sb, "incoming_records", minutes=5, factor=0.1)
    assert w.datapoints == 5
    got = _data(sb.client("cloudwatch"), [_query("r", sb.profile.metrics["incoming_records"], "Sum")], start, NOW)["r"]["Values"]
    original = _minute_values(_series(generated, "incoming_records"), start, NOW)
    assert got[:15] == original[:15]
    assert got[15:] == [float(round(v * 0.1)) for v in original[15:]]


def test_windows_can_end_before_now(reseed, generated):
    sb = reseed
    cw = sb.client("cloudwatch")
    start = NOW - timedelta(minutes=60)
    metric_history.scale_values(sb, "requests", minutes=50, until_minutes_ago=40, factor=lambda i: i)
    metric_history.set_values(sb, "events_dropped", minutes=30, until_minutes_ago=20, value=2500)
    r = _data(cw, [_query("r", sb.profile.metrics["requests"], "Sum"),
                   _query("d", sb.profile.metrics["events_dropped"], "Sum")], start, NOW)
    req = _minute_values(_series(generated, "requests"), start, NOW)
    assert r["r"]["Values"][:10] == req[:10] and r["r"]["Values"][20:] == req[20:]
    assert r["r"]["Values"][10:20] == [float(round(v * i)) for i, v in enumerate(req[10:20])]
    dropped = r["d"]["Values"]
    assert dropped[30:40] == [2500.0] * 10
    assert max(dropped[:30] + dropped[40:]) <= 20
    with pytest.raises(ParameterError):
        metric_history.set_values(sb, "requests", minutes=10, until_minutes_ago=10, value=1)


def test_fault_helpers_reject_unknown_metrics(sb):
    with pytest.raises(ParameterError) as err:
        metric_history.set_values(sb, "no_such_metric", minutes=5, value=1)
    assert "requests" in str(err.value)


# -- CloudTrail -----------------------------------------------------------------------------------
def _lookup(sb, **kw):
    pages = sb.client("cloudtrail").get_paginator("lookup_events").paginate(**kw)
    return [e for page in pages for e in page["Events"]]


def test_trail_and_ordinary_events(sb):
    ct = sb.client("cloudtrail")
    trail = ct.get_trail(Name=sb.profile.security.cloudtrail_trail)["Trail"]
    assert trail["S3BucketName"] == CT_BUCKET
    assert ct.get_trail_status(Name=trail["Name"])["IsLogging"] is True
    events = _lookup(sb, StartTime=NOW - timedelta(hours=24), EndTime=NOW)
    assert len(events) == cloudtrail.ORDINARY_EVENTS
    times = [e["EventTime"] for e in events]
    assert times == sorted(times, reverse=True)                        # newest first
    assert len({e["EventId"] for e in events}) == len(events)
    names = {e["EventName"] for e in events}
    assert {"DescribeServices", "GetRecords", "PutObject", "UpdateService", "ConsoleLogin"} <= names
    raw = json.loads(events[0]["CloudTrailEvent"])
    assert {"sourceIPAddress", "userIdentity", "eventTime", "eventSource", "eventID"} <= set(raw)
    assert raw["eventID"] == events[0]["EventId"]


def test_lookup_filters_and_pagination(sb):
    expected = cloudtrail.ordinary_events(sb.profile, SEED, NOW, ACCOUNT)
    updates = _lookup(sb, LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "UpdateService"}])
    assert len(updates) == sum(e["EventName"] == "UpdateService" for e in expected) > 0
    assert all(e["Username"] == "deploy-role" for e in updates)
    for key, value, check in [
        ("Username", "alice.oncall", lambda e: e["Username"] == "alice.oncall"),
        ("EventSource", "kinesis.amazonaws.com", lambda e: e["EventSource"] == "kinesis.amazonaws.com"),
        ("ReadOnly", "false", lambda e: e["ReadOnly"] == "false"),
        ("ResourceName", "user-events-prod", lambda e: any(r["ResourceName"] == "user-events-prod" for r in e["Resources"])),
    ]:
        found = _lookup(sb, LookupAttributes=[{"AttributeKey": key, "AttributeValue": value}])
        assert found and all(check(e) for e in found), key
    key_id = updates[0]["AccessKeyId"]
    by_key = _lookup(sb, LookupAttributes=[{"AttributeKey": "AccessKeyId", "AttributeValue": key_id}])
    assert by_key and all(e["AccessKeyId"] == key_id for e in by_key)

    window = _lookup(sb, StartTime=NOW - timedelta(hours=2), EndTime=NOW - timedelta(hours=1))
    assert window and all(NOW - timedelta(hours=2) <= e["EventTime"] <= NOW - timedelta(hours=1) for e in window)

    pages = list(sb.client("cloudtrail").get_paginator("lookup_events").paginate(
        StartTime=NOW - timedelta(hours=24), EndTime=NOW, PaginationConfig={"PageSize": 50}))
    assert len(pages) == 4 and [len(p["Events"]) for p in pages] == [50, 50, 50, 50]
    assert len({e["EventId"] for p in pages for e in p["Events"]}) == 200

    with pytest.raises(ClientError) as err:
        sb.client("cloudtrail").lookup_events(LookupAttributes=[
            {"AttributeKey": "EventName", "AttributeValue": "a"}, {"AttributeKey": "Username", "AttributeValue": "b"}])
    assert err.value.response["Error"]["Code"] == "InvalidLookupAttributesException"


def _log_records(sb, region="us-east-1"):
    s3 = sb.client("s3")
    prefix = f"AWSLogs/{ACCOUNT}/CloudTrail/{region}/"
    keys = [o["Key"] for p in s3.get_paginator("list_objects_v2").paginate(Bucket=CT_BUCKET, Prefix=prefix)
            for o in p.get("Contents", [])]
    pattern = re.compile(rf"^{prefix}\d{{4}}/\d{{2}}/\d{{2}}/{ACCOUNT}_CloudTrail_{region}_\d{{8}}T\d{{4}}Z_[0-9a-f]{{16}}\.json\.gz$")
    assert keys and all(pattern.match(k) for k in keys), keys[:3]
    records = []
    for k in keys:
        body = s3.get_object(Bucket=CT_BUCKET, Key=k)["Body"].read()
        records.extend(json.loads(gzip.decompress(body))["Records"])
    return keys, records


def test_cloudtrail_log_files_in_s3(sb):
    keys, records = _log_records(sb)
    stored = {e["EventId"] for e in _lookup(sb)}
    assert {r["eventID"] for r in records} == stored
    assert all(r["recipientAccountId"] == ACCOUNT and r["awsRegion"] == "us-east-1" for r in records)
    day = keys[0].split("/")[4:7]
    assert len(day) == 3 and all(part.isdigit() for part in day)


def test_leaked_credential_events(sb):
    events = cloudtrail.leaked_credential_events(sb, access_key_id="AKIATESTLEAKED00001")
    recorded = cloudtrail.record_events(sb, events)
    assert len(recorded) == len(events)
    found = _lookup(sb, LookupAttributes=[{"AttributeKey": "AccessKeyId", "AttributeValue": "AKIATESTLEAKED00001"}])
    assert {e["EventName"] for e in found} >= {"DeleteBucket", "CreateAccessKey", "PutUserPolicy"}
    put = next(e for e in found if e["EventName"] == "PutUserPolicy")
    raw = json.loads(put["CloudTrailEvent"])
    assert raw["sourceIPAddress"] == cloudtrail.LEAKED_KEY_IP
    assert "AdministratorAccess" in json.dumps(raw["requestParameters"])
    assert raw["userIdentity"]["accessKeyId"] == "AKIATESTLEAKED00001"
    _, records = _log_records(sb)
    assert {e["EventId"] for e in found} <= {r["eventID"] for r in records}
    with pytest.raises(ParameterError):
        cloudtrail.record_events(sb, [{"EventName": "X", "EventSource": "s3.amazonaws.com"}])


def test_install_is_idempotent():
    from moto.cloudwatch.models import CloudWatchBackend
    original = CloudWatchBackend.get_metric_data
    moto_gaps.install()                          # first install (unless this module's fixture did it already)
    before = CloudWatchBackend.get_metric_data
    assert before is not original or getattr(moto_gaps, "_INSTALLED", False)
    moto_gaps.install()
    moto_gaps.install()
    assert CloudWatchBackend.get_metric_data is before
    assert moto_gaps.percentile([1, 2, 3, 4], 50) == np.percentile([1, 2, 3, 4], 50)
