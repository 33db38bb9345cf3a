"""Fixtures of the action tests: a moto server in a process of its own (so restoring it between tests never
touches the shared session sandbox), a scratch PostgreSQL database, and an ``Ops`` handle built by the real
``connect()`` from a sandbox state file that points at both.

Both are seeded by the sandbox's own seeders, the ones ``runbook sandbox up`` runs (names from the sandbox
profile, seed 42, the clock of the golden outputs): AWS once per session in the server's process
(``tests/act_moto_server.py``: :func:`opslib.sandbox.seed_aws.seed`, then a snapshot of moto's backends
with :mod:`opslib.sandbox.snapshot`), the database once per session (:func:`opslib.sandbox.sql.seed` into a
template database). A test that changes things gets both restored from those snapshots, not seeded again.
Expected values are read from the seeded world (:func:`snapshot`, :func:`seeded`) or the profile."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from opslib import connect
from opslib.config import parameters_dir
from opslib.sandbox.core import DEFAULT_SEED
from opslib.sandbox.state import SandboxState

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
SERVER = Path(__file__).with_name("act_moto_server.py")


@dataclass
class ActServer:
    """The seeded moto server's process; ``endpoint`` waits until it has seeded (started early, it seeds
    while the test process starts its sandbox and seeds the database)."""
    proc: subprocess.Popen
    log: Path
    urls: dict = field(default_factory=dict)

    def _ready(self) -> dict:
        if not self.urls:
            line = self.proc.stdout.readline()
            if not line:
                self.proc.wait(10)
                raise RuntimeError(f"the action tests' moto server did not start:\n{self.log.read_text()[-4000:]}")
            self.urls.update(json.loads(line))
        return self.urls

    @property
    def endpoint(self) -> str:
        return self._ready()["endpoint"]

    def restore(self) -> None:
        """moto back to the freshly seeded state (the snapshot taken right after seeding)."""
        req = urllib.request.Request(self._ready()["control"] + "/restore", method="POST")
        urllib.request.urlopen(req, timeout=60).read()


@pytest.fixture(scope="session")
def act_server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("act-moto")
    log = tmp / "server.log"
    with log.open("w") as err:
        proc = subprocess.Popen([sys.executable, str(SERVER), str(tmp), NOW.isoformat()], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=err, text=True,
                                env={**os.environ, "MOTO_ALLOW_NONEXISTENT_REGION": "true"})
    server = ActServer(proc, log)
    yield server
    proc.stdin.close()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
    proc.stdout.close()


@pytest.fixture(scope="session")
def act_moto(act_server):
    """The seeded moto server's URL (in a process of its own)."""
    return act_server.endpoint


@dataclass
class ActDatabase:
    """A scratch database seeded by the sandbox's SQL seeder, and its template to restore it from."""
    admin: sa.Engine
    url: str
    name: str
    template: str
    warehouse: Path

    def restore(self) -> None:
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            conn.exec_driver_sql(f'CREATE DATABASE "{self.name}" TEMPLATE "{self.template}"')


@pytest.fixture(scope="session")
def act_seed_db(sandbox, tmp_path_factory):
    """The template: a database seeded once per session by :func:`opslib.sandbox.sql.seed` (warehouse and
    database, as ``runbook sandbox up`` seeds them), on the machine's PostgreSQL when .ci/run provides it
    (OPSLIB_TEST_PG_URL), else on the session sandbox's embedded server (no server needs installing)."""
    from opslib.sandbox import sql
    from opslib.sandbox.core import Sandbox, SandboxConfig
    server = sa.make_url(os.environ.get("OPSLIB_TEST_PG_URL") or sandbox.database_url)
    server = server.set(drivername="postgresql+psycopg")
    template = f"opslib_actions_{uuid.uuid4().hex[:8]}_seed"
    admin = sa.create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool)
    tmp = tmp_path_factory.mktemp("act-sql")
    sb = Sandbox(SandboxConfig(dir=tmp, seed=DEFAULT_SEED, now=NOW,
                               database_url=server.set(database=template).render_as_string(hide_password=False)))
    sql.start_database(sb)
    try:
        sql.seed(sb)
    finally:
        sql.stop_database(sb)
    yield server, admin, template, sb.warehouse_path
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture(scope="module")
def act_db(act_seed_db):
    """A scratch database of the module, made from the seeded template; dropped (with its connections) after
    the module, so later tests see the server's connections as they were."""
    server, admin, template, warehouse = act_seed_db
    name = f"opslib_actions_{uuid.uuid4().hex[:8]}"
    url = server.set(database=name).render_as_string(hide_password=False)
    db = ActDatabase(admin, url, name, template, warehouse)
    db.restore()
    yield db
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def act_pg(sandbox):
    """An empty scratch database (its URL) on the machine's PostgreSQL when .ci/run provides it
    (OPSLIB_TEST_PG_URL), else on the session sandbox's embedded server. Dropped (with its connections)
    after each module, so later tests see the server's connections as they were."""
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


def _state(directory: Path, endpoint: str, db: ActDatabase) -> None:
    SandboxState(dir=str(directory), aws_endpoint=endpoint, health_url="http://127.0.0.1:9/", control_url="",
                 warehouse_path=str(db.warehouse), database_url=db.url, now=NOW.isoformat(),
                 seed=DEFAULT_SEED, size=0, pid=os.getpid()).write()


def seeded(ops) -> dict:
    """What the tests name that the seed decided, read from the seeded world: the access key of the
    deploy bot."""
    iam = ops.client("iam")
    return {"access_key": iam.list_access_keys(UserName="deploy-bot")["AccessKeyMetadata"][0]["AccessKeyId"]}


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
def act_env(act_server, act_seed_db, act_db, act_moto, tmp_path, monkeypatch):
    """(ops, seeded ids, sandbox dir): moto and the scratch database restored to the seeded state, audit
    under tmp. (The server is asked for first and waited for last: it seeds while the database does.)"""
    act_server.restore()
    act_db.restore()
    monkeypatch.setenv("OPSLIB_AUDIT_DIR", str(tmp_path / "audit"))
    monkeypatch.setenv("OPSLIB_RUN_ID", "test-run-1")
    monkeypatch.delenv("ANALYTICS_DB_URL", raising=False)
    _state(tmp_path, act_moto, act_db)
    ops = connect("sandbox", sandbox_dir=str(tmp_path))
    yield ops, seeded(ops), tmp_path
    ops.close()


@pytest.fixture
def act_ops(act_env):
    return act_env[0]


@pytest.fixture(scope="module")
def shared_env(act_server, act_seed_db, act_db, act_moto, tmp_path_factory):
    """Like ``act_env`` but restored once per module: for tests that must not change anything."""
    tmp = tmp_path_factory.mktemp("actions-shared")
    act_server.restore()
    act_db.restore()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OPSLIB_AUDIT_DIR", str(tmp / "audit"))
        mp.setenv("OPSLIB_RUN_ID", "test-run-guards")
        mp.delenv("ANALYTICS_DB_URL", raising=False)
        _state(tmp, act_moto, act_db)
        ops = connect("sandbox", sandbox_dir=str(tmp))
        yield ops, seeded(ops), tmp
        ops.close()


def older_events(ops) -> tuple[str, int, str]:
    """(cutoff, rows of ``events`` before it, a user_id with events) from the seeded database: the cutoff
    halfway through the events table's time span."""
    with ops.database.connect() as conn:
        low, high = conn.exec_driver_sql("SELECT min(event_timestamp), max(event_timestamp) FROM events").one()
        cutoff = (low + (high - low) / 2).replace(microsecond=0).isoformat()
        older = conn.execute(sa.text("SELECT count(*) FROM events WHERE event_timestamp < :c"), {"c": cutoff}).scalar()
        user = conn.exec_driver_sql("SELECT user_id FROM events WHERE user_id IS NOT NULL "
                                    "ORDER BY event_id LIMIT 1").scalar()
    return cutoff, older, user


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
