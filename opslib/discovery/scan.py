"""What one region of the account holds, read through a :class:`~opslib.discovery.reader.Reader` (read-only,
paginated). Only names, shapes and settings: no secret value, no object body, no item but the checkpoint
table's first few keys."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from .reader import Reader

#: CloudWatch namespaces of AWS services the profile's metrics use (custom namespaces are all read).
AWS_NAMESPACES = ("AWS/ApplicationELB", "AWS/Kinesis", "AWS/ECS", "AWS/RDS", "AWS/Billing")


@dataclass
class Region:
    name: str
    clusters: dict[str, list[dict]] = field(default_factory=dict)     # cluster -> services (desired, tgs, log groups)
    load_balancers: list[dict] = field(default_factory=list)          # name, dns, scheme, arn, listener target groups
    target_groups: dict[str, dict] = field(default_factory=dict)      # arn -> {name, health_check_path, lbs}
    streams: dict[str, dict] = field(default_factory=dict)            # name -> {shards, consumers}
    functions: dict[str, dict] = field(default_factory=dict)          # name -> {aliases, versions}
    tables: dict[str, dict] = field(default_factory=dict)             # name -> {keys, backups, sample owners}
    db_instances: list[dict] = field(default_factory=list)
    log_groups: set[str] = field(default_factory=set)
    metrics: list[dict] = field(default_factory=list)                 # ListMetrics entries
    buckets: dict[str, dict] = field(default_factory=dict)            # primary only: name -> evidence
    zones: list[dict] = field(default_factory=list)                   # primary only: zone -> records
    secrets: list[str] = field(default_factory=list)
    ip_sets: list[str] = field(default_factory=list)
    user_pools: list[str] = field(default_factory=list)
    trails: list[dict] = field(default_factory=list)
    emr_clusters: list[str] = field(default_factory=list)
    redshift_clusters: list[str] = field(default_factory=list)
    trail_source_ips: dict[str, set] = field(default_factory=dict)    # ip -> {user names}
    trail_events: int = 0


def _ecs(r: Reader, reg: Region) -> None:
    for arn in r.pages("ecs", reg.name, "list_clusters", "clusterArns"):
        cluster = arn.rsplit("/", 1)[-1]
        arns = r.pages("ecs", reg.name, "list_services", "serviceArns", cluster=arn)
        services = []
        for i in range(0, len(arns), 10):       # DescribeServices takes 10 at most
            answer = r.call("ecs", reg.name, "describe_services", cluster=arn, services=arns[i:i + 10]) or {}
            for s in answer.get("services", []):
                log_groups, ports = [], []
                td = r.call("ecs", reg.name, "describe_task_definition", taskDefinition=s["taskDefinition"]) or {}
                for c in td.get("taskDefinition", {}).get("containerDefinitions", []):
                    group = (c.get("logConfiguration") or {}).get("options", {}).get("awslogs-group")
                    if group:
                        log_groups.append(group)
                services.append({"name": s["serviceName"], "desired": s.get("desiredCount", 0),
                                 "target_groups": [lb["targetGroupArn"] for lb in s.get("loadBalancers", [])
                                                   if lb.get("targetGroupArn")],
                                 "log_groups": log_groups, "task_definition": s["taskDefinition"]})
        reg.clusters[cluster] = services


def _elb(r: Reader, reg: Region) -> None:
    for lb in r.pages("elbv2", reg.name, "describe_load_balancers", "LoadBalancers"):
        forwards = set()
        for listener in r.pages("elbv2", reg.name, "describe_listeners", "Listeners", LoadBalancerArn=lb["LoadBalancerArn"]):
            for action in listener.get("DefaultActions", []):
                if action.get("TargetGroupArn"):
                    forwards.add(action["TargetGroupArn"])
                for tg in (action.get("ForwardConfig") or {}).get("TargetGroups", []):
                    forwards.add(tg["TargetGroupArn"])
        arn = lb["LoadBalancerArn"]
        reg.load_balancers.append({"name": lb["LoadBalancerName"], "dns": lb.get("DNSName", ""), "arn": arn,
                                   "scheme": lb.get("Scheme", ""), "type": lb.get("Type", ""),
                                   "dimension": arn.split(":loadbalancer/", 1)[-1], "forwards": forwards})
    for tg in r.pages("elbv2", reg.name, "describe_target_groups", "TargetGroups"):
        reg.target_groups[tg["TargetGroupArn"]] = {"name": tg["TargetGroupName"],
                                                   "health_check_path": tg.get("HealthCheckPath"),
                                                   "lbs": tg.get("LoadBalancerArns", [])}


def _kinesis(r: Reader, reg: Region) -> None:
    for name in r.pages("kinesis", reg.name, "list_streams", "StreamNames"):
        summary = (r.call("kinesis", reg.name, "describe_stream_summary", StreamName=name) or {}).get(
            "StreamDescriptionSummary", {})
        consumers = []
        if summary.get("StreamARN"):
            consumers = [c["ConsumerName"] for c in r.pages("kinesis", reg.name, "list_stream_consumers", "Consumers",
                                                            StreamARN=summary["StreamARN"])]
        reg.streams[name] = {"shards": summary.get("OpenShardCount", 0), "consumers": consumers}


def _lambda(r: Reader, reg: Region) -> None:
    for fn in r.pages("lambda", reg.name, "list_functions", "Functions"):
        name = fn["FunctionName"]
        aliases = [a["Name"] for a in r.pages("lambda", reg.name, "list_aliases", "Aliases", FunctionName=name)]
        reg.functions[name] = {"aliases": aliases}


def _dynamodb(r: Reader, reg: Region) -> None:
    for name in r.pages("dynamodb", reg.name, "list_tables", "TableNames"):
        table = (r.call("dynamodb", reg.name, "describe_table", TableName=name) or {}).get("Table", {})
        keys = {k["KeyType"]: k["AttributeName"] for k in table.get("KeySchema", [])}
        backups = r.pages("dynamodb", reg.name, "list_backups", "BackupSummaries", TableName=name)
        reg.tables[name] = {"keys": keys, "backups": len(backups)}


def _rds(r: Reader, reg: Region) -> None:
    for db in r.pages("rds", reg.name, "describe_db_instances", "DBInstances"):
        reg.db_instances.append({"id": db["DBInstanceIdentifier"], "engine": db.get("Engine", ""),
                                 "source": db.get("ReadReplicaSourceDBInstanceIdentifier"),
                                 "replicas": db.get("ReadReplicaDBInstanceIdentifiers", []),
                                 "endpoint": (db.get("Endpoint") or {}).get("Address"),
                                 "port": (db.get("Endpoint") or {}).get("Port"), "dbname": db.get("DBName")})


def _metrics(r: Reader, reg: Region) -> None:
    """Every metric with data in the last two weeks (what ListMetrics lists), with its dimensions."""
    reg.metrics = [{"namespace": m["Namespace"], "name": m["MetricName"],
                    "dimensions": {d["Name"]: d["Value"] for d in m.get("Dimensions", [])}}
                   for m in r.pages("cloudwatch", reg.name, "list_metrics", "Metrics")]


def _s3(r: Reader, reg: Region) -> None:
    for b in r.pages("s3", reg.name, "list_buckets", "Buckets"):
        name = b["Name"]
        location = (r.call("s3", reg.name, "get_bucket_location", Bucket=name) or {}).get("LocationConstraint")
        lifecycle = (r.call("s3", reg.name, "get_bucket_lifecycle_configuration", Bucket=name,
                            quiet=("NoSuchLifecycleConfiguration",)) or {}).get("Rules", [])
        versioning = (r.call("s3", reg.name, "get_bucket_versioning", Bucket=name) or {}).get("Status")
        keys = [o["Key"] for o in r.pages("s3", reg.name, "list_objects_v2", "Contents", Bucket=name, max_items=25)]
        reg.buckets[name] = {"region": location or "us-east-1",
                             "storage_classes": {t.get("StorageClass") for rule in lifecycle
                                                 for t in rule.get("Transitions", [])},
                             "expires": any(rule.get("Expiration") for rule in lifecycle),
                             "versioned": versioning == "Enabled", "keys": keys}


def _route53(r: Reader, reg: Region) -> None:
    for zone in r.pages("route53", reg.name, "list_hosted_zones", "HostedZones"):
        records = r.pages("route53", reg.name, "list_resource_record_sets", "ResourceRecordSets", HostedZoneId=zone["Id"])
        reg.zones.append({"name": zone["Name"].rstrip("."), "private": (zone.get("Config") or {}).get("PrivateZone"),
                          "records": [{"name": rr["Name"].rstrip("."), "type": rr["Type"],
                                       "alias": ((rr.get("AliasTarget") or {}).get("DNSName") or "").rstrip("."),
                                       "values": [v["Value"] for v in rr.get("ResourceRecords", [])]}
                                      for rr in records]})


def _security(r: Reader, reg: Region, primary: bool, now: datetime) -> None:
    reg.secrets = [s["Name"] for s in r.pages("secretsmanager", reg.name, "list_secrets", "SecretList")]
    reg.ip_sets = [s["Name"] for s in r.pages("wafv2", reg.name, "list_ip_sets", "IPSets", Scope="REGIONAL", Limit=100)]
    reg.user_pools = [p["Name"] for p in r.pages("cognito-idp", reg.name, "list_user_pools", "UserPools", MaxResults=60)]
    reg.trails = [{"name": t["Name"], "bucket": t.get("S3BucketName"), "home": t.get("HomeRegion")}
                  for t in (r.call("cloudtrail", reg.name, "describe_trails") or {}).get("trailList", [])]
    reg.emr_clusters = [c["Name"] for c in r.pages("emr", reg.name, "list_clusters", "Clusters",
                                                   ClusterStates=["STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING"])]
    reg.redshift_clusters = [c["ClusterIdentifier"] for c in r.pages("redshift", reg.name, "describe_clusters", "Clusters")]
    if primary:
        # who calls the account, and from where, over the security runbook's own window (24 h)
        events = r.pages("cloudtrail", reg.name, "lookup_events", "Events", max_items=5000,
                         StartTime=now - timedelta(hours=24), EndTime=now)
        import json
        for e in events:
            try:
                detail = json.loads(e.get("CloudTrailEvent") or "{}")
            except ValueError:
                detail = {}
            ip = detail.get("sourceIPAddress")
            if ip:
                reg.trail_source_ips.setdefault(ip, set()).add(e.get("Username") or "")
        reg.trail_events = len(events)


def scan_region(r: Reader, region: str, *, primary: bool, now: datetime | None = None) -> Region:
    """Everything init reads in ``region`` (global services, S3 and Route 53, only for the primary)."""
    now = now or datetime.now(timezone.utc)
    reg = Region(region)
    _ecs(r, reg)
    _elb(r, reg)
    _kinesis(r, reg)
    _lambda(r, reg)
    _dynamodb(r, reg)
    _rds(r, reg)
    reg.log_groups = {g["logGroupName"] for g in r.pages("logs", region, "describe_log_groups", "logGroups")}
    _metrics(r, reg)
    _security(r, reg, primary, now)
    if primary:
        _s3(r, reg)
        _route53(r, reg)
    return reg


def checkpoint_items(r: Reader, region: str, table: str, limit: int = 20) -> list[dict]:
    """A few items of a checkpoint/lease table (their owners tell which service consumes the stream)."""
    return r.pages("dynamodb", region, "scan", "Items", max_items=limit, TableName=table)


def caller(r: Reader, region: str) -> dict:
    return r.call("sts", region, "get_caller_identity") or {}
