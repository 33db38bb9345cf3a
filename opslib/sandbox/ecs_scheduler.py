"""The sandbox plays the ECS service scheduler (moto 5.2 stores services but never starts tasks).

Every tick (about 0.5 s) each service of every cluster in both regions is reconciled the way ECS
does it: tasks start toward the desired count (PROVISIONING -> PENDING -> RUNNING) and extra ones
stop; a new task definition rolls out as a new PRIMARY deployment while the old one, now ACTIVE,
drains; counts, rolloutState and events follow the tasks; running tasks are registered in the
service's target group, whose ``describe_target_health`` then reports their state.

Faults come from ``sb.faults``: a fault's details may declare ``ecs_down``, a list of
``(region, cluster, service[, mode])`` ("primary"/"dr" or a region name, ``"*"`` matches any;
mode ``"crash"``: tasks start then exit with OutOfMemory, ``"capacity"``: running tasks stop and
none can be placed; ``ecs_down_mode`` in the details sets the mode of 3-tuples; a service
``role:<role>`` means every ECS service of the profile with that role). ``api-down``
(crash) and ``region-outage`` (capacity) have built-in defaults (:data:`BUILTIN_ECS_DOWN`).
Health-check faults (``health_down``, ``unhealthy``; see :mod:`.health`) make targets unhealthy.

All scheduling state lives on moto's own objects, so ``Sandbox.reset`` (which rebuilds moto's
state) needs only :meth:`EcsScheduler.pause` and :meth:`EcsScheduler.resume`.
"""
from __future__ import annotations

import ipaddress
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable

from moto.ec2.models.elastic_network_interfaces import NetworkInterface
from moto.ecs.exceptions import InvalidParameterException, TaskDefinitionNotFoundException
from moto.ecs.models import EC2ContainerServiceBackend, Service, Task
from moto.elbv2.models import FakeHealthStatus, FakeTargetGroup
from moto.moto_api._internal import mock_random

from ..aws.arn import short_name
from ..errors import SandboxError
from .health import HealthProblem, health_fault

log = logging.getLogger("opslib.sandbox.ecs")

TICK_SECONDS = 0.5
DRAIN_TICKS = 2            # ticks a deregistered target stays listed (draining / unhealthy)
MAX_STOPPED_TASKS = 10     # stopped tasks kept per service (AWS keeps them about an hour)
MAX_EVENTS = 100           # AWS shows a service's 100 most recent events
SETTLE_MAX_TICKS = 30

PENDING_STATES = ("PROVISIONING", "PENDING", "ACTIVATING")
STOPPING_STATES = ("DEACTIVATING", "STOPPING", "DEPROVISIONING")

# Faults whose details carry no ``ecs_down`` still act on ECS as the runbook describes them.
BUILTIN_ECS_DOWN: dict[str, list[tuple[str, str, str, str]]] = {
    "api-down": [("primary", "{cluster}", "role:ingest", "crash")],
    "region-outage": [("primary", "*", "*", "capacity")],
}
MODES = ("crash", "capacity")

OOM_REASON = "OutOfMemoryError: Container killed due to memory usage"
CAPACITY_MESSAGE = ("was unable to place a task. Reason: Capacity is unavailable at this time. "
                    "Please try again later or in a different availability zone.")
CRASH_MESSAGE = ("is unable to consistently start tasks successfully. For more information, see the "
                 "Troubleshooting section of the Amazon ECS Developer Guide.")

# The one lock for every reconciliation: ticks, settle and the moto hooks (request threads).
_LOCK = threading.RLock()
_SCHEDULERS: list["EcsScheduler"] = []


@dataclass(frozen=True)
class EcsOutage:
    """One ``ecs_down`` entry of an active fault, regions resolved."""
    fault: str
    region: str
    cluster: str
    service: str
    mode: str

    def matches(self, region: str, cluster: str, service: str) -> bool:
        return (self.region in ("*", region) and self.cluster in ("*", cluster)
                and self.service in ("*", service))


@dataclass(frozen=True)
class ServiceView:
    """What the scheduler last saw of one service (read by the health server)."""
    region: str
    cluster: str
    service: str
    status: str
    desired: int
    running: int
    pending: int
    task_definition: str | None
    rollout_state: str | None
    outage: str | None = None     # "<fault>: <mode>" while a fault keeps it down


@dataclass
class _ServiceState:
    """Bookkeeping kept on moto's Service object (so a moto reset drops it too)."""
    primary_id: str | None = None
    primary_created: datetime | None = None
    steady: bool = False
    failing_announced: bool = False
    placement_problem: str | None = None
    failed: dict[str, int] = field(default_factory=dict)   # deployment id -> tasks that failed
    launched: int = 0


@dataclass
class _TickContext:
    region: str
    side: str                       # "primary" or "dr"
    ecs: EC2ContainerServiceBackend
    elb: Any
    ec2: Any
    now: datetime
    outages: list[EcsOutage]
    profile_target_groups: dict[str, str]
    sb: Any
    unsteady: list[str] = field(default_factory=list)


class ScheduledTask(Task):
    """A moto Task whose status only the scheduler moves (moto's advances on every describe)."""

    @property
    def status(self) -> str | None:       # type: ignore[override]
        return self._status

    @status.setter
    def status(self, value: str) -> None:
        self._status = value


# -- moto patches -------------------------------------------------------------------------------
def install_patches() -> None:
    """Make moto's target health, service calls and list_tasks follow the scheduler and AWS; idempotent."""
    if getattr(FakeTargetGroup.health_for, "_opslib_patched", False):
        return
    original_health = FakeTargetGroup.health_for
    original_create = EC2ContainerServiceBackend.create_service
    original_update = EC2ContainerServiceBackend.update_service
    original_list_tasks = EC2ContainerServiceBackend.list_tasks

    def health_for(self: FakeTargetGroup, target: dict[str, Any], ec2_backend: Any) -> FakeHealthStatus:
        known = getattr(self, "_opslib_health", {}).get(target["Id"])
        registered = self.targets.get(target["Id"])
        if known is None or registered is None:
            return original_health(self, target, ec2_backend)
        state, reason, description = known
        return FakeHealthStatus(target["Id"], registered["Port"], self.health_check_port, state, reason, description)

    def create_service(self: EC2ContainerServiceBackend, *args: Any, **kwargs: Any) -> Service:
        service = original_create(self, *args, **kwargs)
        _after_api_change(self, service)
        return service

    def update_service(self: EC2ContainerServiceBackend, service_properties: dict[str, Any]) -> Service:
        service = original_update(self, service_properties)
        _after_api_change(self, service)
        return service

    def list_tasks(self: EC2ContainerServiceBackend, cluster_str: str | None = None,
                   container_instance: str | None = None, family: str | None = None,
                   started_by: str | None = None, service_name: str | None = None,
                   desiredStatus: str | None = None) -> list[Task]:   # noqa: N803 (moto's name)
        """As AWS: the desired status filter defaults to RUNNING, and serviceName filters."""
        found = original_list_tasks(self, cluster_str, container_instance, family, started_by, None,
                                    desiredStatus or "RUNNING")
        if service_name:
            group = f"service:{short_name(service_name)}"
            found = [t for t in found if t.group == group]
        return found

    # moto's Task(awsvpc) reads eni.private_dns_name, set only in VPCs with DNS hostnames enabled
    if not hasattr(NetworkInterface, "private_dns_name"):
        NetworkInterface.private_dns_name = None  # type: ignore[attr-defined]
    for fn in (health_for, create_service, update_service, list_tasks):
        fn._opslib_patched = True  # type: ignore[attr-defined]
    FakeTargetGroup.health_for = health_for  # type: ignore[method-assign]
    EC2ContainerServiceBackend.create_service = create_service  # type: ignore[method-assign]
    EC2ContainerServiceBackend.update_service = update_service  # type: ignore[method-assign]
    EC2ContainerServiceBackend.list_tasks = list_tasks  # type: ignore[method-assign]


def _after_api_change(ecs: EC2ContainerServiceBackend, service: Service) -> None:
    """After create/update_service: deployments and counts as AWS reports them, at once."""
    scheduler = next((s for s in reversed(_SCHEDULERS) if s.sb.account_id == ecs.account_id), None)
    if scheduler is None:
        return
    with _LOCK:
        _sync_deployments(service, ecs, scheduler.clock())
        _update_counts(service, _service_tasks(ecs, service))
        _update_cluster_counts(ecs)


# -- faults -------------------------------------------------------------------------------------
def ecs_outages(sb: Any) -> list[EcsOutage]:
    """The ECS outages the active faults declare (``ecs_down``, else the built-in defaults)."""
    with sb.faults.lock:
        active = list(sb.faults.active.items())
    outages = []
    for name, details in active:
        builtin = BUILTIN_ECS_DOWN.get(name, [])
        specs = details.get("ecs_down", builtin)
        mode = details.get("ecs_down_mode", builtin[0][3] if builtin else "crash")
        for spec in specs:
            outages.extend(_outages(sb, name, spec, mode))
    return outages


def _outages(sb: Any, fault: str, spec: Any, default_mode: str) -> list[EcsOutage]:
    """One entry, with a service given as ``role:<role>`` expanded to the profile's services of that role."""
    one = _outage(sb, fault, spec, default_mode)
    if not one.service.startswith("role:"):
        return [one]
    role = one.service.split(":", 1)[1]
    return [EcsOutage(one.fault, one.region, one.cluster, s.name, one.mode)
            for s in sb.profile.services_with_role(role) if s.type == "ecs"]


def _outage(sb: Any, fault: str, spec: Any, default_mode: str) -> EcsOutage:
    if isinstance(spec, dict):
        spec = (spec.get("region", "*"), spec.get("cluster", "*"), spec.get("service", "*"),
                spec.get("mode", default_mode))
    if not isinstance(spec, (list, tuple)) or len(spec) not in (3, 4):
        raise SandboxError(f"fault {fault!r}: ecs_down entry {spec!r} must be (region, cluster, service[, mode])")
    region, cluster, service, mode = (*spec, default_mode) if len(spec) == 3 else spec
    if mode not in MODES:
        raise SandboxError(f"fault {fault!r}: ecs_down mode {mode!r}; allowed: {', '.join(MODES)}")
    cluster = cluster.format(cluster=sb.profile.ecs.cluster, dr_cluster=sb.profile.ecs.dr_cluster)
    region = region if region == "*" else sb.region(region)
    return EcsOutage(fault, region, cluster, service, mode)


# -- the scheduler ------------------------------------------------------------------------------
class EcsScheduler:
    """Background ECS scheduler for one sandbox; ``clock`` defaults to the sandbox clock running on."""

    def __init__(self, sb: Any, *, interval: float = TICK_SECONDS, clock: Callable[[], datetime] | None = None):
        self.sb = sb
        self.interval = interval
        started = time.monotonic()
        self.clock = clock or (lambda: sb.now + timedelta(seconds=time.monotonic() - started))
        self._views: dict[tuple[str, str, str], ServiceView] = {}
        self._paused = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.ticks = 0
        install_patches()
        _SCHEDULERS.append(self)

    # lifecycle
    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="sandbox-ecs-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self in _SCHEDULERS:
            _SCHEDULERS.remove(self)

    def pause(self) -> None:
        """Stop ticking; returns once a tick in progress has finished."""
        self._paused.set()
        _LOCK.acquire()      # waits for the tick in progress
        _LOCK.release()

    def resume(self) -> None:
        self._paused.clear()

    @property
    def paused(self) -> bool:
        return self._paused.is_set()

    def _run(self) -> None:
        while not self._stopping.wait(self.interval):
            if self._paused.is_set():
                continue
            try:
                self.tick()
            except Exception:   # a background thread must survive one bad tick; the log says why
                log.exception("ECS scheduler tick failed")

    # ticking
    def settle(self, max_ticks: int = SETTLE_MAX_TICKS) -> int:
        """Tick synchronously until every service not held down by a fault is steady; the tick count."""
        for n in range(1, max_ticks + 1):
            if not self.tick():
                return n
        log.warning("ECS scheduler: not steady after %d ticks", max_ticks)
        return max_ticks

    def tick(self) -> bool:
        """One reconciliation of every service in both regions; True while something is not steady."""
        with _LOCK:
            outages = ecs_outages(self.sb)
            now = self.clock()
            views: dict[tuple[str, str, str], ServiceView] = {}
            unsteady = False
            for side in self.sb.profile.sides:
                ctx = _TickContext(
                    region=self.sb.region(side), side=side, ecs=self.sb.backend("ecs", side),
                    elb=self.sb.backend("elbv2", side), ec2=self.sb.backend("ec2", side), now=now,
                    outages=outages, profile_target_groups=self._profile_target_groups(), sb=self.sb)
                for service in list(ctx.ecs.services.values()):
                    view = _reconcile(ctx, service)
                    if view is not None:
                        views[(ctx.region, view.cluster, view.service)] = view
                _update_cluster_counts(ctx.ecs)
                unsteady = unsteady or bool(ctx.unsteady)
            self._views = views
            self.ticks += 1
            return unsteady

    def _profile_target_groups(self) -> dict[str, str]:
        return {s.name: s.target_group for s in self.sb.profile.services if s.type == "ecs" and s.target_group}

    # the view
    def view(self, region: str, cluster: str, service: str) -> ServiceView | None:
        """The last tick's view of a service (``region`` may be "primary"/"dr")."""
        return self._views.get((self.sb.region(region), cluster, service))

    def views(self) -> list[ServiceView]:
        return list(self._views.values())


# -- one service ----------------------------------------------------------------------------------
def _state(service: Service) -> _ServiceState:
    st = getattr(service, "_opslib_state", None)
    if st is None:
        st = service._opslib_state = _ServiceState()  # type: ignore[attr-defined]
    return st


def _service_tasks(ecs: EC2ContainerServiceBackend, service: Service) -> list[Task]:
    """The tasks this scheduler started for ``service`` (any state)."""
    group = f"service:{service.name}"
    return [t for t in ecs.tasks.get(service.cluster_name, {}).values()
            if isinstance(t, ScheduledTask) and t.group == group]


def _reconcile(ctx: _TickContext, service: Service) -> ServiceView | None:
    st = _state(service)
    try:
        primary = _sync_deployments(service, ctx.ecs, ctx.now)
    except TaskDefinitionNotFoundException:
        _announce(ctx, service, f"(service {service.name}) cannot start tasks: task definition "
                                f"{service.task_definition} does not exist.")
        return None
    if primary is None:
        return None
    outage = next((o for o in ctx.outages if o.matches(ctx.region, service.cluster_name, service.name)), None)
    desired = service.desired_count if service.status == "ACTIVE" else 0
    tasks = _service_tasks(ctx.ecs, service)
    target_groups = _target_groups(ctx, service)
    health_problem = health_fault(ctx.sb.faults, service.name, ctx.side)

    for task in tasks:
        _advance(ctx, service, task, outage, target_groups)

    live = [t for t in tasks if t.desired_status == "RUNNING" and t.last_status != "STOPPED"]
    ours = [t for t in live if t.started_by == primary["id"]]
    others = [t for t in live if t.started_by != primary["id"]]
    if service.status != "ACTIVE":
        others, ours = live, []

    # the primary deployment toward the desired count
    missing = desired - len(ours)
    if missing > 0:
        if outage is not None and outage.mode == "capacity":
            _announce(ctx, service, f"(service {service.name}) {CAPACITY_MESSAGE}")
        else:
            td = ctx.ecs.describe_task_definition(primary["taskDefinition"])
            started = [t for t in (_start_task(ctx, service, td, primary) for _ in range(missing)) if t is not None]
            if started:
                st.placement_problem = None
                _event(ctx, service, f"(service {service.name}) has started {len(started)} tasks: "
                       + " ".join(f"(task {t.id})" for t in started) + ".")
                tasks += started
    elif missing < 0:
        # pending tasks first, then the newest running ones
        surplus = sorted(ours, key=lambda t: (t.last_status == "RUNNING", -t.created_at.timestamp()))[:-missing]
        _stop_tasks(ctx, service, surplus, f"Scaling activity initiated by (deployment {primary['id']})")

    # older deployments drain while the healthy count stays at or above the desired count
    if others:
        pending_old = [t for t in others if t.last_status != "RUNNING"]
        running_old = [t for t in others if t.last_status == "RUNNING"]
        running_new = sum(1 for t in ours if t.last_status == "RUNNING")
        may_stop = max(0, running_new + len(running_old) - desired) if service.status == "ACTIVE" else len(running_old)
        if outage is not None:
            may_stop = len(running_old)
        _stop_tasks(ctx, service, pending_old + running_old[:may_stop],
                    f"Scaling activity initiated by (deployment {primary['id']})")

    _update_targets(ctx, service, tasks, outage, health_problem)
    _prune_stopped(ctx, service, tasks)
    _drop_drained_deployments(service, tasks)
    counts = _update_counts(service, tasks)

    steady = (outage is None and service.status == "ACTIVE" and len(service.deployments) == 1
              and counts["running"] == desired and counts["pending"] == 0 and counts["stopping"] == 0
              and not any(_target_settling(t) for t in tasks))
    if outage is not None:
        if outage.mode == "crash" and not st.failing_announced:
            _event(ctx, service, f"(service {service.name}) {CRASH_MESSAGE}")
            st.failing_announced = True
    else:
        st.failing_announced = False
    if steady and not st.steady:
        _mark_completed(ctx, service)
        _event(ctx, service, f"(service {service.name}) has reached a steady state.")
    st.steady = steady
    if not steady and outage is None and service.status == "ACTIVE":
        ctx.unsteady.append(service.name)
    return ServiceView(
        region=ctx.region, cluster=service.cluster_name, service=service.name, status=service.status,
        desired=service.desired_count, running=counts["running"], pending=counts["pending"],
        task_definition=primary["taskDefinition"], rollout_state=primary.get("rolloutState"),
        outage=f"{outage.fault}: {outage.mode}" if outage else None)


def _sync_deployments(service: Service, ecs: EC2ContainerServiceBackend, now: datetime) -> dict | None:
    """Deployments as AWS keeps them: a new task definition or a forced deployment makes a new PRIMARY."""
    if service.deployment_controller.get("type", "ECS") != "ECS" or not service.task_definition:
        return None
    st = _state(service)
    td_arn = ecs.describe_task_definition(service.task_definition).arn
    service.task_definition = td_arn      # moto keeps "family:rev" as given to update_service
    deployments = [dict(d) for d in service.deployments]
    primary = next((d for d in deployments if d["status"] == "PRIMARY"), None)
    if primary is None:
        primary = _new_deployment(service, td_arn, now)
        deployments.insert(0, primary)
    if st.primary_id is None:     # first sight: moto stamped it with the real clock
        primary.update(createdAt=now, updatedAt=now)
    ids = {d["id"] for d in deployments}
    if st.primary_id and primary["id"] != st.primary_id and st.primary_id not in ids:
        # moto's force_new_deployment renamed the primary in place: restore the old one as ACTIVE
        old = {**primary, "id": st.primary_id, "status": "ACTIVE", "createdAt": st.primary_created, "updatedAt": now}
        fresh = {**_new_deployment(service, primary["taskDefinition"], now), "id": primary["id"]}
        deployments = [fresh, old] + [d for d in deployments if d is not primary]
        primary = fresh
    if primary["taskDefinition"] != td_arn:
        old = {**primary, "status": "ACTIVE", "updatedAt": now}
        fresh = _new_deployment(service, td_arn, now)
        deployments = [fresh, old] + [d for d in deployments if d is not primary]
        primary = fresh
    if primary["desiredCount"] != service.desired_count:
        primary.update(desiredCount=service.desired_count, updatedAt=now)
    st.primary_id, st.primary_created = primary["id"], primary["createdAt"]
    service.deployments = deployments
    return primary


def _new_deployment(service: Service, td_arn: str, now: datetime) -> dict:
    deployment_id = f"ecs-svc/{mock_random.randint(0, 32**12)}"
    return {
        "id": deployment_id, "status": "PRIMARY", "taskDefinition": td_arn,
        "desiredCount": service.desired_count, "pendingCount": 0, "runningCount": 0, "failedTasks": 0,
        "createdAt": now, "updatedAt": now, "launchType": service.launch_type,
        "platformVersion": service.platform_version,
        "platformFamily": "EC2" if service.launch_type == "EC2" else "FARGATE",
        "networkConfiguration": service.network_configuration or None,
        "rolloutState": "IN_PROGRESS", "rolloutStateReason": f"ECS deployment {deployment_id} in progress.",
    }


def _mark_completed(ctx: _TickContext, service: Service) -> None:
    deployments = [dict(d) for d in service.deployments]
    primary = deployments[0]
    if primary.get("rolloutState") == "IN_PROGRESS":
        primary.update(rolloutState="COMPLETED", rolloutStateReason=f"ECS deployment {primary['id']} completed.",
                       updatedAt=ctx.now)
        service.deployments = deployments
        _event(ctx, service, f"(service {service.name}) (deployment {primary['id']}) deployment completed.")


def _drop_drained_deployments(service: Service, tasks: list[Task]) -> None:
    busy = {t.started_by for t in tasks if t.last_status != "STOPPED"}
    kept = [d for d in service.deployments if d["status"] == "PRIMARY" or d["id"] in busy]
    if len(kept) != len(service.deployments):
        service.deployments = kept


def _update_counts(service: Service, tasks: list[Task]) -> dict[str, int]:
    """runningCount/pendingCount of the service and of each deployment, from its tasks."""
    totals = {"running": 0, "pending": 0, "stopping": 0}
    deployments = []
    for d in service.deployments:
        mine = [t for t in tasks if t.started_by == d["id"]]
        running = sum(1 for t in mine if t.last_status == "RUNNING")
        pending = sum(1 for t in mine if t.last_status in PENDING_STATES)
        totals["running"] += running
        totals["pending"] += pending
        totals["stopping"] += sum(1 for t in mine if t.last_status in STOPPING_STATES)
        failed = _state(service).failed.get(d["id"], 0)
        desired = d["desiredCount"] if d["status"] == "PRIMARY" else running + pending
        deployments.append({**d, "runningCount": running, "pendingCount": pending, "failedTasks": failed,
                            "desiredCount": desired})
    service.deployments = deployments
    service.running_count, service.pending_count = totals["running"], totals["pending"]
    return totals


def _update_cluster_counts(ecs: EC2ContainerServiceBackend) -> None:
    for name, cluster in ecs.clusters.items():
        tasks = list(ecs.tasks.get(name, {}).values())
        cluster.running_tasks_count = sum(1 for t in tasks if t.last_status == "RUNNING")
        cluster.pending_tasks_count = sum(1 for t in tasks if t.last_status in PENDING_STATES)
        cluster.active_services_count = sum(
            1 for s in ecs.services.values() if s.cluster_name == name and s.status == "ACTIVE")


# -- tasks ----------------------------------------------------------------------------------------
def _start_task(ctx: _TickContext, service: Service, td: Any, deployment: dict) -> ScheduledTask | None:
    cluster = ctx.ecs.clusters[service.cluster_name]
    tags = {"SERVICE": service.tags, "TASK_DEFINITION": td.tags}.get(service.propagate_tags, [])
    st = _state(service)
    st.launched += 1
    try:
        task = ScheduledTask(
            cluster=cluster, task_definition=td, container_instance_arn=None,
            resource_requirements=None, backend=ctx.ecs,
            group=f"service:{service.name}", launch_type=service.launch_type or "FARGATE",
            started_by=deployment["id"], tags=list(tags or []),
            networking_configuration=_spread(service.network_configuration, st.launched),
            platform_version=service.platform_version)
    except InvalidParameterException as exc:
        _announce(ctx, service, f"(service {service.name}) was unable to place a task because of its "
                                f"configuration: {exc.message}")
        return None
    _address_in_subnet(ctx, task)
    task.status = "PROVISIONING"
    task.created_at = ctx.now
    task.started_at = task.stopping_at = task.stopped_at = None
    task.cpu, task.memory = td.cpu, td.memory
    task.connectivity = "CONNECTED"
    task.connectivity_at = ctx.now
    task.health_status = "UNKNOWN"
    task.platform_family = "Linux"
    task.version = 1
    task.availability_zone = _availability_zone(ctx, task)
    task._opslib_targets = []            # [(target group arn, ip, port)] while registered
    task._opslib_target_age = 0
    task._opslib_drain = None            # ticks left before the targets are deregistered
    task._opslib_drain_state = "draining"
    for c in task.containers:
        c.last_status, c.exitCode, c.health_status = "PENDING", None, "UNKNOWN"
        c.network_interfaces = [{"attachmentId": a["id"], "privateIpv4Address": _ip(task)} for a in task.attachments]
    store = dict(ctx.ecs.tasks.get(service.cluster_name, {}))
    store[task.task_arn] = task
    ctx.ecs.tasks = {**ctx.ecs.tasks, service.cluster_name: store}   # copy-on-write: readers iterate safely
    return task


def _spread(network: dict | None, n: int) -> dict | None:
    """The service's network configuration with its subnets rotated (moto places a task in the first)."""
    if not network or not network.get("awsvpcConfiguration", {}).get("subnets"):
        return network or None
    vpc = network["awsvpcConfiguration"]
    k = n % len(vpc["subnets"])
    return {**network, "awsvpcConfiguration": {**vpc, "subnets": vpc["subnets"][k:] + vpc["subnets"][:k]}}


def _advance(ctx: _TickContext, service: Service, task: ScheduledTask, outage: EcsOutage | None,
             target_groups: list[tuple[FakeTargetGroup, int]]) -> None:
    status = task.last_status
    if status == "PROVISIONING":
        task.status = "PENDING"
        task.pull_started_at = ctx.now
    elif status == "PENDING":
        task.pull_stopped_at = ctx.now
        if outage is not None and outage.mode == "capacity":
            _stop(ctx, service, task, "TaskFailedToStart",
                  f"Task failed to start: capacity is unavailable in {ctx.region} ({outage.fault})")
        elif outage is not None:
            _register(ctx, task, target_groups)     # it ran long enough to fail its health checks
            _crash(ctx, service, task)
        else:
            task.status = "RUNNING"
            task.started_at = ctx.now
            task.health_status = "HEALTHY"
            for c in task.containers:
                c.last_status, c.health_status = "RUNNING", "HEALTHY"
            _register(ctx, task, target_groups)
    elif status == "RUNNING" and outage is not None:
        if outage.mode == "crash":
            _crash(ctx, service, task)
        else:
            _stop(ctx, service, task, "TaskFailedToStart",
                  f"Host unavailable: region {ctx.region} is impaired ({outage.fault})", state="STOPPED")
            task._opslib_drain_state = "unhealthy"
    elif status in STOPPING_STATES:
        _finish_stop(ctx, task)
    elif status == "STOPPED" and task.stopped_at is None:
        # stopped through the API (stop_task): finish the stop as ECS does, then replace it
        task.stop_code = "UserInitiated"
        task.stopping_at = ctx.now
        if task._opslib_targets:
            task._opslib_drain = DRAIN_TICKS
        _finish_stop(ctx, task)


def _crash(ctx: _TickContext, service: Service, task: ScheduledTask) -> None:
    for c in task.containers:
        c.exitCode, c.reason = 137, OOM_REASON
    _stop(ctx, service, task, "EssentialContainerExited", "Essential container in task exited", state="STOPPED")
    task._opslib_drain_state = "unhealthy"
    task.health_status = "UNHEALTHY"


def _stop(ctx: _TickContext, service: Service, task: ScheduledTask, code: str, reason: str,
          state: str = "DEACTIVATING") -> None:
    task.desired_status = "STOPPED"
    task.stop_code, task.stopped_reason = code, reason
    if code != "ServiceSchedulerInitiated":
        failed = _state(service).failed
        failed[task.started_by] = failed.get(task.started_by, 0) + 1
    task.stopping_at = ctx.now
    task.status = state
    if task._opslib_targets:
        task._opslib_drain = DRAIN_TICKS
    if state == "STOPPED":
        _finish_stop(ctx, task)


def _finish_stop(ctx: _TickContext, task: ScheduledTask) -> None:
    task.status = "STOPPED"
    task.stopped_at = task.execution_stopped_at = ctx.now
    task.connectivity = "DISCONNECTED"
    for c in task.containers:
        c.last_status = "STOPPED"
        if c.exitCode is None:
            c.exitCode = 0 if task.stop_code != "TaskFailedToStart" else None
    for a in task.attachments:
        eni_id = next((d["value"] for d in a["details"] if d["name"] == "networkInterfaceId"), None)
        if eni_id in ctx.ec2.enis:
            ctx.ec2.delete_network_interface(eni_id)
        a["status"] = "DELETED"


def _stop_tasks(ctx: _TickContext, service: Service, tasks: Iterable[Task], reason: str) -> None:
    stopped = [t for t in tasks if t.desired_status == "RUNNING"]
    running = [t for t in stopped if t.last_status == "RUNNING"]
    for task in stopped:
        _stop(ctx, service, task, "ServiceSchedulerInitiated", reason,
              state="DEACTIVATING" if task in running else "STOPPED")
    if running:
        _event(ctx, service, f"(service {service.name}) has stopped {len(running)} running tasks: "
               + " ".join(f"(task {t.id})" for t in running) + ".")


def _prune_stopped(ctx: _TickContext, service: Service, tasks: list[Task]) -> None:
    stopped = [t for t in tasks if t.last_status == "STOPPED" and not t._opslib_targets]
    extra = sorted(stopped, key=lambda t: t.stopped_at)[:max(0, len(stopped) - MAX_STOPPED_TASKS)]
    if extra:
        gone = {t.task_arn for t in extra}
        store = {arn: t for arn, t in ctx.ecs.tasks.get(service.cluster_name, {}).items() if arn not in gone}
        ctx.ecs.tasks = {**ctx.ecs.tasks, service.cluster_name: store}


def _ip(task: Task) -> str | None:
    for a in task.attachments:
        for d in a["details"]:
            if d["name"] == "privateIPv4Address":
                return d["value"]
    return None


def _address_in_subnet(ctx: _TickContext, task: Task) -> None:
    """moto gives task ENIs any 10.x address; AWS takes one from the subnet's range."""
    for a in task.attachments:
        details = {d["name"]: d for d in a["details"]}
        eni = ctx.ec2.enis.get(details["networkInterfaceId"]["value"])
        if eni is None or eni.subnet is None:
            continue
        ip = _free_address(ctx, eni)
        eni.private_ip_address = ip
        eni.private_ip_addresses = [{"Primary": True, "PrivateIpAddress": ip}]
        details["privateIPv4Address"]["value"] = ip


def _free_address(ctx: _TickContext, eni: Any) -> str:
    """The subnet's next address that no other interface holds, handed out in turn like AWS (a random
    pick collided now and then, and reusing a stopped task's address at once would merge its draining
    target with the new task's)."""
    network = ipaddress.ip_network(eni.subnet.cidr_block)
    usable = network.num_addresses - 5          # AWS reserves the first four and the last address
    taken = {other.private_ip_address for other in ctx.ec2.enis.values() if other is not eni}
    start = getattr(eni.subnet, "_opslib_next_host", 0)
    for k in range(usable):
        offset = (start + k) % usable
        host = str(network.network_address + 4 + offset)
        if host not in taken:
            eni.subnet._opslib_next_host = offset + 1
            return host
    raise SandboxError(f"subnet {eni.subnet.id} ({network}) has no free address for another task")


def _availability_zone(ctx: _TickContext, task: Task) -> str:
    subnet_id = next((d["value"] for a in task.attachments for d in a["details"] if d["name"] == "subnetId"), None)
    if subnet_id is None:
        return f"{ctx.region}a"
    return ctx.ec2.get_subnet(subnet_id).availability_zone


# -- targets --------------------------------------------------------------------------------------
def _target_groups(ctx: _TickContext, service: Service) -> list[tuple[FakeTargetGroup, int]]:
    """The service's target groups (its loadBalancers, else the profile's target group by name)."""
    found = []
    for lb in service.load_balancers or []:
        tg = ctx.elb.target_groups.get(lb.get("targetGroupArn", ""))
        if tg is not None:
            found.append((tg, int(lb.get("containerPort") or tg.port or 80)))
    name = ctx.profile_target_groups.get(service.name)
    if not found and name:
        tg = next((tg for tg in ctx.elb.target_groups.values() if tg.name == name), None)
        if tg is not None:
            found.append((tg, int(tg.port or 80)))
    return found


def _register(ctx: _TickContext, task: ScheduledTask, target_groups: list[tuple[FakeTargetGroup, int]]) -> None:
    ip = _ip(task)
    if ip is None:
        return
    for tg, port in target_groups:
        targets = OrderedDict(tg.targets)
        targets[ip] = {"Id": ip, "Port": port}
        tg.targets = targets
        tg.deregistered_targets.pop(ip, None)
        tg._opslib_health = {**getattr(tg, "_opslib_health", {}),
                             ip: ("initial", "Elb.RegistrationInProgress", "Target registration is in progress")}
        task._opslib_targets.append((tg.arn, ip, port))
    task._opslib_target_age = 0


def _update_targets(ctx: _TickContext, service: Service, tasks: list[ScheduledTask], outage: EcsOutage | None,
                    health_problem: HealthProblem | None) -> None:
    """Each registered target's health: initial, then healthy/unhealthy; stopped tasks drain, then leave."""
    registered: dict[str, int] = {}
    deregistered: dict[str, int] = {}
    for task in tasks:
        if not task._opslib_targets:
            continue
        if task._opslib_drain is None:
            task._opslib_target_age += 1
            if task._opslib_target_age == 1:
                for arn, _, _ in task._opslib_targets:
                    registered[arn] = registered.get(arn, 0) + 1
                continue           # "initial" for the tick it was registered in
            if outage is not None or health_problem:
                state = ("unhealthy", "Target.FailedHealthChecks", "Health checks failed")
            else:
                state = ("healthy", None, None)
        elif task._opslib_drain > 0:
            task._opslib_drain -= 1
            state = (("unhealthy", "Target.FailedHealthChecks", "Health checks failed")
                     if task._opslib_drain_state == "unhealthy"
                     else ("draining", "Target.DeregistrationInProgress", "Target deregistration is in progress"))
        else:
            for arn, ip, _ in task._opslib_targets:
                tg = ctx.elb.target_groups.get(arn)
                if tg is not None and ip in tg.targets:
                    targets = OrderedDict(tg.targets)
                    entry = targets.pop(ip)
                    tg.targets = targets
                    tg.deregistered_targets[ip] = entry
                    tg._opslib_health = {k: v for k, v in getattr(tg, "_opslib_health", {}).items() if k != ip}
                    deregistered[arn] = deregistered.get(arn, 0) + 1
            task._opslib_targets = []
            continue
        for arn, ip, _ in task._opslib_targets:
            tg = ctx.elb.target_groups.get(arn)
            if tg is not None and getattr(tg, "_opslib_health", {}).get(ip) != state:
                tg._opslib_health = {**getattr(tg, "_opslib_health", {}), ip: state}
    for arn, n in registered.items():
        _event(ctx, service, f"(service {service.name}) registered {n} targets in (target-group {arn})")
    for arn, n in deregistered.items():
        _event(ctx, service, f"(service {service.name}) deregistered {n} targets in (target-group {arn})")


def _target_settling(task: ScheduledTask) -> bool:
    """Registered this tick ("initial") or draining."""
    return bool(task._opslib_targets) and (task._opslib_drain is not None or task._opslib_target_age < 2)


# -- events ---------------------------------------------------------------------------------------
def _event(ctx: _TickContext, service: Service, message: str) -> None:
    event = {"id": str(mock_random.uuid4()), "createdAt": ctx.now, "message": message}
    service.events = [event, *service.events][:MAX_EVENTS]


def _announce(ctx: _TickContext, service: Service, message: str) -> None:
    """An event for a lasting problem, written once until the problem changes."""
    st = _state(service)
    if st.placement_problem != message:
        st.placement_problem = message
        _event(ctx, service, message)
