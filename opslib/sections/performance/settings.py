"""The runbook's pool and cache settings against the environment of the services' live task definitions
(read by :func:`opslib.aws.ecs.service_environments`)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import pandas as pd

from ...aws import ecs as ecs_reads
from ...findings import Check


def service_environments(ops: Any, services: Iterable[str], cluster: str | None = None) -> dict[str, dict]:
    """Per ECS service of ``cluster`` (the profile's): running/desired count and its task definition's environment."""
    return ecs_reads.service_environments(ops.client("ecs"), cluster or ops.profile.ecs.cluster, services)


__all__ = ["RUNBOOK_SETTINGS", "Setting", "service_environments", "settings_check", "settings_checklist"]


@dataclass(frozen=True)
class Setting:
    label: str
    runbook: Any
    env: str | None          # the task definition variable carrying it, when there is one


RUNBOOK_SETTINGS = (
    Setting("pool max connections (max)", 20, "DB_POOL_MAX"),
    Setting("pool idle timeout ms (idleTimeoutMillis)", 30000, "DB_POOL_IDLE_TIMEOUT_MS"),
    Setting("pool connection timeout ms (connectionTimeoutMillis)", 2000, "DB_CONNECT_TIMEOUT_MS"),
    Setting("cache TTL s (stdTTL)", 600, "CACHE_TTL_SECONDS"),
    Setting("cache check period s (checkperiod)", 120, "CACHE_CHECK_PERIOD_SECONDS"),
    Setting("response compression (compression())", "enabled", None),
)


def settings_checklist(environments: dict[str, dict], settings: Sequence[Setting] = RUNBOOK_SETTINGS) -> pd.DataFrame:
    """One row per (setting, service): the runbook's value, the live one, and whether they match."""
    rows = []
    for s in settings:
        for service, info in environments.items():
            live = info["env"].get(s.env) if s.env else None
            if live is None:
                state = "not readable"
            else:
                state = "matches" if str(live) == str(s.runbook) else "differs"
            rows.append({"setting": s.label, "service": service, "runbook": s.runbook,
                         "live": live if live is not None else ("(not in the task definition)" if s.env
                                                                else "(application code)"),
                         "source": f"env {s.env} of {info['task_definition']}" if s.env else "-", "state": state})
    return pd.DataFrame(rows, columns=["setting", "service", "runbook", "live", "source", "state"])


def settings_check(checklist: pd.DataFrame) -> Check:
    differs = checklist[checklist["state"] == "differs"]
    unread = sorted(set(checklist.loc[checklist["state"] == "not readable", "setting"]))
    tail = f"; not readable live: {', '.join(unread)}" if unread else ""
    if len(differs):
        items = ", ".join(f"{r.service} {r.setting}={r.live} (runbook {r.runbook})" for r in differs.itertuples())
        return Check.warn("api-settings", f"differ from the runbook: {items}{tail}", differs=len(differs))
    matched = int((checklist["state"] == "matches").sum())
    return Check.ok("api-settings", f"{matched} live values match the runbook{tail}", matches=matched)
