"""DR-region readiness: the primary region's services by their ``/health`` endpoints, the DR side's
pre-flight (:func:`opslib.actions.route53.dr_preflight`) and where the API record points. A failover is
advised only when every primary service fails and the DR pre-flight passes."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from ...actions import route53
from ...actions.plan import Precondition
from ...findings import Check
from ...health_checks import check as http_check

if TYPE_CHECKING:
    from ...connection import Ops


def api_record(ops: "Ops") -> tuple[dict | None, bool]:
    """The API record now (``route53.summarize`` form) and whether it aliases the DR ALB."""
    d = ops.profile.dns
    dns = route53.summarize(route53.record_set(ops, route53.zone_id(ops, d.hosted_zone), d.record, "A"))
    on_dr = ops.profile.has_dr and bool(dns) and dns.get("alias") == route53._name(d.dr_alb_dns)
    return dns, on_dr


@dataclass
class Readiness:
    primary: pd.DataFrame          # one row per primary ECS service: health
    dr: list[Precondition]            # the DR side's pre-flight (route53.dr_preflight)
    dns: dict | None               # the API record now
    on_dr: bool                    # the API record already aliases the DR ALB
    region: str = "primary"        # the primary region's name, for the findings

    @property
    def primary_down(self) -> bool:
        return bool(len(self.primary)) and not self.primary["ok"].any()

    @property
    def dr_ready(self) -> bool:
        return all(c.ok for c in self.dr)

    @property
    def has_dr(self) -> bool:
        """False for a single-region pipeline: its pre-flight is route53.NO_DR_CHECK alone (failing)."""
        return not any(c.name == route53.NO_DR_CHECK for c in self.dr)

    @property
    def failover_advised(self) -> bool:
        return self.primary_down and self.dr_ready and not self.on_dr

    def checks(self) -> list[Check]:
        failing = self.primary[~self.primary["ok"]]
        if not self.has_dr:
            return [self._primary_check(failing, "no DR region to fail over to (aws.dr_region)"),
                    Check.ok("dr-readiness", "single-region pipeline: the profile names no DR region (aws.dr_region), "
                                             "so there is no failover side to check", dr_configured=False)]
        # no ingest service in the profile: the DR services are not measurable (a warn), not a DR failure
        unmeasured = [c for c in self.dr if not c.ok and c.name == route53.ROLE_CHECK]
        failed_dr = [c for c in self.dr if not c.ok and c not in unmeasured]
        if failed_dr:
            dr = Check.fail("dr-readiness", "DR pre-flight fails: " + "; ".join(f"{c.name}: {c.detail}"
                                                                                for c in failed_dr),
                            failed=[c.name for c in failed_dr])
        elif unmeasured:
            dr = Check.warn("dr-readiness", "; ".join(f"{c.name}: {c.detail}" for c in unmeasured)
                            + "; the rest of the DR pre-flight passes", role=route53.FAILOVER_ROLE)
        else:
            dr = Check.ok("dr-readiness", "DR pre-flight passes: " + "; ".join(f"{c.name}: {c.detail}"
                                                                                for c in self.dr))
        advice = ("regional failover ADVISED: the DR pre-flight passes (run with operation='regional-failover')"
                  if self.dr_ready else "failover NOT possible: the DR pre-flight fails")
        return [self._primary_check(failing, advice), dr]

    def _primary_check(self, failing: pd.DataFrame, advice: str) -> Check:
        """The primary region's services by health; ``advice`` says what to do when every one fails."""
        n, down = len(self.primary), len(failing)
        figures = {"services_down": down, "services": n, "failover_advised": self.failover_advised,
                   "dns_on_dr": self.on_dr}
        if self.primary_down and self.on_dr:
            primary = Check.warn("primary-region", f"primary region {self.region} down ({down}/{n} services "
                                 f"failing) and traffic is already on the DR region", **figures)
        elif self.primary_down:
            primary = Check.fail("primary-region", f"primary region {self.region} down: {down}/{n} services fail "
                                 f"their health check; {advice}", **figures)
        elif down:
            primary = Check.warn("primary-region", f"{down}/{n} primary services failing "
                                 f"({', '.join(failing['service'])}): a service incident, not a regional one; "
                                 f"failover not advised", **figures)
        else:
            primary = Check.ok("primary-region", f"all {n} primary services healthy"
                               + ("; traffic is on the DR region" if self.on_dr else "; no failover needed"), **figures)
        return primary


def readiness(ops: "Ops", *, timeout: float = 5.0) -> Readiness:
    """Health of the primary region's services, the DR pre-flight, and where the API record points."""
    rows = []
    for s in ops.profile.services:
        if s.type != "ecs" or not s.health_url:
            continue
        r = http_check(ops.health_url(s.health_url), timeout)
        rows.append({"service": s.name, "url": r.url, "ok": r.ok, "status": r.status,
                     "latency_ms": round(r.latency_ms, 1), "error": r.error})
    dns, on_dr = api_record(ops)
    return Readiness(pd.DataFrame(rows, columns=["service", "url", "ok", "status", "latency_ms", "error"]),
                     route53.dr_preflight(ops, timeout=timeout), dns, on_dr, region=ops.primary_region)
