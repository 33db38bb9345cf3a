"""The sandbox's ECS scheduler and health server, observed through boto3 over HTTP and real HTTP.

The tests use the session sandbox's moto server, health server and scheduler, but each test builds
its own ECS/ELB resources after a moto reset (the sandbox is reseeded after the module). Most tests pause the background thread and drive
``tick()``/``settle()`` so every intermediate state is deterministic; one test checks the thread.
"""
from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone

import pytest
from moto.core.base_backend import BackendDict
from moto.core.model_instances import reset_model_data

from opslib.errors import SandboxError
from opslib.sandbox.ecs_scheduler import ecs_outages

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def sandbox_parts(sandbox):
    """The session sandbox (moto's state is per process, so a second one would share it); these tests
    empty moto, so the sandbox is rebuilt healthy for the tests after them."""
    interval = sandbox.scheduler.interval
    sandbox.scheduler.interval = 0.1        # the sandbox ticks every 0.5 s; tests go faster
    yield sandbox
    sandbox.scheduler.interval = interval
    sandbox.faults.clear()
    sandbox.reset()


@pytest.fixture
def sb(sandbox_parts):
    """The sandbox with an empty moto and no faults, the background scheduler paused."""
    s = sandbox_parts
    s.scheduler.pause()
    s.faults.clear()
    BackendDict.reset()
    reset_model_data()
    yield s
    s.faults.clear()
    s.scheduler.pause()


# -- building resources the way an operator's account has them --------------------------------
def build(sb, side: str, cluster: str, services: dict[str, int], *, revisions: int = 2,
          via_profile: bool = False) -> dict[str, str]:
    """VPC, cluster, task definitions ``name:1..revisions``, target groups ``<name>-tg`` and FARGATE
    services at revision 1. ``via_profile``: no loadBalancers (the profile names the target group)."""
    region = sb.region(side)
    ec2, ecs, elb = sb.client("ec2", side), sb.client("ecs", side), sb.client("elbv2", side)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{region}{az}")["Subnet"]["SubnetId"]
               for i, az in ((1, "a"), (2, "b"))]
    sg = ec2.create_security_group(GroupName=f"{cluster}-tasks", Description="tasks", VpcId=vpc)["GroupId"]
    ecs.create_cluster(clusterName=cluster)
    groups = {}
    for name, desired in services.items():
        for rev in range(1, revisions + 1):
            ecs.register_task_definition(
                family=name, networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="512", memory="1024",
                containerDefinitions=[{"name": name, "image": f"registry/{name}:{rev}", "essential": True,
                                       "portMappings": [{"containerPort": 8080}]}])
        tg = elb.create_target_group(Name=f"{name}-tg", Protocol="HTTP", Port=8080, VpcId=vpc, TargetType="ip",
                                     HealthCheckPath="/health")["TargetGroups"][0]["TargetGroupArn"]
        groups[name] = tg
        lbs = [] if via_profile else [{"targetGroupArn": tg, "containerName": name, "containerPort": 8080}]
        ecs.create_service(cluster=cluster, serviceName=name, taskDefinition=f"{name}:1", desiredCount=desired,
                           launchType="FARGATE", loadBalancers=lbs,
                           networkConfiguration={"awsvpcConfiguration": {"subnets": subnets, "securityGroups": [sg]}})
    return groups


def describe(sb, cluster: str, name: str, side: str = "primary") -> dict:
    return sb.client("ecs", side).describe_services(cluster=cluster, services=[name])["services"][0]


def tasks(sb, cluster: str, side: str = "primary", status: str = "RUNNING") -> list[dict]:
    ecs = sb.client("ecs", side)
    arns = [a for page in ecs.get_paginator("list_tasks").paginate(cluster=cluster, desiredStatus=status)
            for a in page["taskArns"]]
    return ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"] if arns else []


def target_states(sb, tg: str, side: str = "primary") -> list[tuple[str, str | None]]:
    health = sb.client("elbv2", side).describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]
    return sorted((h["TargetHealth"]["State"], h["TargetHealth"].get("Reason")) for h in health)


def get(sb, path: str, timeout: float = 5) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(sb.health.url + path.lstrip("/"), timeout=timeout) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def ticks(sb, n: int) -> None:
    for _ in range(n):
        sb.scheduler.tick()


# -- tests ----------------------------------------------------------------------------------------
def test_background_thread_starts_tasks_toward_desired(sb):
    build(sb, "primary", "web", {"api": 3})
    created = describe(sb, "web", "api")
    assert (created["runningCount"], created["pendingCount"]) == (0, 0)   # not moto's "all running"
    assert created["deployments"][0]["rolloutState"] == "IN_PROGRESS"

    sb.scheduler.resume()
    seen_pending, deadline = False, time.monotonic() + 10
    while time.monotonic() < deadline:
        svc = describe(sb, "web", "api")
        seen_pending |= svc["pendingCount"] > 0
        if svc["runningCount"] == 3 and svc["deployments"][0]["rolloutState"] == "COMPLETED":
            break
        time.sleep(0.1)
    assert (svc["runningCount"], svc["pendingCount"]) == (3, 0)
    assert seen_pending
    dep = svc["deployments"][0]
    assert (dep["status"], dep["runningCount"], dep["pendingCount"], dep["desiredCount"]) == ("PRIMARY", 3, 0, 3)
    assert any("has reached a steady state" in e["message"] for e in svc["events"])

    listed = tasks(sb, "web")
    assert len(listed) == 3
    for t in listed:
        assert (t["lastStatus"], t["desiredStatus"], t["group"]) == ("RUNNING", "RUNNING", "service:api")
        assert t["taskDefinitionArn"] == svc["taskDefinition"] and t["taskDefinitionArn"].endswith("/api:1")
        assert t["startedBy"] == dep["id"]
        assert t["startedAt"] >= t["createdAt"] >= NOW
        ip = t["containers"][0]["networkInterfaces"][0]["privateIpv4Address"]
        assert ip.startswith(("10.0.1.", "10.0.2.")) and t["availabilityZone"] == f"us-east-1{'ab'[int(ip.split('.')[2]) - 1]}"
    assert {t["availabilityZone"] for t in listed} == {"us-east-1a", "us-east-1b"}     # spread over the subnets


def test_lifecycle_provisioning_pending_running(sb):
    build(sb, "primary", "web", {"api": 2})
    states = []
    for _ in range(3):
        sb.scheduler.tick()
        states.append(sorted({t["lastStatus"] for t in tasks(sb, "web")}))
        svc = describe(sb, "web", "api")
        running = sum(1 for t in tasks(sb, "web") if t["lastStatus"] == "RUNNING")
        assert svc["runningCount"] == running
        assert svc["runningCount"] + svc["pendingCount"] == 2
    assert states == [["PROVISIONING"], ["PENDING"], ["RUNNING"]]


def test_scale_down_stops_tasks_and_drains_targets(sb):
    groups = build(sb, "primary", "web", {"api": 3})
    sb.scheduler.settle()
    assert target_states(sb, groups["api"]) == [("healthy", None)] * 3

    sb.client("ecs").update_service(cluster="web", service="api", desiredCount=1)
    assert describe(sb, "web", "api")["runningCount"] == 3          # moto alone would say 1 at once
    sb.scheduler.tick()
    assert ("draining", "Target.DeregistrationInProgress") in target_states(sb, groups["api"])
    sb.scheduler.settle()

    svc = describe(sb, "web", "api")
    assert (svc["runningCount"], svc["pendingCount"], svc["desiredCount"]) == (1, 0, 1)
    stopped = tasks(sb, "web", status="STOPPED")
    assert len(stopped) == 2
    assert all(t["lastStatus"] == "STOPPED" and t["stoppedReason"].startswith("Scaling activity") for t in stopped)
    assert all(t["stopCode"] == "ServiceSchedulerInitiated" for t in stopped)
    assert len(tasks(sb, "web")) == 1
    assert len(sb.client("ecs").list_tasks(cluster="web")["taskArns"]) == 1       # AWS's default: RUNNING
    assert target_states(sb, groups["api"]) == [("healthy", None)]
    assert any("has stopped 2 running tasks" in e["message"] for e in svc["events"])
    cluster = sb.client("ecs").describe_clusters(clusters=["web"])["clusters"][0]
    assert (cluster["runningTasksCount"], cluster["pendingTasksCount"]) == (1, 0)


def test_task_stopped_through_the_api_is_replaced(sb):
    groups = build(sb, "primary", "web", {"api": 2})
    sb.scheduler.settle()
    victim = tasks(sb, "web")[0]
    sb.client("ecs").stop_task(cluster="web", task=victim["taskArn"], reason="operator: restart")
    sb.scheduler.tick()
    assert ("draining", "Target.DeregistrationInProgress") in target_states(sb, groups["api"])
    sb.scheduler.settle()
    running = tasks(sb, "web")
    assert len(running) == 2 and victim["taskArn"] not in {t["taskArn"] for t in running}
    stopped = tasks(sb, "web", status="STOPPED")
    assert [(t["taskArn"], t["stoppedReason"], t["stopCode"]) for t in stopped] == \
        [(victim["taskArn"], "operator: restart", "UserInitiated")]
    assert target_states(sb, groups["api"]) == [("healthy", None)] * 2


def test_deployment_rolls_out_and_old_tasks_drain(sb):
    build(sb, "primary", "web", {"api": 2})
    sb.scheduler.settle()
    old_tasks = {t["taskArn"] for t in tasks(sb, "web")}

    sb.client("ecs").update_service(cluster="web", service="api", taskDefinition="api:2")
    svc = describe(sb, "web", "api")
    assert svc["taskDefinition"].endswith("/api:2")
    assert [(d["status"], d["taskDefinition"].rsplit("/", 1)[1]) for d in svc["deployments"]] == \
        [("PRIMARY", "api:2"), ("ACTIVE", "api:1")]
    assert svc["deployments"][0]["rolloutState"] == "IN_PROGRESS"
    assert svc["deployments"][1]["runningCount"] == 2

    for _ in range(15):                     # min healthy 100%: never fewer running than desired
        sb.scheduler.tick()
        svc = describe(sb, "web", "api")
        assert svc["runningCount"] >= 2
        if len(svc["deployments"]) == 1 and svc["deployments"][0]["rolloutState"] == "COMPLETED":
            break
    dep = svc["deployments"][0]
    assert (dep["status"], dep["rolloutState"], dep["runningCount"]) == ("PRIMARY", "COMPLETED", 2)
    running = tasks(sb, "web")
    assert {t["taskDefinitionArn"].rsplit("/", 1)[1] for t in running} == {"api:2"}
    assert not old_tasks & {t["taskArn"] for t in running}
    assert old_tasks <= {t["taskArn"] for t in tasks(sb, "web", status="STOPPED")}
    messages = [e["message"] for e in svc["events"]]
    assert f"(service api) (deployment {dep['id']}) deployment completed." in messages
    assert messages[0] == "(service api) has reached a steady state."


def test_force_new_deployment_replaces_tasks(sb):
    build(sb, "primary", "web", {"api": 2})
    sb.scheduler.settle()
    before = {t["taskArn"] for t in tasks(sb, "web")}
    old_id = describe(sb, "web", "api")["deployments"][0]["id"]
    sb.client("ecs").update_service(cluster="web", service="api", forceNewDeployment=True)
    svc = describe(sb, "web", "api")
    assert [d["status"] for d in svc["deployments"]] == ["PRIMARY", "ACTIVE"]
    assert svc["deployments"][1]["id"] == old_id != svc["deployments"][0]["id"]
    sb.scheduler.settle()
    after = {t["taskArn"] for t in tasks(sb, "web")}
    assert len(after) == 2 and not before & after


def test_api_down_keeps_ingestion_api_down(sb):
    groups = build(sb, "primary", "prod-cluster", {"ingestion-api": 3, "stream-processor": 2}, via_profile=True)
    sb.scheduler.settle()
    assert target_states(sb, groups["ingestion-api"]) == [("healthy", None)] * 3
    assert get(sb, "/ingestion-api/health") == (200, {
        "service": "ingestion-api", "region": "us-east-1", "cluster": "prod-cluster", "running_tasks": 3,
        "status": "ok", "desired_tasks": 3})

    sb.faults.add("api-down")
    ticks(sb, 8)
    svc = describe(sb, "prod-cluster", "ingestion-api")
    assert svc["runningCount"] == 0 and svc["desiredCount"] == 3
    assert svc["deployments"][0]["failedTasks"] > 0
    assert any("unable to consistently start tasks" in e["message"] for e in svc["events"])
    stopped = [t for t in tasks(sb, "prod-cluster", status="STOPPED") if t["group"] == "service:ingestion-api"]
    assert stopped and all(t["stoppedReason"] == "Essential container in task exited" for t in stopped)
    assert {t["containers"][0]["exitCode"] for t in stopped} == {137}
    assert all("OutOfMemory" in t["containers"][0]["reason"] for t in stopped)
    states = target_states(sb, groups["ingestion-api"])
    assert states and set(states) == {("unhealthy", "Target.FailedHealthChecks")}
    code, body = get(sb, "/ingestion-api/health")
    assert (code, body["running_tasks"], body["status"]) == (503, 0, "unavailable")
    assert "api-down" in body["reason"]
    assert describe(sb, "prod-cluster", "stream-processor")["runningCount"] == 2      # others unaffected
    by_service = sb.client("ecs").list_tasks(cluster="prod-cluster", serviceName="stream-processor")["taskArns"]
    assert len(by_service) == 2
    assert get(sb, "/stream-processor/health")[0] == 200

    sb.faults.clear()
    sb.scheduler.settle()
    assert describe(sb, "prod-cluster", "ingestion-api")["runningCount"] == 3
    assert target_states(sb, groups["ingestion-api"]) == [("healthy", None)] * 3
    assert get(sb, "/ingestion-api/health")[0] == 200


def test_region_outage_stops_primary_only_and_ecs_down_is_generic(sb):
    build(sb, "primary", "prod-cluster", {"ingestion-api": 2, "data-api": 1})
    build(sb, "dr", "dr-cluster", {"ingestion-api": 1, "data-api": 1})
    sb.scheduler.settle()

    sb.faults.add("region-outage")
    ticks(sb, 3)
    for name in ("ingestion-api", "data-api"):
        svc = describe(sb, "prod-cluster", name)
        assert (svc["runningCount"], svc["pendingCount"]) == (0, 0)
        assert any("unable to place a task" in e["message"] for e in svc["events"])
        assert describe(sb, "dr-cluster", name, side="dr")["runningCount"] == 1
    assert not tasks(sb, "prod-cluster")
    assert get(sb, "/ingestion-api/health")[0] == 503
    assert get(sb, "/dr/ingestion-api/health")[:1] == (200,)
    assert get(sb, "/dr/ingestion-api/health")[1]["region"] == "us-west-2"

    sb.faults.clear()
    sb.faults.add("dr-data-api-broken", ecs_down=[("dr", "dr-cluster", "data-api", "capacity")])
    sb.scheduler.settle()
    assert describe(sb, "prod-cluster", "data-api")["runningCount"] == 1
    assert describe(sb, "dr-cluster", "data-api", side="dr")["runningCount"] == 0
    assert describe(sb, "dr-cluster", "ingestion-api", side="dr")["runningCount"] == 1
    assert get(sb, "/dr/data-api/health")[0] == 503


def test_ecs_down_specs(sb):
    sb.faults.add("region-outage", ecs_down=[("primary", "prod-cluster", "data-api")])
    sb.faults.add("oom", ecs_down=[{"region": "dr", "service": "data-api"}])
    assert [(o.fault, o.region, o.cluster, o.service, o.mode) for o in ecs_outages(sb)] == [
        ("region-outage", "us-east-1", "prod-cluster", "data-api", "capacity"),
        ("oom", "us-west-2", "*", "data-api", "crash")]
    sb.faults.clear()
    sb.faults.add("api-down")
    assert [(o.cluster, o.service, o.mode) for o in ecs_outages(sb)] == [("prod-cluster", "ingestion-api", "crash")]

    sb.faults.clear()
    sb.faults.add("bad", ecs_down=[("primary", "prod-cluster")])
    with pytest.raises(SandboxError, match="ecs_down entry"):
        ecs_outages(sb)
    sb.faults.clear()
    sb.faults.add("bad", ecs_down=[("primary", "*", "*", "melt")])
    with pytest.raises(SandboxError, match="allowed: crash, capacity"):
        ecs_outages(sb)


def test_health_faults_latency_and_unknown_paths(sb, capfd):
    groups = build(sb, "primary", "prod-cluster", {"ingestion-api": 2, "data-api": 1})
    sb.scheduler.settle()
    assert get(sb, "/nothing/health")[0] == 404
    assert get(sb, "/event-validator/health")[0] == 404          # a Lambda, no /health endpoint
    assert get(sb, "/stream-processor/health")[1]["reason"].startswith("service stream-processor does not exist")

    sb.faults.add("flaky", health_down=["ingestion-api"], unhealthy={"data-api": {"reason": "db pool exhausted",
                                                                                  "status": 500}})
    code, body = get(sb, "/ingestion-api/health")
    assert (code, body["fault"], body["running_tasks"]) == (503, "flaky", 2)
    assert get(sb, "/data-api/health")[:1] == (500,)
    assert get(sb, "/data-api/health")[1]["reason"] == "db pool exhausted"
    ticks(sb, 1)
    assert set(target_states(sb, groups["ingestion-api"])) == {("unhealthy", "Target.FailedHealthChecks")}
    assert describe(sb, "prod-cluster", "ingestion-api")["runningCount"] == 2   # tasks keep running

    sb.faults.clear()
    sb.faults.add("slow", health_delay_seconds={"ingestion-api": 2})
    started = time.monotonic()
    with pytest.raises((socket.timeout, TimeoutError, urllib.error.URLError)):
        get(sb, "/ingestion-api/health", timeout=0.3)
    assert time.monotonic() - started < 1.5
    assert get(sb, "/data-api/health", timeout=1)[0] == 200     # only the named service is slow
    assert "GET /" not in capfd.readouterr().err                 # quiet server


def test_pause_resume_and_moto_reset(sb):
    build(sb, "primary", "web", {"api": 2})
    sb.scheduler.settle()
    sb.scheduler.resume()
    time.sleep(0.3)
    sb.scheduler.pause()
    count = sb.scheduler.ticks
    assert count > 0
    sb.client("ecs").update_service(cluster="web", service="api", desiredCount=3)
    time.sleep(0.5)
    assert sb.scheduler.ticks == count                     # paused: nothing ticks, nothing starts
    svc = describe(sb, "web", "api")
    assert (svc["runningCount"], svc["pendingCount"], len(tasks(sb, "web"))) == (2, 0, 2)

    BackendDict.reset()                                     # what Sandbox.reset does while paused
    reset_model_data()
    build(sb, "primary", "web", {"api": 1})
    assert sb.scheduler.settle() < 10
    sb.scheduler.resume()
    time.sleep(0.5)
    assert sb.scheduler.ticks > count
    svc = describe(sb, "web", "api")
    assert (svc["runningCount"], len(tasks(sb, "web"))) == (1, 1)
    assert sb.scheduler.view("primary", "web", "api").running == 1
