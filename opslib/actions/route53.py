"""Route53 changes and the regional failover: UPSERT the API record to the DR ALB (the previous record
set is the undo), after the DR side passes its pre-flight checks."""
from __future__ import annotations

import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Callable, Iterable

from botocore.exceptions import ClientError

from ..aws.arn import short_name
from ..errors import ParameterError
from . import ecs, kinds, kinesis
from ._cli import aws
from .plan import Change, Plan, Precondition

if TYPE_CHECKING:
    from ..connection import Ops

# Canonical hosted zone ids of application load balancers (AWS's published table).
ALB_ZONE_IDS = {"us-east-1": "Z35SXDOTRQ7X7K", "us-east-2": "Z3AADJGX6KTTL2", "us-west-1": "Z368ELLRRE2KJ0",
                "us-west-2": "Z1H1FL5HABSF5", "eu-west-1": "Z32O12XQLNTSW2", "eu-central-1": "Z215JYRZR1TBD5"}


def _name(n: str) -> str:
    return n.rstrip(".").lower()


def zone_id(ops: "Ops", zone: str) -> str:
    r53 = ops.client("route53")
    for hz in r53.list_hosted_zones_by_name(DNSName=zone)["HostedZones"]:
        if _name(hz["Name"]) == _name(zone):
            return short_name(hz["Id"])
    raise ParameterError("hosted_zone", zone, "a hosted zone of this account")


def record_set(ops: "Ops", zone: str, name: str, rtype: str = "A") -> dict | None:
    """The record set ``name``/``rtype`` as Route53 returns it, or None."""
    resp = ops.client("route53").list_resource_record_sets(HostedZoneId=zone, StartRecordName=name,
                                                           StartRecordType=rtype, MaxItems="1")
    for rrs in resp["ResourceRecordSets"]:
        if _name(rrs["Name"]) == _name(name) and rrs["Type"] == rtype:
            return rrs
    return None


def summarize(rrs: dict | None) -> dict | None:
    """A record set as the value shown and compared: alias target or TTL and values."""
    if rrs is None:
        return None
    if "AliasTarget" in rrs:
        a = rrs["AliasTarget"]
        return {"type": rrs["Type"], "alias": _name(a["DNSName"]), "zone": a["HostedZoneId"],
                "evaluate_target_health": a.get("EvaluateTargetHealth", False)}
    return {"type": rrs["Type"], "ttl": rrs.get("TTL"), "values": [r["Value"] for r in rrs.get("ResourceRecords", [])]}


def _read(ops: "Ops", change: Change) -> dict | None:
    rrs = change.params["ChangeBatch"]["Changes"][0]["ResourceRecordSet"]
    return summarize(record_set(ops, change.params["HostedZoneId"], rrs["Name"], rrs["Type"]))


def _execute(ops: "Ops", change: Change) -> None:
    r53 = ops.client("route53")
    info = r53.change_resource_record_sets(**change.params)["ChangeInfo"]
    r53.get_waiter("resource_record_sets_changed").wait(Id=info["Id"], WaiterConfig={"Delay": 5, "MaxAttempts": 60})


def _upsert(zone: str, record: dict, current: dict | None, new_rrs: dict, *, undo: Change | None = None,
            failover: bool = False) -> Change:
    batch = {"Comment": "opslib runbook action", "Changes": [{"Action": "UPSERT", "ResourceRecordSet": new_rrs}]}
    return Change(kind="route53.record", resource=f"route53 {_name(new_rrs['Name'])} {new_rrs['Type']} (zone {zone})",
                  attribute="AliasTarget" if "AliasTarget" in new_rrs else "ResourceRecords", current=current,
                  new=summarize(new_rrs), service="route53", operation="change_resource_record_sets",
                  params={"HostedZoneId": zone, "ChangeBatch": batch},
                  cli=aws("route53", "change-resource-record-sets", None, hosted_zone_id=zone, change_batch=batch),
                  target=_name(new_rrs["Name"]), region=None, undo=undo, meta={"requires_preflight": failover})


def _plan_alias_record(ops: "Ops", dns_name: str, *, record: str | None = None, zone: str | None = None,
                      alb_region: str = "dr", failover: bool = True) -> Plan:
    """UPSERT ``record`` (default: the API record) as an alias to the ALB ``dns_name`` in ``alb_region``."""
    d = ops.profile.dns
    record, zone_name = record or d.record, zone or d.hosted_zone
    zid = zone_id(ops, zone_name)
    old = record_set(ops, zid, record, "A")
    new_rrs = {"Name": record, "Type": "A", "AliasTarget": {
        "HostedZoneId": ALB_ZONE_IDS.get(ops.region(alb_region), ALB_ZONE_IDS["us-east-1"]),
        "DNSName": dns_name, "EvaluateTargetHealth": True}}
    current = summarize(old)
    undo = _upsert(zid, record, summarize(new_rrs), old) if old else None
    change = _upsert(zid, record, current, new_rrs, undo=undo, failover=failover)
    return Plan(f"point {record} at {dns_name}", [change] if current != change.new else [], ops)


# -- pre-flight of the DR side ---------------------------------------------------------------------
FAILOVER_ROLE = "ingest"        # the services a regional failover moves: those receiving the events
ROLE_CHECK = f"DR services (role {FAILOVER_ROLE})"
#: the one pre-flight check of a single-region pipeline's failover: it fails (there is no DR region)
NO_DR_CHECK = "DR region"


def failover_services(ops: "Ops") -> list:
    """The profile's ECS services with role ingest: what a regional failover scales up in the DR region."""
    return [s for s in ops.profile.services_with_role(FAILOVER_ROLE) if s.type == "ecs"]


def dr_preflight(ops: "Ops", *, services: Iterable[str] | None = None, check_health: bool = True,
                 timeout: float = 5.0) -> list[Precondition]:
    """Read-only checks that the DR region can take the traffic: each of ``services`` (default: every ECS
    service with role ingest) exists in the DR cluster, the DR stream is ACTIVE, the DR health URL answers.
    A profile without an ingest service fails the check named :data:`ROLE_CHECK` (nothing to fail over)."""
    if not ops.profile.has_dr:
        return [Precondition(NO_DR_CHECK, False, f"the profile names no DR region (aws.dr_region): "
                                                 f"{ops.primary_region} has nothing to fail over to")]
    checks: list[Precondition] = []
    cluster = ops.profile.ecs.dr_cluster
    names = [s.name for s in failover_services(ops)] if services is None else list(services)
    if not names:
        checks.append(Precondition(ROLE_CHECK, False, f"not measurable: the profile declares no ECS service with role "
                                               f"{FAILOVER_ROLE!r} (services[].role): nothing to fail over"))
    for svc in names:
        try:
            s = ecs.describe_service(ops, cluster, svc, "dr")
            checks.append(Precondition(f"DR service {cluster}/{svc}", True,
                                f"ACTIVE, desired {s['desiredCount']}, running {s['runningCount']}, "
                                f"task definition {ecs.short_task_definition(s['taskDefinition'])}"))
        except (ParameterError, ClientError) as exc:
            checks.append(Precondition(f"DR service {cluster}/{svc}", False, str(exc)))
    stream = ops.profile.kinesis.dr_stream
    try:
        status = kinesis.summary(ops, stream, "dr")["StreamStatus"]
        checks.append(Precondition(f"DR stream {stream}", status == "ACTIVE", f"status {status}"))
    except (ParameterError, ClientError) as exc:
        checks.append(Precondition(f"DR stream {stream}", False, str(exc)))
    if check_health:
        url = ops.health_url(ops.profile.dns.dr_health_url)
        checks.append(http_check("DR health endpoint", url, timeout))
    return checks


def http_check(name: str, url: str | None, timeout: float) -> Precondition:
    if not url:
        return Precondition(name, False, "no URL configured")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (URL from the profile)
            return Precondition(name, 200 <= resp.status < 300, f"{url}: HTTP {resp.status}")
    except urllib.error.HTTPError as exc:
        return Precondition(name, False, f"{url}: HTTP {exc.code}")
    except (urllib.error.URLError, OSError) as exc:
        return Precondition(name, False, f"{url}: {exc}")


def _dr_capacity(ops: "Ops", desired_count: int | None = None) -> list[tuple[str, int]]:
    """(service, DR desired count) for every ingest service: ``desired_count`` when given, else the
    service's ``dr_desired_count``. A service with neither is a ParameterError (before any call)."""
    out = []
    for svc in failover_services(ops):
        count = desired_count if desired_count is not None else svc.dr_desired_count
        if count is None:
            raise ParameterError("desired_count", None, f"a positive number of DR tasks: the profile gives no "
                                                        f"dr_desired_count for {svc.name} (services[].dr_desired_count)")
        out.append((svc.name, count))
    return out


def plan_regional_failover(ops: "Ops", *, desired_count: int | None = None,
                           preflight: Callable[["Ops"], list[Precondition]] | None = None) -> Plan:
    """The runbook's regional failover: every ingest service scaled up in the DR cluster (to
    ``desired_count``, or each one's ``dr_desired_count``), DR stream encrypted, then DNS to the DR ALB.

    DNS moves last (the runbook moves it first, sending traffic to a DR side not yet scaled). The DR
    pre-flight checks run now and again right before applying; a failure refuses the plan."""
    preflight = preflight or dr_preflight
    capacity = _dr_capacity(ops, desired_count)
    plan = Plan("DR capacity", [], ops, [] if capacity else [
        f"no ECS service with role {FAILOVER_ROLE!r} in the profile: no DR capacity to scale"])
    for name, count in capacity:
        plan = plan + ecs.plan_desired_count(ops, name, count, region="dr")
    plan = plan + kinesis.plan_stream_encryption(ops, region="dr")
    plan = plan + _plan_alias_record(ops, ops.profile.dns.dr_alb_dns, alb_region="dr", failover=True)
    plan.title = f"regional failover to {ops.dr_region}"
    plan.prechecks = [preflight]
    plan.checks = preflight(ops)
    plan.notes.insert(0, "order differs from the runbook: DR capacity first, DNS last, so traffic never "
                         "reaches an unscaled DR side")
    return plan


kinds.register("route53.record", read=_read, execute=_execute)
