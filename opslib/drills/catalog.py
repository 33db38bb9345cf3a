"""The drills, defined once: for each fault scenario of the sandbox (:mod:`opslib.sandbox.faults`), the
runbook(s) written for it, their parameters, the checks expected to fail and the words those failing
checks must show to name the fault. ``runbook drill`` and the test suite both read them from here.

A drill passes for a runbook when its run exits 1, every expected check fails, every ``names`` text is
in a failing check's detail, and no other check fails (except those listed in ``may_fail``: other
symptoms of the same fault, e.g. a dashboard the outage empties).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ParameterError


@dataclass(frozen=True)
class Expect:
    """One runbook of a drill and what it must report."""

    notebook: str
    fails: tuple[str, ...]                 # check names (fnmatch patterns) that must fail
    names: tuple[str, ...] = ()            # text a failing check's detail must show
    may_fail: tuple[str, ...] = ()         # other symptoms of the same fault, allowed to fail too
    # In all three, ``{key}`` is a detail the injection returned (e.g. ``{service}``: the service the fault hit,
    # found by its role in the profile), so a drill names no resource of its own.
    parameters: dict = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class Drill:
    scenario: str
    expects: tuple[Expect, ...]
    note: str = ""                         # what the drill needs, where it is not obvious

    @property
    def notebooks(self) -> list[str]:
        return [e.notebook for e in self.expects]

    def expect(self, notebook: str) -> Expect:
        for e in self.expects:
            if e.notebook == notebook:
                return e
        raise ParameterError("notebook", notebook, ", ".join(self.notebooks))


DRILLS: dict[str, Drill] = {d.scenario: d for d in (
    Drill("api-down", (
        Expect("critical-services", ("service-{service}",), names=("{service}", "no running tasks")),
        Expect("monitoring-alerts", ("alert-api-down",), names=("would page",),
               may_fail=("alert-high-error-rate", "alert-low-throughput", "dashboard-*")),
        Expect("incident-response", ("procedure-api-down", "hint-memory-{service}"), names=("{service}",)),
    )),
    Drill("high-error-rate", (
        Expect("monitoring-alerts", ("alert-high-error-rate",), names=("would page",), may_fail=("dashboard-*",)),
        Expect("incident-response", ("procedure-high-error-rate", "hint-recent-deployment"),
               names=("{recent_deployment}",)),
    )),
    Drill("stream-backup", (
        Expect("monitoring-alerts", ("alert-stream-backup",), names=("would page",), may_fail=("dashboard-*",)),
        Expect("incident-response", ("procedure-stream-backup", "hint-memory-{service}"), names=("{service}",)),
    )),
    Drill("poison-messages", (
        Expect("incident-response", ("procedure-stream-backup", "hint-poison-messages"), names=("{shard}",)),
    )),
    Drill("volume-drop", (
        Expect("data-quality", ("completeness",), names=("{hour_label}",), may_fail=("completeness_runbook_rule",)),
    )),
    Drill("duplicates", (
        Expect("data-quality", ("duplicates",), names=("25",)),
    )),
    Drill("region-outage", (
        Expect("system-overview", ("dr-readiness",), names=("{region} is down",),
               may_fail=("services-primary",)),
        Expect("disaster-recovery", ("primary-region",), names=("primary region {region} down", "{failover_advice}")),
    )),
    Drill("stale-backup", (
        Expect("disaster-recovery", ("backup-age",), names=("S3 daily",)),
    )),
    Drill("leaked-credential", (
        Expect("security-operations", ("suspicious-activity", "exposed-credentials"),
               names=("{access_key_id}", "{source_ip}")),
    )),
    Drill("expiring-certificate", (
        Expect("maintenance", ("certificate *",), names=("{domain}",)),
    ), note="the certificate the load balancer's HTTPS listener serves (ACM) fails under certificates.fail_days"),
    Drill("slow-queries", (
        Expect("maintenance", ("slow-statements",), names=("FROM events",)),
        Expect("performance-tuning", ("api-latency-p99",), may_fail=("slow-statements",)),
    ), note="pg_stat_statements in the sandbox's PostgreSQL names the slow statement"),
    Drill("connection-exhaustion", (
        Expect("performance-tuning", ("db-connections",), names=("max_connections",)),
        Expect("incident-response", ("hint-db-connections",), names=("max_connections",)),
    )),
)}


def select(names: list[str] | tuple[str, ...], *, every: bool = False) -> list[Drill]:
    """The drills named (in the catalog's order when ``every``); unknown names are a ParameterError."""
    if every:
        return list(DRILLS.values())
    if not names:
        raise ParameterError("scenario", None, "one or more of " + ", ".join(DRILLS) + ", or --all")
    unknown = [n for n in names if n not in DRILLS]
    if unknown:
        raise ParameterError("scenario", unknown[0], ", ".join(DRILLS))
    return [DRILLS[n] for n in dict.fromkeys(names)]


def for_notebook(notebook: str) -> list[Drill]:
    """The drills that rehearse ``notebook``."""
    return [d for d in DRILLS.values() if notebook in d.notebooks]
