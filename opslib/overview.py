"""System Overview: the live inventory of both regions against the profile, as findings."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from .aws.inventory import missing, region_inventory
from .findings import Check


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
    frames, gaps = [], []
    for which in ("primary", "dr"):
        inv = region_inventory(ops, which)
        frames.append(inv)
        gaps.extend(missing(ops.profile, inv, which, ops.region(which)))
    return Inventory(pd.concat(frames, ignore_index=True),
                     pd.DataFrame([g.__dict__ for g in gaps], columns=["region", "kind", "name"]))


def _services(inv: Inventory, region: str, cluster: str) -> pd.DataFrame:
    r = inv.region(region)
    return r[(r["kind"] == "ecs-service") & r["name"].str.startswith(cluster + "/")]


def inventory_checks(ops: Any, inv: Inventory) -> list[Check]:
    """One check per region for completeness, one for the primary's services, one for DR readiness."""
    checks = []
    for which in ("primary", "dr"):
        region = ops.region(which)
        gaps = inv.gaps[inv.gaps["region"] == region]
        errors = inv.region(region)[inv.region(region)["state"] == "ERROR"]
        name = f"inventory-{which}"
        if len(gaps) or len(errors):
            listed = ", ".join(f"{k} {n}" for k, n in zip(gaps["kind"], gaps["name"]))
            failing = ", ".join(f"{k}: {d}" for k, d in zip(errors["kind"], errors["detail"]))
            checks.append(Check.fail(name, f"{region}: missing {listed or 'nothing'}; unreadable {failing or 'nothing'}",
                                     missing=len(gaps), unreadable=len(errors)))
        else:
            checks.append(Check.ok(name, f"{region}: all {len(inv.region(region))} resources the profile expects exist",
                                   resources=len(inv.region(region))))
    primary = _services(inv, ops.primary_region, ops.profile.ecs.cluster)
    down = primary[primary["state"] == "DOWN"]["name"].tolist()
    degraded = primary[primary["state"] == "DEGRADED"]["name"].tolist()
    if down:
        checks.append(Check.fail("services-primary", f"down: {', '.join(down)}", down=len(down), degraded=len(degraded)))
    elif degraded:
        checks.append(Check.warn("services-primary", f"degraded: {', '.join(degraded)}", degraded=len(degraded)))
    else:
        checks.append(Check.ok("services-primary", f"{len(primary)} ECS services at their desired count",
                               services=len(primary)))
    dr = _services(inv, ops.dr_region, ops.profile.ecs.dr_cluster)
    dr_ready = len(dr) > 0 and (dr["state"] != "DOWN").all() and inv.gaps[inv.gaps["region"] == ops.dr_region].empty
    primary_out = len(primary) > 0 and (primary["state"] == "DOWN").all()
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
