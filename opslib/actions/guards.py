"""Guard rails: checked before any call; the first one that fails refuses the whole plan with its reason.

Each guard takes ``(ops, plan, change)`` and returns the reason to refuse, or None."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable

from ..errors import ActionRefused

if TYPE_CHECKING:
    from ..connection import Ops
    from .plan import Change, Plan

Guard = Callable[["Ops", "Plan", "Change"], "str | None"]


def _desired_count_in_bounds(ops: "Ops", plan: "Plan", change: "Change") -> str | None:
    lo, hi = ops.profile.ecs.min_desired_count, ops.profile.ecs.max_desired_count
    if change.kind == "ecs.desired_count":
        counts = [change.new]
    elif change.new is None:          # deregistering a scalable target sets no count
        return None
    else:
        counts = [change.new.get("MinCapacity"), change.new.get("MaxCapacity")]
    for n in counts:
        if not isinstance(n, int) or not lo <= n <= hi:
            return (f"desired count {n!r} is outside the profile's bounds [{lo}, {hi}] "
                    f"(ecs.min_desired_count/max_desired_count of profile {ops.profile.name!r})")
    return None


def _shard_step_allowed(ops: "Ops", plan: "Plan", change: "Change") -> str | None:
    current, target, cap = change.current, change.new, ops.profile.kinesis.max_shards
    if not isinstance(target, int) or target < 1:
        return f"target shard count {target!r} must be a positive integer"
    if target > cap:
        return f"target shard count {target} exceeds the profile's kinesis.max_shards {cap}"
    if target > 2 * current or target < math.ceil(current / 2):
        return (f"UpdateShardCount allows at most double or half per call: {current} -> {target} is outside "
                f"[{math.ceil(current / 2)}, {2 * current}]; plan several steps (kinesis.plan_reshard does)")
    return None


def _alias_weights_valid(ops: "Ops", plan: "Plan", change: "Change") -> str | None:
    weights = (change.params.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
    primary = str(change.params.get("FunctionVersion"))
    for version, w in weights.items():
        if not isinstance(w, (int, float)) or not 0 <= w <= 1:
            return f"alias weight for version {version} is {w!r}; weights must be in [0, 1]"
        if str(version) == primary:
            return (f"version {version} is the alias's primary version and cannot also be an additional "
                    f"version; the primary gets 1 - sum(additional weights)")
    if sum(weights.values()) > 1:
        return f"additional version weights sum to {sum(weights.values())}, more than 1"
    return None


def _preflight_passed(ops: "Ops", plan: "Plan", change: "Change") -> str | None:
    if not change.meta.get("requires_preflight"):
        return None
    if not plan.checks:
        return "a regional failover needs the DR side's pre-flight checks, and none were run"
    failed = [c for c in plan.checks if not c.ok]
    if failed:
        return "DR pre-flight failed: " + "; ".join(f"{c.name}: {c.detail}" for c in failed)
    return None


def _delete_counted(ops: "Ops", plan: "Plan", change: "Change") -> str | None:
    count = change.meta.get("count")
    if not isinstance(count, int):
        return "a delete must show the number of rows/objects it removes before it runs; this one was not counted"
    limit = change.meta.get("max_count")
    if limit is not None and count > limit:
        return f"the delete would remove {count} rows/objects, more than the allowed {limit}"
    return None


def _user_can_be_reset(ops: "Ops", plan: "Plan", change: "Change") -> str | None:
    if change.current != "CONFIRMED":
        return (f"Cognito resets only CONFIRMED users; {change.params.get('Username')} is {change.current} "
                f"(a FORCE_CHANGE_PASSWORD user has no password of their own yet: sign them out or disable them)")
    if change.meta.get("verified_contact") is False:
        return (f"{change.params.get('Username')} has no verified email or phone number, so Cognito cannot send "
                f"the reset code")
    return None


GUARDS: dict[str, list[Guard]] = {
    "cognito.reset_password": [_user_can_be_reset],
    "ecs.desired_count": [_desired_count_in_bounds],
    "appautoscaling.scalable_target": [_desired_count_in_bounds],
    "kinesis.shard_count": [_shard_step_allowed],
    "lambda.alias": [_alias_weights_valid],
    "route53.record": [_preflight_passed],
    "sql.delete": [_delete_counted],
    "iam.delete_access_key": [_delete_counted],
}
ALWAYS: list[Guard] = [_preflight_passed]


def check_plan(ops: "Ops", plan: "Plan") -> None:
    """Run every guard of every change; raise :class:`ActionRefused` with the first reason."""
    for i, change in enumerate(plan.changes, 1):
        guards = GUARDS.get(change.kind, [])
        for guard in guards + [g for g in ALWAYS if g not in guards]:
            reason = guard(ops, plan, change)
            if reason:
                raise ActionRefused(reason, change=f"change {i}: {change.resource} {change.attribute}")


def check_confirmation(plan: "Plan", confirm: "str | list[str] | None") -> None:
    """In a production profile the run must name every resource it changes, and nothing else."""
    given = confirm if isinstance(confirm, (list, tuple, set)) else (confirm or "").split(",")
    names = {str(n).strip() for n in given if str(n).strip()}
    needed = set(plan.targets)
    if names != needed:
        missing, extra = sorted(needed - names), sorted(names - needed)
        detail = "; ".join(filter(None, [f"not confirmed: {', '.join(missing)}" if missing else "",
                                          f"not in this plan: {', '.join(extra)}" if extra else ""]))
        example = f", e.g. confirm={plan.targets[0]!r}" if plan.targets else " (none: leave confirm empty)"
        raise ActionRefused(f"production profile: the confirmation must name the resource(s) this plan changes "
                            f"({', '.join(plan.targets)}){example}; {detail}")
