"""Seed the runbook's AWS resources into the sandbox's moto server, through boto3 over HTTP (the
same calls an operator's account would have seen), in the primary and the DR region.

Names, regions, roles and the checkpoint table's layout come from the sandbox's profile (any profile:
services are found by ``role``, never by the runbook's literal names); data is deterministic from the
seed and the sandbox clock.
"""
from __future__ import annotations

import gzip
import io
import json
import random
import zipfile
from datetime import datetime, timedelta
from typing import Any

from ..aws import checkpoints as checkpoint_layouts
from . import synthetic_records

ALB_ZONE_ID = {"us-east-1": "Z35SXDOTRQ7X7K", "us-west-2": "Z1H1FL5HABSF5", "eu-west-1": "Z32O12XQLNTSW2",
               "eu-central-1": "Z215JYRZR1TBD5"}
INGESTION_REVISIONS = 24         # the runbook deploys ingestion-api:25 and rolls back to :24 (the ingest role)
LAMBDA_VERSIONS = 14             # the runbook shifts event-validator's alias from 14 to 15 (the validate role)
ECS_DESIRED = {"ingest": 6, "process": 4, "query": 3}     # by role
AUTOSCALING = {"ingest": (4, 40), "process": (2, 30)}     # by role: min, max tasks
DR_DESIRED = 1                   # warm standby; the failover scales it up


def role_name(sb: Any, role: str, default: str | None = None) -> str | None:
    """The name of the profile's (first) service with ``role``."""
    svc = sb.profile.service_for(role)
    return svc.name if svc else default


def alb_name(dns_name: str) -> str:
    """The load balancer's name from its DNS name (``prod-alb-123.us-east-1.elb...`` -> ``prod-alb``)."""
    import re
    return re.sub(r"-\d+$", "", dns_name.split(".", 1)[0])


def create_bucket(s3: Any, bucket: str, region: str) -> None:
    """A bucket in ``region`` (outside us-east-1 S3 wants the location constraint)."""
    kwargs: dict = {"Bucket": bucket}
    if region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    s3.create_bucket(**kwargs)


def seed(sb: Any) -> None:
    """Create every resource the runbook names (idempotent only across a moto reset)."""
    rng = random.Random(sb.config.seed)
    net = {}
    for which in sb.profile.sides:
        net[which] = _network(sb, which)
    roles = _iam(sb)
    _s3(sb, rng)
    checkpoints = {}
    for which in sb.profile.sides:
        _load_balancers(sb, which, net[which])
        _ecs(sb, which, net[which])
        checkpoints[which] = _kinesis(sb, which, rng)
    _dynamodb(sb, rng, checkpoints["primary"])
    _lambda(sb, roles["lambda"])
    _route53(sb)
    _rds(sb)
    _secrets(sb, rng)
    _waf_cognito(sb)
    _logs(sb, rng)
    _alarms(sb)
    _certificates(sb)
    _emr(sb)
    from . import cloudtrail   # written alongside: CloudTrail trail, events and S3 logs
    cloudtrail.seed(sb)


# -- network and load balancers -------------------------------------------------------------------
def _network(sb: Any, which: str) -> dict:
    ec2 = sb.client("ec2", which)
    region = sb.region(which)
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16" if which == "primary" else "10.40.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=f"{region}{az}")["Subnet"]["SubnetId"]
               for cidr, az in zip(_cidrs(which), "ab")]
    sg = ec2.create_security_group(GroupName="pipeline-services", Description="pipeline services", VpcId=vpc)["GroupId"]
    return {"vpc": vpc, "subnets": subnets, "sg": sg}


def _cidrs(which: str) -> list[str]:
    base = "10.20" if which == "primary" else "10.40"
    return [f"{base}.1.0/24", f"{base}.2.0/24"]


def _load_balancers(sb: Any, which: str, net: dict) -> None:
    elb = sb.client("elbv2", which)
    name = alb_name(sb.profile.dns.primary_alb_dns if which == "primary" else sb.profile.dns.dr_alb_dns)
    lb = elb.create_load_balancer(Name=name, Subnets=net["subnets"], SecurityGroups=[net["sg"]],
                                  Scheme="internet-facing", Type="application")["LoadBalancers"][0]
    net["alb_arn"], net["alb_dns"] = lb["LoadBalancerArn"], lb["DNSName"]
    net["target_groups"] = {}
    for svc in sb.profile.services:
        if svc.type != "ecs" or not svc.target_group:
            continue
        tg = elb.create_target_group(Name=svc.target_group, Protocol="HTTP", Port=8080, VpcId=net["vpc"],
                                     TargetType="ip", HealthCheckPath="/health",
                                     HealthCheckIntervalSeconds=30, HealthyThresholdCount=3,
                                     UnhealthyThresholdCount=3)["TargetGroups"][0]
        net["target_groups"][svc.name] = tg["TargetGroupArn"]
    ingestion_tg = net["target_groups"].get(role_name(sb, "ingest", ""))
    if ingestion_tg:
        elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                            DefaultActions=[{"Type": "forward", "TargetGroupArn": ingestion_tg}])


# -- ECS ---------------------------------------------------------------------------------------------
def _container(name: str, revision: int, *, debug: bool = False, account: str = "123456789012",
               region: str = "us-east-1", log_group: str | None = None) -> dict:
    return {
        "name": name,
        "image": f"{account}.dkr.ecr.{region}.amazonaws.com/{name}:1.{revision}.0",
        "cpu": 512, "memory": 1024, "essential": True,
        "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
        "environment": [{"name": "LOG_LEVEL", "value": "DEBUG" if debug else "INFO"},
                        {"name": "DB_POOL_MAX", "value": "20"},
                        {"name": "DB_POOL_IDLE_TIMEOUT_MS", "value": "30000"},
                        {"name": "DB_CONNECT_TIMEOUT_MS", "value": "2000"},
                        {"name": "CACHE_TTL_SECONDS", "value": "600"}],
        "healthCheck": {"command": ["CMD-SHELL", "curl -f http://localhost:8080/health || exit 1"],
                        "interval": 30, "timeout": 5, "retries": 3},
        "logConfiguration": {"logDriver": "awslogs",
                             "options": {"awslogs-group": log_group or f"/ecs/{name}", "awslogs-region": region,
                                         "awslogs-stream-prefix": "ecs"}},
    }


def _register(ecs: Any, family: str, revisions: int, *, container: str | None = None, debug: bool = False,
              account: str = "123456789012", region: str = "us-east-1", log_group: str | None = None) -> list[str]:
    arns = []
    for rev in range(1, revisions + 1):
        arns.append(ecs.register_task_definition(
            family=family, networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="512", memory="1024",
            executionRoleArn=f"arn:aws:iam::{account}:role/ecsTaskExecutionRole",
            containerDefinitions=[_container(container or family, rev, debug=debug, account=account, region=region,
                                             log_group=log_group)])["taskDefinition"]["taskDefinitionArn"])
    return arns


def _ecs(sb: Any, which: str, net: dict) -> None:
    ecs = sb.client("ecs", which)
    cluster = sb.profile.ecs.cluster if which == "primary" else sb.profile.ecs.dr_cluster
    ecs.create_cluster(clusterName=cluster, settings=[{"name": "containerInsights", "value": "enabled"}])
    for svc in sb.profile.services:
        if svc.type != "ecs":
            continue
        revisions = INGESTION_REVISIONS if svc.role == "ingest" else 3
        where = {"account": sb.account_id, "region": sb.region(which), "log_group": svc.log_group}
        arns = _register(ecs, svc.name, revisions, **where)
        if which == "primary":   # LOG_LEVEL=DEBUG variant for "enable debug logging" (High Error Rate step 4)
            _register(ecs, f"{svc.name}-debug", 1, container=svc.name, debug=True, **where)
        desired = ECS_DESIRED.get(svc.role, 2) if which == "primary" else DR_DESIRED
        kwargs: dict = {}
        tg = net["target_groups"].get(svc.name)
        if tg:
            kwargs["loadBalancers"] = [{"targetGroupArn": tg, "containerName": svc.name, "containerPort": 8080}]
        ecs.create_service(
            cluster=cluster, serviceName=svc.name, taskDefinition=arns[-1], desiredCount=desired,
            launchType="FARGATE", schedulingStrategy="REPLICA",
            deploymentConfiguration={"maximumPercent": 200, "minimumHealthyPercent": 100,
                                     "deploymentCircuitBreaker": {"enable": True, "rollback": True}},
            networkConfiguration={"awsvpcConfiguration": {"subnets": net["subnets"], "securityGroups": [net["sg"]],
                                                          "assignPublicIp": "DISABLED"}},
            **kwargs)
    if which == "primary":
        aas = sb.client("application-autoscaling", which)
        for svc in sb.profile.services:
            if svc.type != "ecs" or svc.role not in AUTOSCALING:
                continue
            name, (low, high) = svc.name, AUTOSCALING[svc.role]
            resource = f"service/{cluster}/{name}"
            aas.register_scalable_target(ServiceNamespace="ecs", ResourceId=resource,
                                         ScalableDimension="ecs:service:DesiredCount", MinCapacity=low, MaxCapacity=high)
            aas.put_scaling_policy(
                PolicyName="cpu-scaling", ServiceNamespace="ecs", ResourceId=resource,
                ScalableDimension="ecs:service:DesiredCount", PolicyType="TargetTrackingScaling",
                TargetTrackingScalingPolicyConfiguration={
                    "TargetValue": 60.0, "ScaleInCooldown": 300, "ScaleOutCooldown": 60,
                    "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"}})


# -- Kinesis and DynamoDB ----------------------------------------------------------------------------
# The seeded traffic (about 50,000 events/s on average, 79,000 at the daily peak, as the runbook's 4.3
# billion a day) needs at least 79 shards at 1,000 records/s each: 128 keep the peak near 60% of the limit.
PRIMARY_SHARDS = 128


def _kinesis(sb: Any, which: str, rng: random.Random) -> dict[str, str]:
    """The stream with records; returns the last sequence number of every shard (what a caught-up
    consumer checkpoints), from the PutRecords answers (a shard without records: its starting number)."""
    kinesis = sb.client("kinesis", which)
    stream = sb.profile.kinesis.stream if which == "primary" else sb.profile.kinesis.dr_stream
    shards = PRIMARY_SHARDS if which == "primary" else 2
    kinesis.create_stream(StreamName=stream, ShardCount=shards)
    kinesis.increase_stream_retention_period(StreamName=stream, RetentionPeriodHours=48)
    arn = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamARN"]
    if which == "primary":
        kinesis.start_stream_encryption(StreamName=stream, EncryptionType="KMS", KeyId="alias/aws/kinesis")
        kinesis.register_stream_consumer(StreamARN=arn, ConsumerName=sb.profile.kinesis.consumer)
    records = synthetic_records.events(rng, sb.now, count=1200 if which == "primary" else 100)
    latest = {s["ShardId"]: s["SequenceNumberRange"]["StartingSequenceNumber"]
              for page in kinesis.get_paginator("list_shards").paginate(StreamName=stream) for s in page["Shards"]}
    for i in range(0, len(records), 500):
        answer = kinesis.put_records(StreamName=stream, Records=[
            {"Data": json.dumps(r).encode(), "PartitionKey": r["user_id"]} for r in records[i:i + 500]])
        latest.update((r["ShardId"], r["SequenceNumber"]) for r in answer["Records"])   # in put order
    return latest


def _dynamodb(sb: Any, rng: random.Random, checkpoints: dict[str, str]) -> None:
    """The consumer's checkpoint table in the profile's layout (a KCL lease table when ``kcl``: one lease per
    shard held by one of the consumer's workers), and the real-time events table with its backups."""
    ddb = sb.client("dynamodb")
    table = sb.profile.dynamodb.checkpoint_table
    layout = sb.profile.kinesis.checkpoint_layout
    ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST", **checkpoint_layouts.table_schema(layout))
    checkpoint_time = sb.now - timedelta(seconds=2)
    consumer = role_name(sb, "process", sb.profile.kinesis.consumer)
    workers = [f"{consumer}-worker-{i}" for i in range(ECS_DESIRED["process"])]
    items = [{"PutRequest": {"Item": checkpoint_layouts.item(
                layout, shard, seq, owner=workers[i % len(workers)] if layout == "kcl" else consumer,
                counter=rng.randrange(100, 5000) if layout == "kcl" else 1, checkpointed_at=checkpoint_time)}}
             for i, (shard, seq) in enumerate(sorted(checkpoints.items()))]
    for i in range(0, len(items), 25):                      # BatchWriteItem takes 25 at most
        ddb.batch_write_item(RequestItems={table: items[i:i + 25]})
    events = sb.profile.dynamodb.events_table
    ddb.create_table(TableName=events, BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "user_id", "AttributeType": "S"},
                                           {"AttributeName": "window_start", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "user_id", "KeyType": "HASH"},
                                {"AttributeName": "window_start", "KeyType": "RANGE"}])
    for i in range(60):
        ddb.put_item(TableName=events, Item={
            "user_id": {"S": f"user-{rng.randrange(5000):05d}"},
            "window_start": {"S": (sb.now - timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:00Z")},
            "event_count": {"N": str(rng.randrange(1, 40))}})
    ddb.update_continuous_backups(TableName=events,
                                  PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
    backend = sb.backend("dynamodb")
    for days in (3, 2, 1):
        arn = ddb.create_backup(TableName=events, BackupName=f"{events}-daily-{days}")["BackupDetails"]["BackupArn"]
        backup = next(b for b in backend.backups.values() if b.arn == arn)
        backup.creation_date_time = sb.now - timedelta(days=days, hours=-1)   # daily at 01:00


# -- Lambda ------------------------------------------------------------------------------------------
def _zip(text: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("handler.py", text)
    return buf.getvalue()


def _lambda(sb: Any, role_arn: str) -> None:
    lam = sb.client("lambda")
    for svc in sb.profile.services:
        if svc.type != "lambda":
            continue
        versions = LAMBDA_VERSIONS if svc.role == "validate" else 6
        lam.create_function(FunctionName=svc.name, Runtime="python3.12", Role=role_arn, Handler="handler.main",
                            Code={"ZipFile": _zip("def main(event, context):\n    return {'version': 1}\n")},
                            Timeout=30, MemorySize=512, Environment={"Variables": {"LOG_LEVEL": "INFO"}})
        for v in range(1, versions + 1):
            if v > 1:
                lam.update_function_code(FunctionName=svc.name,
                                         ZipFile=_zip(f"def main(event, context):\n    return {{'version': {v}}}\n"))
            lam.publish_version(FunctionName=svc.name, Description=f"v1.{v}.0")
        lam.create_alias(FunctionName=svc.name, Name=svc.alias or "production", FunctionVersion=str(versions))
    s3 = sb.client("s3")
    validator = role_name(sb, "validate", "event-validator")
    for version in ("1.1.0", "1.2.0"):
        s3.put_object(Bucket=sb.profile.s3.lambda_artifacts_bucket, Key=f"{validator}-v{version}.zip",
                      Body=_zip(f"# {validator} {version}\ndef main(event, context):\n    return True\n"))


# -- S3 ----------------------------------------------------------------------------------------------
def _s3(sb: Any, rng: random.Random) -> None:
    s3 = sb.client("s3")
    b = sb.profile.s3
    for bucket in (b.events_bucket, b.archive_bucket, b.backups_bucket, b.lambda_artifacts_bucket,
                   b.access_logs_bucket, b.cloudtrail_bucket):
        create_bucket(s3, bucket, sb.region("primary"))
    t = sb.profile.targets.retention
    s3.put_bucket_lifecycle_configuration(Bucket=b.events_bucket, LifecycleConfiguration={"Rules": [{
        "ID": "hot-warm-cold", "Status": "Enabled", "Filter": {"Prefix": "events/"},
        "Transitions": [{"Days": t.hot_days, "StorageClass": "STANDARD_IA"},
                        {"Days": t.warm_days, "StorageClass": "GLACIER"}],
        "Expiration": {"Days": t.cold_days}}]})
    s3.put_bucket_lifecycle_configuration(Bucket=b.archive_bucket, LifecycleConfiguration={"Rules": [{
        "ID": "archive-cold", "Status": "Enabled", "Filter": {"Prefix": "raw-events/"},
        "Transitions": [{"Days": t.warm_days, "StorageClass": "GLACIER"}], "Expiration": {"Days": t.cold_days}}]})
    s3.put_bucket_versioning(Bucket=b.backups_bucket, VersioningConfiguration={"Status": "Enabled"})
    for day in range(8):
        d = sb.now - timedelta(days=day)
        for hour in (0, 6, 12, 18):
            if day == 0 and hour > sb.now.hour:
                continue
            records = synthetic_records.events(rng, d.replace(hour=hour, minute=59), count=20)
            body = gzip.compress("\n".join(json.dumps(r) for r in records).encode())
            key = (f"raw-events/year={d.year}/month={d.month:02d}/day={d.day:02d}/"
                   f"events-{d:%Y%m%d}-{hour:02d}.json.gz")
            s3.put_object(Bucket=b.archive_bucket, Key=key, Body=body)
            s3.put_object(Bucket=b.events_bucket, Key=f"events/{d:%Y/%m/%d}/{hour:02d}.json.gz", Body=body)
    for day in range(1, 8):   # last night's backup is the newest: the daily job runs at 01:00
        d = sb.now - timedelta(days=day - 1 if sb.now.hour >= 1 else day)
        for part in (f"{sb.profile.rds.instance}.dump", f"dynamodb-{sb.profile.dynamodb.events_table}.json.gz"):
            s3.put_object(Bucket=b.backups_bucket, Key=f"daily/{d:%Y/%m/%d}/{part}",
                          Body=f"backup of {part} for {d:%Y-%m-%d}\n".encode() * 20)
    lines = []
    for i in range(300):
        ts = sb.now - timedelta(seconds=rng.randrange(0, 86400))
        ip = f"198.51.100.{rng.randrange(1, 255)}"
        lines.append(json.dumps({"timestamp": ts.isoformat(), "ip_address": ip, "method": "POST", "path": "/v1/events",
                                 "status": rng.choice([200] * 40 + [400, 429, 500]), "bytes": rng.randrange(200, 4000)}))
    s3.put_object(Bucket=b.access_logs_bucket, Key=f"{sb.now:%Y/%m/%d}/alb-access.log", Body="\n".join(lines).encode())


# -- IAM, Route53, RDS, secrets, WAF, Cognito ------------------------------------------------------------
def _iam(sb: Any) -> dict:
    iam = sb.client("iam")
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                                 "Principal": {"Service": "lambda.amazonaws.com"}}]})
    role = iam.create_role(RoleName="event-validator-role", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    policies = {
        "PipelineReadOnly": {"Effect": "Allow", "Action": ["kinesis:Describe*", "ecs:Describe*", "s3:GetObject"],
                             "Resource": "*"},
        "PipelineDeploy": {"Effect": "Allow", "Action": ["ecs:UpdateService", "ecs:RegisterTaskDefinition",
                                                         "lambda:UpdateAlias"], "Resource": "*"},
        "PipelineAdmin": {"Effect": "Allow", "Action": "*", "Resource": "*"},
    }
    arns = {name: iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [stmt]}))["Policy"]["Arn"] for name, stmt in policies.items()}
    for user, policy in {"deploy-bot": "PipelineDeploy", "analyst-jane": "PipelineReadOnly",
                         "ops-admin": "PipelineAdmin", "etl-service": "PipelineReadOnly"}.items():
        iam.create_user(UserName=user)
        iam.attach_user_policy(UserName=user, PolicyArn=arns[policy])
        iam.create_access_key(UserName=user)
    return {"lambda": role}


def _route53(sb: Any) -> None:
    r53 = sb.client("route53")
    d = sb.profile.dns
    zone = r53.create_hosted_zone(Name=d.hosted_zone, CallerReference="sandbox-seed")["HostedZone"]["Id"]
    primary = sb.region("primary")
    changes = [
        {"Action": "UPSERT", "ResourceRecordSet": {"Name": d.record, "Type": "A", "AliasTarget": {
            "HostedZoneId": ALB_ZONE_ID.get(primary, "Z35SXDOTRQ7X7K"), "DNSName": d.primary_alb_dns,
            "EvaluateTargetHealth": True}}},
        {"Action": "UPSERT", "ResourceRecordSet": {"Name": f"dashboard.{d.hosted_zone}", "Type": "CNAME",
                                                   "TTL": 300, "ResourceRecords": [{"Value": d.primary_alb_dns}]}},
    ]
    if sb.profile.has_dr:
        changes.insert(1, {"Action": "UPSERT", "ResourceRecordSet": {
            "Name": f"api-dr.{d.hosted_zone}", "Type": "A", "AliasTarget": {
                "HostedZoneId": ALB_ZONE_ID.get(sb.region("dr"), "Z1H1FL5HABSF5"), "DNSName": d.dr_alb_dns,
                "EvaluateTargetHealth": True}}})
    r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": changes})


def _rds(sb: Any) -> None:
    rds = sb.client("rds")
    r = sb.profile.rds
    rds.create_db_instance(DBInstanceIdentifier=r.instance, Engine="postgres", EngineVersion="15.5",
                           DBInstanceClass="db.r6g.xlarge", AllocatedStorage=500, MasterUsername="admin",
                           MasterUserPassword="sandbox-only-password", DBName="analytics", MultiAZ=True,
                           BackupRetentionPeriod=7, StorageEncrypted=True)
    if r.replica:
        rds.create_db_instance_read_replica(DBInstanceIdentifier=r.replica, SourceDBInstanceIdentifier=r.instance,
                                            DBInstanceClass="db.r6g.xlarge")
    rds.create_db_snapshot(DBInstanceIdentifier=r.instance, DBSnapshotIdentifier=f"{r.instance}-daily")


def _secrets(sb: Any, rng: random.Random) -> None:
    sm = sb.client("secretsmanager")
    password = "".join(rng.choice("abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(24))
    host = f"{sb.profile.rds.instance}.c9akciq32.{sb.region('primary')}.rds.amazonaws.com"
    sm.create_secret(Name=sb.profile.secrets.database_connection, SecretString=json.dumps(
        {"host": host, "port": 5432, "dbname": "analytics", "username": "admin", "password": password}))


def _waf_cognito(sb: Any) -> None:
    waf = sb.client("wafv2")
    waf.create_ip_set(Name=sb.profile.security.waf_ip_set, Scope=sb.profile.security.waf_scope,
                      IPAddressVersion="IPV4", Addresses=["192.0.2.10/32"], Description="blocked by ops")
    idp = sb.client("cognito-idp")
    pool = idp.create_user_pool(PoolName=sb.profile.security.cognito_user_pool)["UserPool"]["Id"]
    for user in ("affected-user", "analyst-jane", "dashboard-viewer"):
        idp.admin_create_user(UserPoolId=pool, Username=user, MessageAction="SUPPRESS",
                              UserAttributes=[{"Name": "email", "Value": f"{user}@company.com"},
                                              {"Name": "email_verified", "Value": "true"}])
        # users who signed in once are CONFIRMED (a password reset needs that)
        idp.admin_set_user_password(UserPoolId=pool, Username=user, Password=f"Sandbox-{user}-1!", Permanent=True)


# -- logs, alarms, certificates, EMR ---------------------------------------------------------------------
LOG_LINES = {   # by the role of the service writing the log group
    "ingest": ["INFO accepted batch of {n} events", "INFO GET /health 200",
                           "INFO POST /v1/events 202 {n}ms", "WARN slow downstream put_records {n}ms"],
    "process": ["INFO processed batch size={n}", "INFO checkpoint shardId-00000000000{s}",
                              "INFO GET /health 200"],
    "query": ["INFO GET /v1/metrics 200 {n}ms", "INFO GET /health 200"],
    "validate": ["INFO validated {n} events", "REPORT Duration: {n} ms"],
    "aggregate": ["INFO aggregated window count={n}", "REPORT Duration: {n} ms"],
}


def log_lines(sb: Any, group: str, lines: list[tuple[datetime, str]], stream: str = "ecs/main/0") -> None:
    """Append ``(time, message)`` lines to a log group's stream (creates the stream if needed)."""
    logs = sb.client("logs")
    try:
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    events = sorted(({"timestamp": int(t.timestamp() * 1000), "message": m} for t, m in lines),
                    key=lambda e: e["timestamp"])
    for i in range(0, len(events), 5000):
        logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events[i:i + 5000])


def _logs(sb: Any, rng: random.Random) -> None:
    logs = sb.client("logs")
    roles = {s.log_group: s.role for s in sb.profile.services if s.log_group}
    for group in sb.profile.log_groups:
        logs.create_log_group(logGroupName=group)
        logs.put_retention_policy(logGroupName=group, retentionInDays=30)
        templates = LOG_LINES.get(roles.get(group), ["INFO ok"])
        lines = []
        for i in range(240):   # the last 2 hours, one line every 30 s
            t = sb.now - timedelta(seconds=30 * (240 - i))
            lines.append((t, rng.choice(templates).format(n=rng.randrange(2, 90), s=rng.randrange(4))))
        log_lines(sb, group, lines)


def _alarms(sb: Any) -> None:
    """One CloudWatch alarm per alert rule (as the Monitoring runbook's alarm sync would create), all OK."""
    from ..aws.alarms import alarm_definition
    cw = sb.client("cloudwatch")
    for rule in sb.profile.alerts:
        params = alarm_definition(sb.profile, rule, region=sb.region("primary"), account=sb.account_id)
        if params is None:
            continue
        cw.put_metric_alarm(**params)
        cw.set_alarm_state(AlarmName=params["AlarmName"], StateValue="OK", StateReason="sandbox seed: healthy")


def self_signed_certificate(common_name: str, not_after: datetime, not_before: datetime) -> tuple[bytes, bytes]:
    """A PEM certificate and key for ``common_name`` valid in [not_before, not_after]."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(common_name)]), critical=False)
            .sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


def _certificates(sb: Any, days_left: int = 75) -> None:
    install_certificate(sb, days_left)


def install_certificate(sb: Any, days_left: int) -> str:
    """Import the API's certificate into ACM (and write it as a PEM file under the sandbox dir)."""
    not_after = sb.now + timedelta(days=days_left)
    cert, key = self_signed_certificate(sb.profile.dns.record, not_after, sb.now - timedelta(days=300))
    certs = sb.config.dir / "certs"
    certs.mkdir(parents=True, exist_ok=True)
    (certs / "api.crt").write_bytes(cert)
    acm = sb.client("acm")
    existing = [c["CertificateArn"] for c in acm.list_certificates()["CertificateSummaryList"]
                if c["DomainName"] == sb.profile.dns.record]
    kwargs = {"CertificateArn": existing[0]} if existing else {}
    arn = acm.import_certificate(Certificate=cert, PrivateKey=key, **kwargs)["CertificateArn"]
    serve_certificate(sb, arn)
    return arn


def serve_certificate(sb: Any, arn: str) -> None:
    """An HTTPS:443 listener with ``arn`` on each primary load balancer (as the API's ALB terminates TLS), so
    the certificate is found where it lives: the listeners. Re-imports keep the ARN, so the listener stays."""
    elb = sb.client("elbv2")
    for page in elb.get_paginator("describe_load_balancers").paginate():
        for lb in page["LoadBalancers"]:
            listeners = elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
            if any(li.get("Port") == 443 for li in listeners):
                continue
            actions = (listeners[0]["DefaultActions"] if listeners else
                       [{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}])
            elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTPS", Port=443,
                                Certificates=[{"CertificateArn": arn}], DefaultActions=actions)


def _emr(sb: Any) -> None:
    emr = sb.client("emr")
    emr.run_job_flow(Name=role_name(sb, "batch", "batch-processor"), ReleaseLabel="emr-7.1.0", JobFlowRole="EMR_EC2_DefaultRole",
                     ServiceRole="EMR_DefaultRole", Instances={
                         "InstanceGroups": [{"Name": "master", "InstanceRole": "MASTER", "InstanceType": "m5.xlarge",
                                             "InstanceCount": 1},
                                            {"Name": "core", "InstanceRole": "CORE", "InstanceType": "m5.xlarge",
                                             "InstanceCount": 2}],
                         "KeepJobFlowAliveWhenNoSteps": True})
