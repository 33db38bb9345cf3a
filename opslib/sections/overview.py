"""System Overview: the live inventory of both regions against the profile, as findings."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..aws.inventory import missing, region_inventory
from ..findings import Check
from ..retention import retention_checks  # noqa: F401 - the notebook calls overview.retention_checks


@dataclass(frozen=True)
class Inventory:
    resources: pd.DataFrame   # region, kind, name, state, detail
    gaps: pd.DataFrame        # region, kind, name: expected by the profile, absent in AWS

    def region(self, region: str) -> pd.DataFrame:
        return self.resources[self.resources["region"] == region]

    def summary(self) -> pd.DataFrame:
        """Counts per region and kind, with how many are not in a healthy state."""
        r = self.resources.assign(unhealthy=~self.resources["state"].isin(
            ["ACTIVE", "RUNNING", "AVAILABLE", "Active", "ACTIVE_UPDATING"]))
        return (r.groupby(["region", "kind"]).agg(count=("name", "size"), unhealthy=("unhealthy", "sum"))
                .reset_index())


def inventory(ops: Any) -> Inventory:
    """Every region of the pipeline read live (the DR region too, where the profile names one), and what the
    profile expects there but is missing."""
    frames, gaps = [], []
    for which in ops.sides:
        inv = region_inventory(ops, which)
        frames.append(inv)
        gaps.extend(missing(ops.profile, inv, which, ops.region(which)))
    return Inventory(pd.concat(frames, ignore_index=True),
                     pd.DataFrame([g.__dict__ for g in gaps], columns=["region", "kind", "name"]))


def _services(inv: Inventory, region: str, cluster: str) -> pd.DataFrame:
    r = inv.region(region)
    return r[(r["kind"] == "ecs-service") & r["name"].str.startswith(cluster + "/")]


def _unseen(inv: Inventory, region: str) -> pd.DataFrame:
    """Rows of AWS services in ``region`` that could not be read (credentials, access, connectivity)."""
    r = inv.region(region)
    return r[r["state"] == "UNREADABLE"]


def inventory_checks(ops: Any, inv: Inventory) -> list[Check]:
    """One check per region for completeness, one for the primary's services, one for DR readiness.

    What could not be read (state UNREADABLE) is not missing: its resources are left out of the gaps and
    the check is ``unknown`` unless something that was seen is missing or broken."""
    checks = []
    blind_ecs = {}
    for which in ops.sides:
        region = ops.region(which)
        unseen = _unseen(inv, region)
        blind = set(unseen["kind"])
        blind_ecs[which] = "ecs" in blind
        gaps = inv.gaps[(inv.gaps["region"] == region) & ~inv.gaps["kind"].str.split("-").str[0].isin(blind)]
        errors = inv.region(region)[inv.region(region)["state"] == "ERROR"]
        name = f"inventory-{which}"
        not_seen = "; ".join(f"{k}: {d}" for k, d in zip(unseen["kind"], unseen["detail"]))
        if len(gaps) or len(errors):
            listed = ", ".join(f"{k} {n}" for k, n in zip(gaps["kind"], gaps["name"]))
            failing = ", ".join(f"{k}: {d}" for k, d in zip(errors["kind"], errors["detail"]))
            checks.append(Check.fail(name, f"{region}: missing {listed or 'nothing'}; unreadable {failing or 'nothing'}"
                                     + (f"; could not read {not_seen}" if not_seen else ""),
                                     missing=len(gaps), unreadable=len(errors), not_seen=len(unseen)))
        elif len(unseen):
            checks.append(Check.unknown(name, f"{region}: could not read {not_seen}", not_seen=len(unseen),
                                        resources=len(inv.region(region)) - len(unseen)))
        else:
            checks.append(Check.ok(name, f"{region}: all {len(inv.region(region))} resources the profile expects exist",
                                   resources=len(inv.region(region))))
    primary = _services(inv, ops.primary_region, ops.profile.ecs.cluster)
    down = primary[primary["state"] == "DOWN"]["name"].tolist()
    degraded = primary[primary["state"] == "DEGRADED"]["name"].tolist()
    if blind_ecs["primary"]:
        checks.append(Check.unknown("services-primary", f"ECS in {ops.primary_region} could not be read: "
                                    + "; ".join(_unseen(inv, ops.primary_region).query("kind == 'ecs'")["detail"])))
    elif down:
        checks.append(Check.fail("services-primary", f"down: {', '.join(down)}", down=len(down), degraded=len(degraded)))
    elif degraded:
        checks.append(Check.warn("services-primary", f"degraded: {', '.join(degraded)}", degraded=len(degraded)))
    else:
        checks.append(Check.ok("services-primary", f"{len(primary)} ECS services at their desired count",
                               services=len(primary)))
    if any(blind_ecs.values()):
        which = [ops.region(w) for w in ops.sides if blind_ecs[w]]
        checks.append(Check.unknown("dr-readiness", f"ECS in {', '.join(which)} could not be read"))
        return checks
    primary_out = len(primary) > 0 and (primary["state"] == "DOWN").all()
    if not ops.profile.has_dr:
        figures = {"primary_services_down": int((primary["state"] == "DOWN").sum()), "dr_configured": False}
        if primary_out:
            checks.append(Check.fail("dr-readiness", f"primary region {ops.primary_region} is down and the profile "
                                     f"names no DR region to fail over to (aws.dr_region)", primary_out=True,
                                     **figures))
        else:
            checks.append(Check.ok("dr-readiness", f"single-region pipeline: no DR region in the profile "
                                   f"(aws.dr_region), so no failover target to check", primary_out=False, **figures))
        return checks
    dr = _services(inv, ops.dr_region, ops.profile.ecs.dr_cluster)
    dr_ready = len(dr) > 0 and (dr["state"] != "DOWN").all() and inv.gaps[inv.gaps["region"] == ops.dr_region].empty
    figures = {"primary_services_down": int((primary["state"] == "DOWN").sum()),
               "dr_services_running": int((dr["state"] != "DOWN").sum())}
    if primary_out:
        checks.append(Check.fail("dr-readiness", f"primary region {ops.primary_region} is down; DR side "
                                 f"{ops.dr_region} {'is ready for failover' if dr_ready else 'is NOT ready'}",
                                 primary_out=True, dr_ready=bool(dr_ready), **figures))
    elif not dr_ready:
        checks.append(Check.warn("dr-readiness", f"DR side {ops.dr_region} is not ready for a failover",
                                 primary_out=False, dr_ready=False, **figures))
    else:
        checks.append(Check.ok("dr-readiness", f"DR side {ops.dr_region} is ready (warm standby)",
                               primary_out=False, dr_ready=True, **figures))
    return checks


# -- key metrics against the runbook's figures ----------------------------------------------------------
def key_metrics(ops: Any, *, hours: float = 24, now: Any = None) -> pd.DataFrame:
    """Per minute: events/second (Kinesis IncomingRecords) and availability (1 - 5xx/requests).

    When CloudWatch cannot be read (credentials, access, connectivity) the frame is empty and
    ``frame.attrs["unseen"]`` says why; :func:`metric_checks` then reports unknown, not a failure."""
    from datetime import timedelta

    from ..aws.access import blind_reason, describe
    from ..aws.cloudwatch import metric_frame, share
    now = now or ops.now()
    m = ops.profile.metrics
    try:
        frame = metric_frame(ops.client("cloudwatch"), {k: m[k] for k in ("incoming_records", "requests", "http_5xx")},
                             now - timedelta(hours=hours), now, 60, stats={"incoming_records": "Sum", "requests": "Sum",
                                                                          "http_5xx": "Sum"})
    except Exception as exc:  # noqa: BLE001 - only reads that could not see are kept; others raise
        if not blind_reason(exc):
            raise
        empty = pd.DataFrame({"events_per_second": pd.Series(dtype=float), "availability": pd.Series(dtype=float)},
                             index=pd.DatetimeIndex([], tz="UTC"))
        empty.attrs["unseen"] = f"CloudWatch: {describe(exc)}"
        return empty
    out = pd.DataFrame(index=frame.index)
    out["events_per_second"] = frame["incoming_records"] / 60
    out["availability"] = 1 - share(frame["http_5xx"], frame["requests"])
    return out


def metric_checks(ops: Any, frame: pd.DataFrame, *, recent_minutes: int = 15) -> list[Check]:
    t = ops.profile.targets
    unseen = frame.attrs.get("unseen")
    if unseen:
        return [Check.unknown("throughput", unseen), Check.unknown("availability", unseen)]
    checks = []
    eps = frame["events_per_second"]
    if eps.notna().sum() == 0:
        checks.append(Check.warn("throughput", "no IncomingRecords data in the window"))
    else:
        avg, peak = float(eps.mean()), float(eps.max())
        recent = float(eps.iloc[-recent_minutes:].mean()) if eps.iloc[-recent_minutes:].notna().any() else 0.0
        figures = {"average_eps": round(avg, 1), "peak_eps": round(peak, 1), f"last_{recent_minutes}m_eps": round(recent, 1),
                   "stated_average_eps": t.average_events_per_second, "stated_peak_eps": t.peak_events_per_second}
        if recent < 0.1 * avg:
            checks.append(Check.fail("throughput", f"ingestion stalled: {recent:,.0f} events/s in the last "
                                     f"{recent_minutes} min against {avg:,.0f} on average", **figures))
        elif peak > t.peak_events_per_second:
            checks.append(Check.warn("throughput", f"peak {peak:,.0f} events/s above the stated capacity "
                                     f"{t.peak_events_per_second:,.0f}", **figures))
        else:
            checks.append(Check.ok("throughput", f"average {avg:,.0f}, peak {peak:,.0f} events/s "
                                   f"(runbook: {t.average_events_per_second:,.0f} average, "
                                   f"{t.peak_events_per_second:,.0f} peak)", **figures))
    availability = frame["availability"]
    if availability.notna().sum() == 0:
        checks.append(Check.warn("availability", "no request metrics in the window"))
    else:
        overall = float(availability.mean())
        status = Check.ok if overall >= t.availability_sla else Check.fail
        checks.append(status("availability", f"{overall:.4%} over the window (SLA {t.availability_sla:.1%})",
                             availability=round(overall, 6), sla=t.availability_sla))
    return checks
