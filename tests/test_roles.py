"""Runbooks find services by role, not by name: a pipeline whose services have other names (and two ingest
services) gets its remedies and DR failover planned for the right services; a profile lacking a role gets
"not measurable" warnings, never an exception or a false outage. AWS is a bare moto server over HTTP
(no sandbox seeding), with only the resources these plans read."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import boto3
import pandas as pd
import pytest

from opslib.sections import incident, operations
from opslib.actions import route53
from opslib.sections.alerts import RuleResult
from opslib.config import Profile, load_profile
from opslib.connection import Ops
from opslib.sections.disaster_recovery import failover
from opslib.sections.disaster_recovery.readiness import Readiness
from opslib.errors import ParameterError

T0 = datetime(2026, 11, 25, 11, 0, tzinfo=timezone.utc)
SERVICES = [
    {"name": "edge-gateway", "role": "ingest", "dr_desired_count": 4, "type": "ecs", "criticality": "critical",
     "health_check": "/health", "health_url": "http://gateway.example.test/health", "target_group": "edge-gateway-tg",
     "log_group": "/ecs/edge-gateway"},
    {"name": "edge-gateway-eu", "role": "ingest", "dr_desired_count": 2, "type": "ecs", "criticality": "critical",
     "health_check": "/health", "target_group": "edge-gateway-eu-tg"},
    {"name": "event-consumer", "role": "process", "type": "ecs", "criticality": "critical", "health_check": "/health"},
    {"name": "query-svc", "role": "query", "type": "ecs", "criticality": "high", "health_check": "/health"},
    {"name": "schema-check", "role": "validate", "type": "lambda", "criticality": "critical",
     "health_check": "cloudwatch"},
    {"name": "rollup", "role": "aggregate", "type": "lambda", "criticality": "high", "health_check": "cloudwatch"},
]


def renamed(endpoint: str, services: list[dict] = SERVICES) -> Profile:
    """The sandbox profile with every resource the plans read renamed, and ``services``."""
    data = load_profile("sandbox").model_dump()
    data.update(name="renamed", services=services, source=None)
    data["aws"]["endpoint_url"] = endpoint
    data["ecs"].update(cluster="main-cluster", dr_cluster="standby-cluster")
    data["kinesis"].update(stream="clicks", dr_stream="clicks-standby", consumer="event-consumer")
    data["dns"].update(hosted_zone="example.test", record="api.example.test", dr_alb_dns="standby-alb.example.test",
                       dr_health_url="http://standby.example.test/health")
    return Profile.model_validate(data)


@pytest.fixture(scope="module")
def endpoint():
    from moto.server import ThreadedMotoServer
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    profile = renamed(url)
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing")
    for region, cluster in ((profile.aws.primary_region, profile.ecs.cluster),
                            (profile.aws.dr_region, profile.ecs.dr_cluster)):
        ecs = session.client("ecs", region_name=region, endpoint_url=url)
        ecs.create_cluster(clusterName=cluster)
        for s in profile.services:
            if s.type != "ecs":
                continue
            ecs.register_task_definition(family=s.name, containerDefinitions=[
                {"name": s.name, "image": f"example/{s.name}:1", "memory": 512}])
            ecs.create_service(cluster=cluster, serviceName=s.name, taskDefinition=f"{s.name}:1", desiredCount=1)
    session.client("kinesis", region_name=profile.aws.dr_region, endpoint_url=url).create_stream(
        StreamName=profile.kinesis.dr_stream, ShardCount=1)
    session.client("route53", region_name="us-east-1", endpoint_url=url).create_hosted_zone(
        Name=profile.dns.hosted_zone, CallerReference="roles-test")
    yield url
    server.stop()


def ops_for(endpoint: str, services: list[dict] = SERVICES) -> Ops:
    return Ops(renamed(endpoint, services),
               session=boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing"))


def without(role: str) -> list[dict]:
    return [s for s in SERVICES if s.get("role") != role]


# -- incident remedies ------------------------------------------------------------------------------------
def test_remedies_scale_the_services_of_each_role(endpoint):
    ops = ops_for(endpoint)
    plan = incident.plan_remedies(ops, ["api-down", "stream-backup"], "scale-api,scale-processors",
                                  api_desired_count=6, processor_desired_count=8)
    assert [(c.kind, c.target, c.current, c.new) for c in plan.changes] == [
        ("ecs.desired_count", "edge-gateway", 1, 6), ("ecs.desired_count", "edge-gateway-eu", 1, 6),
        ("ecs.desired_count", "event-consumer", 1, 8)]
    assert all(c.params["cluster"] == "main-cluster" for c in plan.changes)


def test_auto_remedy_for_api_down_plans_the_ingest_services(endpoint):
    ops = ops_for(endpoint)
    plan = incident.plan_remedies(ops, ["api-down"], "auto", api_desired_count=3)
    assert plan.targets == ["edge-gateway", "edge-gateway-eu"]


def test_a_suspect_deployment_is_followed_by_its_role():
    gateway = incident.SuspectDeployment("edge-gateway", "edge-gateway:7", "edge-gateway:6", T0, "error_rate", T0,
                                         0.0, 0.08, role="ingest")
    consumer = incident.SuspectDeployment("event-consumer", "event-consumer:3", "event-consumer:2", T0,
                                          "lag_seconds", T0, 1.0, 400.0, role="process")
    pick = lambda procs, s: [n for n, _ in incident.choose_remedies(procs, "auto", suspect=s, poison=None)]  # noqa: E731
    assert pick(["high-error-rate"], gateway) == ["rollback"]
    assert pick(["high-error-rate"], consumer) == []
    assert pick(["stream-backup"], consumer) == ["rollback"]
    assert pick(["stream-backup"], gateway) == ["scale-processors"]


def test_deployment_hint_judges_a_process_service_on_lag():
    idx = pd.date_range(T0, periods=60, freq="60s")
    frame = pd.DataFrame({"error_rate": [0.001] * 60, "lag_seconds": [1.0] * 30 + [400.0] * 30}, index=idx)
    deployments = pd.DataFrame([{"service": "event-consumer", "deployment": "d", "status": "PRIMARY",
                                 "task_definition": "event-consumer:3", "previous": "event-consumer:2",
                                 "created": T0 + timedelta(minutes=29, seconds=10), "rollout_state": "COMPLETED"}])
    kw = {"error_threshold": 0.05, "lag_threshold_s": 300, "minutes": 60}
    check, suspect = incident.deployment_hint(deployments, frame, roles={"event-consumer": "process"}, **kw)
    assert check.status == "fail" and suspect.role == "process" and suspect.signal == "lag_seconds"
    check, suspect = incident.deployment_hint(deployments, frame, roles={"event-consumer": "query"}, **kw)
    assert check.status == "ok" and suspect is None          # judged on the 5xx rate, which is fine


# -- symptoms: found on the role's services, none invented -------------------------------------------------
def _rule(state: str = "ok") -> RuleResult:
    return RuleResult("r", "page", "pagerduty", "c", state, 0.0, 3.0)


def _signals(n: int = 30, **memory: list[float]) -> pd.DataFrame:
    idx = pd.date_range(T0, periods=n, freq="60s")
    f = pd.DataFrame({"error_rate": [0.001] * n, "client_error_rate": [0.004] * n, "lag_seconds": [0.7] * n,
                      "incoming_records": [1000.0] * n}, index=idx)
    for service, values in memory.items():
        f[incident.memory_column(service.replace("_", "-"))] = values
    return f


def _health(rows: list[tuple[str, bool]]) -> pd.DataFrame:
    return pd.DataFrame([{"service": s, "url": f"http://{s}/health", "ok": ok, "status": 200 if ok else 503,
                          "latency_ms": 3.0, "error": None} for s, ok in rows],
                        columns=["service", "url", "ok", "status", "latency_ms", "error"])


def _targets(rows: list[tuple[str, str]]) -> pd.DataFrame:
    return pd.DataFrame([{"service": s, "target_group": f"{s}-tg", "target": "10.0.0.1", "port": 8080, "state": st,
                          "reason": ""} for s, st in rows],
                        columns=["service", "target_group", "target", "port", "state", "reason"])


def _symptoms(profile: Profile, health, targets, frame=None):
    rules = {p: _rule() for p in incident.PROCEDURES}
    checkpoints = pd.DataFrame({"shard": ["s0"], "age_seconds": [5.0]})
    return incident.symptoms(profile, _signals() if frame is None else frame, rules=rules, health=health,
                             targets=targets, checkpoints=checkpoints)


def test_healthy_pipeline_with_other_names_has_no_api_down():
    profile = renamed("http://unused")
    healthy = _symptoms(profile, _health([("edge-gateway", True), ("event-consumer", True)]),
                        _targets([("edge-gateway", "healthy"), ("edge-gateway-eu", "healthy")]))
    assert incident.select_procedures(healthy, "auto") == []
    assert [c.status for c in incident.procedure_checks(healthy, profile)] == ["ok"] * 3


def test_api_down_names_the_ingest_service_that_is_down():
    profile = renamed("http://unused")
    down = _symptoms(profile, _health([("edge-gateway", False), ("event-consumer", True)]),
                     _targets([("edge-gateway", "unhealthy"), ("edge-gateway-eu", "healthy")]))
    [health] = [s for s in down if s.symptom == "Health checks failing"]
    assert health.present and health.figures["services_down"] == ["edge-gateway"]
    assert "edge-gateway-eu" not in health.evidence.split("down:")[1]
    assert incident.select_procedures(down, "auto") == ["api-down"]
    # a failing query service is not API Down
    other = _symptoms(profile, _health([("query-svc", False)]),
                      _targets([("edge-gateway", "healthy"), ("edge-gateway-eu", "healthy")]))
    assert incident.select_procedures(other, "auto") == []


def test_missing_process_role_is_not_measurable_not_an_error(endpoint):
    ops = ops_for(endpoint, without("process"))
    profile = ops.profile
    [check] = incident.role_checks(profile)
    assert (check.name, check.status) == ("role-process", "warn") and "'process'" in check.detail
    frame = _signals(edge_gateway=[50.0] * 30, edge_gateway_eu=[51.0] * 30)
    hints = {c.name: c for c in incident.memory_hints(profile, frame)}
    assert hints["hint-memory-process"].status == "warn" and "not measurable" in hints["hint-memory-process"].detail
    assert hints["hint-memory-edge-gateway"].status == "ok" and hints["hint-memory-edge-gateway-eu"].status == "ok"
    found = _symptoms(profile, _health([("edge-gateway", True)]),
                      _targets([("edge-gateway", "healthy"), ("edge-gateway-eu", "healthy")]), frame)
    [memory] = [s for s in found if s.symptom == "Memory pressure on consumers"]
    assert memory.present is None and "'process'" in memory.evidence
    assert [c.status for c in incident.procedure_checks(found, profile)] == ["ok"] * 3
    plan = incident.plan_remedies(ops, ["stream-backup"], "auto")
    assert plan.changes == [] and any("'process'" in n for n in plan.notes)


def test_missing_ingest_role_is_not_an_outage(endpoint):
    ops = ops_for(endpoint, without("ingest"))
    assert [c.name for c in incident.role_checks(ops.profile)] == ["role-ingest"]
    found = _symptoms(ops.profile, _health([("event-consumer", True)]), _targets([]))
    [health] = [s for s in found if s.symptom == "Health checks failing"]
    assert health.present is None and "not measurable" in health.evidence
    assert incident.select_procedures(found, "auto") == []
    assert incident.plan_remedies(ops, ["api-down"], "scale-api").changes == []


# -- disaster recovery: every ingest service, at its dr_desired_count ----------------------------------------
def no_health(o: Ops):
    return route53.dr_preflight(o, check_health=False)


def test_failover_scales_every_ingest_service_to_its_dr_count(endpoint):
    ops = ops_for(endpoint)
    plan = route53.plan_regional_failover(ops, preflight=no_health)
    scaled = [(c.params["cluster"], c.target, c.new) for c in plan.changes if c.kind == "ecs.desired_count"]
    assert scaled == [("standby-cluster", "edge-gateway", 4), ("standby-cluster", "edge-gateway-eu", 2)]
    assert [c.region for c in plan.changes if c.kind == "ecs.desired_count"] == ["dr", "dr"]
    assert plan.changes[-1].kind == "route53.record"                       # DNS last
    assert {c.name for c in plan.checks} >= {"DR service standby-cluster/edge-gateway",
                                             "DR service standby-cluster/edge-gateway-eu"}
    assert all(c.ok for c in plan.checks), plan.checks
    override = failover.plan_regional_failover(ops, desired_count=7)
    assert [(c.target, c.new) for c in override.changes if c.kind == "ecs.desired_count"] == [
        ("edge-gateway", 7), ("edge-gateway-eu", 7)]


def test_ingest_service_without_dr_count_needs_the_parameter(endpoint):
    services = [dict(s, dr_desired_count=None) if s["name"] == "edge-gateway-eu" else s for s in SERVICES]
    ops = ops_for(endpoint, services)
    with pytest.raises(ParameterError) as err:
        route53.plan_regional_failover(ops, preflight=no_health)
    assert err.value.name == "desired_count" and "edge-gateway-eu" in err.value.allowed
    assert [c.new for c in route53.plan_regional_failover(ops, desired_count=3, preflight=no_health).changes
            if c.kind == "ecs.desired_count"] == [3, 3]


def test_without_ingest_role_the_preflight_refuses_and_readiness_warns(endpoint):
    ops = ops_for(endpoint, without("ingest"))
    checks = no_health(ops)
    assert [c.name for c in checks if not c.ok] == [route53.ROLE_CHECK]
    plan = route53.plan_regional_failover(ops, preflight=no_health)
    assert not any(c.kind == "ecs.desired_count" for c in plan.changes)
    primary = pd.DataFrame({"service": ["event-consumer"], "ok": [True]})
    found = {c.name: c for c in Readiness(primary, checks, None, False).checks()}
    assert found["dr-readiness"].status == "warn" and "'ingest'" in found["dr-readiness"].detail
    assert found["primary-region"].status == "ok"


# -- common operations: defaults by role ----------------------------------------------------------------------
def test_common_operations_defaults_follow_the_roles():
    profile = renamed("http://unused")
    now = T0
    req = operations.validate(profile, "scale-service", now=now, desired_count=5)
    assert req.service == "edge-gateway"
    req = operations.validate(profile, "deploy-lambda", now=now, lambda_version=3)
    assert req.function == "schema-check"
    bare = renamed("http://unused", without("validate"))
    with pytest.raises(ParameterError) as err:
        operations.validate(bare, "deploy-lambda", now=now, lambda_version=3)
    assert err.value.name == "function" and "'validate'" in err.value.allowed and "rollup" in err.value.allowed
    assert operations.validate(profile, "scale-service", now=now, service="query-svc", desired_count=2).service == \
        "query-svc"


# -- critical services: a read that could not look is unknown, not down -----------------------------------------
def test_unreadable_service_is_unknown_not_down():
    from botocore.exceptions import ClientError, EndpointConnectionError

    from opslib.sections import services

    errors = {"ecs": ClientError({"Error": {"Code": "AccessDeniedException", "Message": "not allowed"}}, "Describe"),
              "lambda": EndpointConnectionError(endpoint_url="https://lambda.example.test"),
              "emr": ClientError({"Error": {"Code": "InvalidRequestException", "Message": "no such"}}, "List")}

    class Raising:
        def __init__(self, service):
            self.error = errors[service]

        def __getattr__(self, name):
            def call(*a, **k):
                raise self.error
            return call

    class Blind:
        profile = renamed("http://unused", SERVICES + [{"name": "nightly", "role": "batch", "type": "emr",
                                                         "criticality": "critical", "health_check": "emr-console"}])

        def client(self, service, region="primary"):
            return Raising(service)

        def health_url(self, url):
            return url

    table = services.service_table(Blind())
    status = dict(zip(table["service"], table["status"]))
    assert {status[s] for s in ("edge-gateway", "event-consumer", "schema-check")} == {"unknown"}
    assert status["nightly"] == "down"                         # an answer that it is not there is a fact
    checks = {c.name: c.status for c in services.service_checks(table)}
    assert checks["service-edge-gateway"] == checks["service-schema-check"] == "unknown"
    assert checks["service-nightly"] == "fail"
