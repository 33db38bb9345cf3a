"""Sandbox seeding: every resource the runbook names exists, read back through boto3 over HTTP."""
from __future__ import annotations

import json
import urllib.request
from datetime import timedelta

import sqlalchemy as sa

from opslib.sandbox.seed_aws import PRIMARY_SHARDS


def test_clients_talk_http_to_the_sandbox(ops, sandbox):
    assert ops.endpoint_url.startswith("http://127.0.0.1:")
    assert ops.client("ecs").meta.endpoint_url == ops.endpoint_url
    assert ops.now() == sandbox.now


def test_ecs_clusters_services_and_task_definitions(ops):
    ecs = ops.client("ecs")
    services = ecs.describe_services(cluster="prod-cluster", services=["ingestion-api", "stream-processor", "data-api"])
    by_name = {s["serviceName"]: s for s in services["services"]}
    assert set(by_name) == {"ingestion-api", "stream-processor", "data-api"}
    assert by_name["ingestion-api"]["taskDefinition"].endswith("ingestion-api:24")
    for s in by_name.values():   # the scheduler ran the tasks
        assert s["runningCount"] == s["desiredCount"] > 0
    tasks = ecs.list_tasks(cluster="prod-cluster", serviceName="ingestion-api")["taskArns"]
    assert len(tasks) == by_name["ingestion-api"]["desiredCount"]
    dr = ops.client("ecs", "dr").describe_services(cluster="dr-cluster", services=["ingestion-api"])["services"]
    assert dr and dr[0]["status"] == "ACTIVE"
    elb = ops.client("elbv2")
    groups = {g["TargetGroupName"] for g in elb.describe_target_groups()["TargetGroups"]}
    assert {"ingestion-api-tg", "stream-processor-tg", "data-api-tg"} <= groups


def test_kinesis_streams_records_and_consumer(ops):
    k = ops.client("kinesis")
    summary = k.describe_stream_summary(StreamName="user-events-prod")["StreamDescriptionSummary"]
    assert summary["OpenShardCount"] == PRIMARY_SHARDS == 128 and summary["StreamStatus"] == "ACTIVE"
    consumers = k.list_stream_consumers(StreamARN=summary["StreamARN"])["Consumers"]
    assert [c["ConsumerName"] for c in consumers] == ["stream-processor"]
    shard = k.list_shards(StreamName="user-events-prod")["Shards"][0]["ShardId"]
    it = k.get_shard_iterator(StreamName="user-events-prod", ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = k.get_records(ShardIterator=it["ShardIterator"], Limit=50)["Records"]
    assert records and "event_id" in json.loads(records[0]["Data"])
    dr = ops.client("kinesis", "dr").describe_stream_summary(StreamName="user-events-dr")
    assert dr["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE"


def test_lambda_versions_and_alias(ops):
    lam = ops.client("lambda")
    alias = lam.get_alias(FunctionName="event-validator", Name="production")
    assert alias["FunctionVersion"] == "14"
    versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName="event-validator")["Versions"]]
    assert "13" in versions and "14" in versions
    assert lam.get_alias(FunctionName="real-time-aggregator", Name="production")["FunctionVersion"]


def test_dynamodb_checkpoints_and_backups(ops, sandbox):
    ddb = ops.client("dynamodb")
    items = ddb.scan(TableName="kinesis-checkpoints")["Items"]
    assert {i["ShardId"]["S"] for i in items} == {f"shardId-{n:012d}" for n in range(128)}
    backups = ddb.list_backups(TableName="real-time-events")["BackupSummaries"]
    assert len(backups) == 3
    newest = max(b["BackupCreationDateTime"] for b in backups)
    assert sandbox.now - newest < timedelta(days=1)


def test_s3_buckets_partitions_backups(ops, sandbox):
    s3 = ops.client("s3")
    buckets = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert {"company-events-prod", "company-events-archive", "company-backups", "company-lambda-artifacts",
            "company-access-logs", "company-cloudtrail-logs"} <= buckets
    now = sandbox.now
    prefix = f"raw-events/year={now.year}/month={now.month:02d}/day={now.day:02d}/"
    assert s3.list_objects_v2(Bucket="company-events-archive", Prefix=prefix)["KeyCount"] > 0
    yesterday = now - timedelta(days=1)
    assert s3.list_objects_v2(Bucket="company-backups", Prefix=f"daily/{yesterday:%Y/%m/%d}/")["KeyCount"] == 2
    rules = s3.get_bucket_lifecycle_configuration(Bucket="company-events-prod")["Rules"]
    assert [t["Days"] for t in rules[0]["Transitions"]] == [7, 90] and rules[0]["Expiration"]["Days"] == 730
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="company-lambda-artifacts")["Contents"]]
    assert "event-validator-v1.2.0.zip" in keys


def test_route53_rds_secret_iam_waf_cognito(ops):
    r53 = ops.client("route53")
    zone = r53.list_hosted_zones_by_name(DNSName="analytics.company.com")["HostedZones"][0]
    records = r53.list_resource_record_sets(HostedZoneId=zone["Id"])["ResourceRecordSets"]
    api = next(r for r in records if r["Name"] == "api.analytics.company.com.")
    assert api["AliasTarget"]["DNSName"].startswith("prod-alb.us-east-1")
    rds = ops.client("rds")
    replica = rds.describe_db_instances(DBInstanceIdentifier="analytics-db-replica-1")["DBInstances"][0]
    assert replica["ReadReplicaSourceDBInstanceIdentifier"] == "prod-analytics-db"
    secret = json.loads(ops.client("secretsmanager").get_secret_value(SecretId="prod/database/connection")["SecretString"])
    assert secret["host"].startswith("prod-analytics-db.")
    iam = ops.client("iam")
    assert {"deploy-bot", "ops-admin", "etl-service"} <= {u["UserName"] for u in iam.list_users()["Users"]}
    assert iam.list_access_keys(UserName="ops-admin")["AccessKeyMetadata"]
    ip_sets = ops.client("wafv2").list_ip_sets(Scope="REGIONAL")["IPSets"]
    assert [s["Name"] for s in ip_sets] == ["blocked-ips"]
    pools = ops.client("cognito-idp").list_user_pools(MaxResults=10)["UserPools"]
    assert [p["Name"] for p in pools] == ["analytics-users"]


def test_logs_alarms_and_metric_history(ops, sandbox):
    logs = ops.client("logs")
    groups = {g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]}
    assert {"/ecs/ingestion-api", "/ecs/stream-processor", "/aws/lambda/event-validator"} <= groups
    start = int((sandbox.now - timedelta(hours=1)).timestamp() * 1000)
    events = logs.filter_log_events(logGroupName="/ecs/ingestion-api", startTime=start)["events"]
    assert len(events) > 50
    alarms = ops.client("cloudwatch").describe_alarms()["MetricAlarms"]
    assert alarms and all(a["StateValue"] == "OK" for a in alarms)
    cw = ops.client("cloudwatch")
    for key in ("requests", "http_5xx", "latency_ms", "incoming_records", "iterator_age_ms", "events_dropped",
                "ecs_cpu", "ecs_memory"):
        m = ops.profile.metrics[key]
        stat = {"ExtendedStatistics": [m.stat]} if m.stat.startswith("p") else {"Statistics": [m.stat]}
        points = cw.get_metric_statistics(
            Namespace=m.namespace, MetricName=m.name, Dimensions=[{"Name": k, "Value": v} for k, v in m.dimensions.items()],
            StartTime=sandbox.now - timedelta(hours=24), EndTime=sandbox.now, Period=3600, **stat)["Datapoints"]
        assert len(points) == 24, key


def test_health_server_answers_each_service(ops):
    for name in ("ingestion-api", "stream-processor", "data-api"):
        url = ops.health_url(ops.profile.service(name).health_url)
        with urllib.request.urlopen(url, timeout=5) as resp:
            assert resp.status == 200
            assert json.loads(resp.read())["status"] == "ok"


def test_sql_warehouse_and_database(ops):
    with ops.warehouse.connect() as c:
        assert c.execute(sa.text("select count(*) from events")).scalar() > 10_000
        assert c.execute(sa.text("select count(*) from error_logs")).scalar() >= 0
    with ops.database.connect() as c:
        assert c.execute(sa.text("select count(*) from events")).scalar() > 0
        assert c.execute(sa.text("select count(*) from audit_logs")).scalar() >= 0
