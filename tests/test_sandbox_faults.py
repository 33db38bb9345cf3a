"""Every fault scenario is observable through public AWS / SQL / HTTP reads, and gone after reset."""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import timedelta

import pytest
import sqlalchemy as sa

from opslib.errors import ParameterError
from opslib.sandbox.faults import SCENARIOS


def _metric_max(ops, sandbox, key: str, minutes: int, stat: str | None = None) -> float:
    m = ops.profile.metrics[key]
    stat = stat or m.stat
    kwargs = {"ExtendedStatistics": [stat]} if stat.startswith("p") else {"Statistics": [stat]}
    points = ops.client("cloudwatch").get_metric_statistics(
        Namespace=m.namespace, MetricName=m.name, Dimensions=[{"Name": k, "Value": v} for k, v in m.dimensions.items()],
        StartTime=sandbox.now - timedelta(minutes=minutes), EndTime=sandbox.now, Period=60, **kwargs)["Datapoints"]
    values = [p["ExtendedStatistics"][stat] if stat.startswith("p") else p[stat] for p in points]
    return max(values, default=0.0)


def _health(ops, service: str) -> int:
    try:
        with urllib.request.urlopen(ops.health_url(ops.profile.service(service).health_url), timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _alarm_states(ops) -> dict:
    return {a["AlarmName"]: a["StateValue"] for a in ops.client("cloudwatch").describe_alarms()["MetricAlarms"]}


def _scalar(engine, sql: str, **params):
    with engine.connect() as c:
        return c.execute(sa.text(sql), params).scalar()


def observe_api_down(ops, sb, details):
    svc = ops.client("ecs").describe_services(cluster="prod-cluster", services=["ingestion-api"])["services"][0]
    return (svc["runningCount"] == 0 and _health(ops, "ingestion-api") == 503
            and _alarm_states(ops)["pipeline-api-down"] == "ALARM"
            and _metric_max(ops, sb, "health_check_failures", 10) >= 1)


def observe_high_error_rate(ops, sb, details):
    errors = _metric_max(ops, sb, "http_5xx", 10)
    requests = _metric_max(ops, sb, "requests", 10)
    recent = _scalar(ops.database, "select count(*) from error_logs where timestamp > :t",
                     t=(sb.now - timedelta(minutes=20)).replace(tzinfo=None))
    return errors / requests > 0.05 and recent > 100


def observe_stream_backup(ops, sb, details):
    return _metric_max(ops, sb, "iterator_age_ms", 5) > 300_000 and _alarm_states(ops)["pipeline-stream-backup"] == "ALARM"


def observe_poison_messages(ops, sb, details):
    k = ops.client("kinesis")
    it = k.get_shard_iterator(StreamName="user-events-prod", ShardId="shardId-000000000000",
                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    bad = 0
    for record in k.get_records(ShardIterator=it, Limit=10000)["Records"]:
        try:
            json.loads(record["Data"])["event_id"].strip()
        except (ValueError, AttributeError, KeyError, TypeError):
            bad += 1
    return bad > 0


def observe_volume_drop(ops, sb, details):
    hour = details["hour"][:19].replace("T", " ")
    count = _scalar(ops.warehouse, "select count(*) from events where date_trunc('hour', event_timestamp) = "
                                   "cast(:h as timestamp)", h=hour)
    before = _scalar(ops.warehouse, "select count(*) from events where date_trunc('hour', event_timestamp) = "
                                    "cast(:h as timestamp) - interval 7 day", h=hour)
    return count < before * 0.3


def observe_duplicates(ops, sb, details):
    dup = _scalar(ops.warehouse, "select count(*) from (select event_id from events group by event_id having count(*) > 1)")
    return dup >= 25


def observe_region_outage(ops, sb, details):
    primary = ops.client("ecs").describe_services(cluster="prod-cluster", services=["ingestion-api", "data-api"])
    dr = ops.client("ecs", "dr").describe_services(cluster="dr-cluster", services=["ingestion-api"])
    return (all(s["runningCount"] == 0 for s in primary["services"])
            and dr["services"][0]["runningCount"] > 0 and _health(ops, "data-api") == 503)


def observe_stale_backup(ops, sb, details):
    s3 = ops.client("s3")
    newest = []
    for day in range(0, 3):
        prefix = f"daily/{sb.now - timedelta(days=day):%Y/%m/%d}/"
        newest.append(s3.list_objects_v2(Bucket="company-backups", Prefix=prefix)["KeyCount"])
    return sum(newest) == 0


def observe_leaked_credential(ops, sb, details):
    events = ops.client("cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "DeleteBucket"}],
        StartTime=sb.now - timedelta(days=1), EndTime=sb.now)["Events"]
    return any(e.get("AccessKeyId") == details["access_key_id"] for e in events)


def observe_expiring_certificate(ops, sb, details):
    acm = ops.client("acm")
    arn = acm.list_certificates()["CertificateSummaryList"][0]["CertificateArn"]
    not_after = acm.describe_certificate(CertificateArn=arn)["Certificate"]["NotAfter"]
    return not_after - sb.now < timedelta(days=30)


def observe_slow_queries(ops, sb, details):
    return _metric_max(ops, sb, "latency_ms", 15) > 200


def observe_connection_exhaustion(ops, sb, details):
    used = _scalar(ops.database, "select count(*) from pg_stat_activity")
    limit = int(_scalar(ops.database, "show max_connections"))
    return used / limit > 0.8


OBSERVE = {name.replace("_", "-")[len("observe-"):]: fn for name, fn in globals().items() if name.startswith("observe_")}


def test_every_scenario_has_an_observation():
    assert set(OBSERVE) == set(SCENARIOS)


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_fault_is_observable_and_reset_removes_it(scenario, ops, sandbox):
    sb = sandbox                    # the test resets it itself (healthy_sandbox would reset a second time)
    observe = OBSERVE[scenario]
    baseline = {"hour": (sb.now - timedelta(hours=3)).isoformat(), "access_key_id": "none"}
    assert not observe(ops, sb, baseline), f"{scenario} observed on the healthy sandbox"
    details = sb.inject(scenario)
    try:
        assert scenario in sb.faults
        assert observe(ops, sb, details), f"{scenario} injected but not observable"
    finally:
        sb.reset()
    assert not sb.faults.active
    assert not observe(ops, sb, details), f"{scenario} still observable after reset"


def test_unknown_scenario_is_refused_before_anything_changes(sandbox):
    with pytest.raises(ParameterError) as err:
        sandbox.inject("api-dwn")
    assert "api-down" in str(err.value) and not sandbox.faults.active
