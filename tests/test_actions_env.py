"""Fixtures of the action tests: a moto server in its own process (so resetting it between tests never touches
the shared session sandbox), a scratch PostgreSQL database, and an ``Ops`` handle built by the real
``connect()`` from a sandbox state file that points at both. The seed mirrors the sandbox's resources."""
from __future__ import annotations

import io
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from opslib import connect
from opslib.config import parameters_dir
from opslib.sandbox.state import SandboxState

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def act_moto():
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "MOTO_ALLOW_NONEXISTENT_REGION": "true"})
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(url + "/moto-api/", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="module")
def act_pg(sandbox):
    """A scratch database on the machine's PostgreSQL when .ci/run provides it (OPSLIB_TEST_PG_URL), else
    on the session sandbox's embedded server, so these tests need no server installed. Dropped (with its
    connections) after each module, so later tests see the server's connections as they were."""
    server = sa.make_url(os.environ.get("OPSLIB_TEST_PG_URL") or sandbox.database_url)
    name = f"opslib_actions_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(server.set(drivername="postgresql+psycopg", database="postgres"),
                             isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    url = server.set(drivername="postgresql+psycopg", database=name).render_as_string(hide_password=False)
    yield url
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.dispose()


def _zip(text: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("handler.py", text)
    return buf.getvalue()


def seed(ops) -> dict:
    """The runbook's resources, as the sandbox seeds them (names from the profile)."""
    p = ops.profile
    out: dict = {}
    for which, cluster in (("primary", p.ecs.cluster), ("dr", p.ecs.dr_cluster)):
        ecs = ops.client("ecs", which)
        ecs.create_cluster(clusterName=cluster)
        for svc, revs in (("ingestion-api", 24), ("stream-processor", 3)):
            arn = None
            for _ in range(revs):
                arn = ecs.register_task_definition(family=svc, containerDefinitions=[
                    {"name": svc, "image": f"{svc}:latest", "memory": 512}])["taskDefinition"]["taskDefinitionArn"]
            ecs.create_service(cluster=cluster, serviceName=svc, taskDefinition=arn,
                               desiredCount=6 if which == "primary" else 1)
        ecs.register_task_definition(family="ingestion-api-debug", containerDefinitions=[
            {"name": "ingestion-api", "image": "ingestion-api:latest", "memory": 512}])
        kin = ops.client("kinesis", which)
        stream = p.kinesis.stream if which == "primary" else p.kinesis.dr_stream
        kin.create_stream(StreamName=stream, ShardCount=4 if which == "primary" else 2)
    ddb = ops.client("dynamodb")
    ddb.create_table(TableName=p.dynamodb.checkpoint_table, BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "ShardId", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "ShardId", "KeyType": "HASH"}])
    for i in range(4):
        ddb.put_item(TableName=p.dynamodb.checkpoint_table, Item={
            "ShardId": {"S": f"shardId-00000000000{i}"}, "SequenceNumber": {"S": f"4923456789012345678{i}"}})
    iam = ops.client("iam")
    role = iam.create_role(RoleName="event-validator-role", AssumeRolePolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                 "Principal": {"Service": "lambda.amazonaws.com"}}]}))["Role"]["Arn"]
    lam = ops.client("lambda")
    lam.create_function(FunctionName="event-validator", Runtime="python3.12", Role=role, Handler="handler.main",
                        Code={"ZipFile": _zip("def main(e, c):\n    return 1\n")})
    for v in range(1, 15):
        lam.update_function_code(FunctionName="event-validator", ZipFile=_zip(f"def main(e, c):\n    return {v}\n"))
        lam.publish_version(FunctionName="event-validator", Description=f"v1.{v}.0")
    lam.create_alias(FunctionName="event-validator", Name="production", FunctionVersion="13")
    r53 = ops.client("route53")
    zone = r53.create_hosted_zone(Name=p.dns.hosted_zone, CallerReference="seed")["HostedZone"]["Id"]
    r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [{"Action": "UPSERT",
        "ResourceRecordSet": {"Name": p.dns.record, "Type": "A", "AliasTarget": {
            "HostedZoneId": "Z35SXDOTRQ7X7K", "DNSName": p.dns.primary_alb_dns, "EvaluateTargetHealth": True}}}]})
    rds = ops.client("rds")
    rds.create_db_instance(DBInstanceIdentifier=p.rds.instance, Engine="postgres", DBInstanceClass="db.r6g.xlarge",
                           AllocatedStorage=100, MasterUsername="admin", MasterUserPassword="sandbox-only-pw",
                           BackupRetentionPeriod=7)
    rds.create_db_instance_read_replica(DBInstanceIdentifier=p.rds.replica, SourceDBInstanceIdentifier=p.rds.instance)
    ops.client("secretsmanager").create_secret(Name=p.secrets.database_connection, SecretString=json.dumps(
        {"host": "prod-analytics-db.example", "port": 5432, "username": "admin", "password": "s3cr3t-PASSWORD-x"}))
    iam.create_user(UserName="deploy-bot")
    out["access_key"] = iam.create_access_key(UserName="deploy-bot")["AccessKey"]["AccessKeyId"]
    ops.client("wafv2").create_ip_set(Name=p.security.waf_ip_set, Scope=p.security.waf_scope, IPAddressVersion="IPV4",
                                      Addresses=["192.0.2.10/32"])
    idp = ops.client("cognito-idp")
    pool = idp.create_user_pool(PoolName=p.security.cognito_user_pool)["UserPool"]["Id"]
    for user in ("affected-user", "invited-user"):
        idp.admin_create_user(UserPoolId=pool, Username=user, UserAttributes=[
            {"Name": "email", "Value": f"{user}@company.com"}, {"Name": "email_verified", "Value": "true"}])
    idp.admin_set_user_password(UserPoolId=pool, Username="affected-user", Password="Sandbox-only-1!", Permanent=True)
    ops.client("s3").create_bucket(Bucket=p.s3.events_bucket)
    with ops.database.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS events")
        conn.exec_driver_sql("CREATE TABLE events (event_id text primary key, user_id text, "
                             "event_timestamp timestamptz not null)")
        conn.exec_driver_sql("INSERT INTO events SELECT 'e' || g, 'user-' || mod(g, 7), "
                             "timestamp '2026-11-25 12:00+00' - g * interval '3 days' FROM generate_series(1, 400) g")
    return out


def _state(directory: Path, endpoint: str, database_url: str) -> None:
    SandboxState(dir=str(directory), aws_endpoint=endpoint, health_url="http://127.0.0.1:9/", control_url="",
                 warehouse_path=str(directory / "warehouse.duckdb"), database_url=database_url, now=NOW.isoformat(),
                 seed=42, size=0, pid=os.getpid()).write()


def production_copy(tmp_path: Path) -> Path:
    """A copy of the sandbox profile marked ``production: true`` (with the base it extends)."""
    d = tmp_path / "prodlike"
    d.mkdir()
    shutil.copy(parameters_dir() / "_common.yaml", d / "_common.yaml")
    text = (parameters_dir() / "sandbox.yaml").read_text().replace("production: false", "production: true")
    assert "production: true" in text
    (d / "sandbox-prod.yaml").write_text(text)
    return d / "sandbox-prod.yaml"


@pytest.fixture
def act_env(act_moto, act_pg, tmp_path, monkeypatch):
    """(ops, seeded ids, sandbox dir): a freshly reset and seeded moto, the scratch database, audit under tmp."""
    urllib.request.urlopen(urllib.request.Request(act_moto + "/moto-api/reset", method="POST"), timeout=10)
    monkeypatch.setenv("OPSLIB_AUDIT_DIR", str(tmp_path / "audit"))
    monkeypatch.setenv("OPSLIB_RUN_ID", "test-run-1")
    monkeypatch.delenv("ANALYTICS_DB_URL", raising=False)
    _state(tmp_path, act_moto, act_pg)
    ops = connect("sandbox", sandbox_dir=str(tmp_path))
    ids = seed(ops)
    yield ops, ids, tmp_path
    ops.close()


@pytest.fixture
def act_ops(act_env):
    return act_env[0]


@pytest.fixture(scope="module")
def shared_env(act_moto, act_pg, tmp_path_factory):
    """Like ``act_env`` but seeded once per module: for tests that must not change anything."""
    tmp = tmp_path_factory.mktemp("actions-shared")
    urllib.request.urlopen(urllib.request.Request(act_moto + "/moto-api/reset", method="POST"), timeout=10)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OPSLIB_AUDIT_DIR", str(tmp / "audit"))
        mp.setenv("OPSLIB_RUN_ID", "test-run-guards")
        mp.delenv("ANALYTICS_DB_URL", raising=False)
        _state(tmp, act_moto, act_pg)
        ops = connect("sandbox", sandbox_dir=str(tmp))
        ids = seed(ops)
        yield ops, ids, tmp
        ops.close()


def snapshot(ops) -> dict:
    """Everything the actions can change, read through the public APIs and SQL."""
    import hashlib
    p = ops.profile
    s: dict = {}
    for which, cluster in (("primary", p.ecs.cluster), ("dr", p.ecs.dr_cluster)):
        ecs = ops.client("ecs", which)
        arns = ecs.list_services(cluster=cluster)["serviceArns"]
        for svc in ecs.describe_services(cluster=cluster, services=arns)["services"]:
            s[f"ecs/{cluster}/{svc['serviceName']}/desired"] = svc["desiredCount"]
            s[f"ecs/{cluster}/{svc['serviceName']}/taskdef"] = svc["taskDefinition"].rsplit("/", 1)[-1]
        stream = p.kinesis.stream if which == "primary" else p.kinesis.dr_stream
        summ = ops.client("kinesis", which).describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
        s[f"kinesis/{stream}/shards"] = summ["OpenShardCount"]
        s[f"kinesis/{stream}/encryption"] = summ.get("EncryptionType", "NONE")
    aas = ops.client("application-autoscaling")
    for t in aas.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"]:
        s[f"aas/{t['ResourceId']}"] = (t["MinCapacity"], t["MaxCapacity"])
    for pol in aas.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"]:
        s[f"aas/{pol['ResourceId']}/{pol['PolicyName']}"] = pol["TargetTrackingScalingPolicyConfiguration"]["TargetValue"]
    for item in ops.client("dynamodb").scan(TableName=p.dynamodb.checkpoint_table)["Items"]:
        s[f"checkpoint/{item['ShardId']['S']}"] = item["SequenceNumber"]["S"]
    alias = ops.client("lambda").get_alias(FunctionName="event-validator", Name="production")
    s["lambda/event-validator/production"] = (alias["FunctionVersion"], json.dumps(
        (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights", {}), sort_keys=True))
    r53 = ops.client("route53")
    for hz in r53.list_hosted_zones()["HostedZones"]:
        for rrs in r53.list_resource_record_sets(HostedZoneId=hz["Id"])["ResourceRecordSets"]:
            s[f"dns/{rrs['Name']}/{rrs['Type']}"] = json.dumps(
                rrs.get("AliasTarget") or rrs.get("ResourceRecords"), sort_keys=True)
    for db in ops.client("rds").describe_db_instances()["DBInstances"]:
        s[f"rds/{db['DBInstanceIdentifier']}"] = db.get("ReadReplicaSourceDBInstanceIdentifier")
    sm = ops.client("secretsmanager")
    sid = p.secrets.database_connection
    s["secret/version"] = [v for v, st in sm.describe_secret(SecretId=sid)["VersionIdsToStages"].items()
                           if "AWSCURRENT" in st][0]
    s["secret/sha"] = hashlib.sha256(sm.get_secret_value(SecretId=sid, VersionStage="AWSCURRENT")["SecretString"].encode()).hexdigest()
    iam = ops.client("iam")
    for user in iam.list_users()["Users"]:
        for key in iam.list_access_keys(UserName=user["UserName"])["AccessKeyMetadata"]:
            s[f"iam/{key['AccessKeyId']}"] = key["Status"]
    waf = ops.client("wafv2")
    for ipset in waf.list_ip_sets(Scope="REGIONAL")["IPSets"]:
        got = waf.get_ip_set(Name=ipset["Name"], Scope="REGIONAL", Id=ipset["Id"])["IPSet"]
        s[f"waf/{ipset['Name']}"] = tuple(sorted(got["Addresses"]))
    idp = ops.client("cognito-idp")
    for pool in idp.list_user_pools(MaxResults=10)["UserPools"]:
        for u in idp.list_users(UserPoolId=pool["Id"])["Users"]:
            s[f"cognito/{u['Username']}"] = u["UserStatus"]
    for alarm in ops.client("cloudwatch").describe_alarms()["MetricAlarms"]:
        if alarm["AlarmName"].startswith("TargetTracking-"):
            continue   # owned by Application Auto Scaling: a scaling policy change replaces them, as on AWS
        s[f"alarm/{alarm['AlarmName']}"] = (alarm["Threshold"], alarm["EvaluationPeriods"], alarm["ComparisonOperator"])
    s3 = ops.client("s3")
    for bucket in s3.list_buckets()["Buckets"]:
        tiering = s3.list_bucket_intelligent_tiering_configurations(Bucket=bucket["Name"])
        s[f"s3/{bucket['Name']}/tiering"] = json.dumps(tiering.get("IntelligentTieringConfigurationList", []),
                                                       sort_keys=True)
    with ops.database.connect() as conn:
        s["db/events"] = conn.exec_driver_sql("SELECT count(*) FROM events").scalar()
        s["db/indexes"] = tuple(conn.exec_driver_sql(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'events' ORDER BY 1").scalars())
        s["db/last_vacuum"] = conn.exec_driver_sql(
            "SELECT last_vacuum FROM pg_stat_user_tables WHERE relname = 'events'").scalar()
    return s
