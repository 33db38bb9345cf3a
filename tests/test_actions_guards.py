"""Each guard rail refuses before any call, with its reason, changes nothing, and leaves an audit record.
One seeded environment serves the module: a refused plan must not change it."""
from __future__ import annotations

from dataclasses import replace

import pytest

from test_actions_env import act_moto, act_pg, shared_env, snapshot  # noqa: F401

from opslib.actions import AuditLog, Precondition, apply, cognito, ecs, kinesis, lambda_, route53, sql
from opslib.errors import ActionRefused


def _one_step(ops):
    """A single UpdateShardCount call 4 -> 10 (more than double), made by hand."""
    plan = kinesis.plan_reshard(ops, 8)
    step = plan.changes[0]
    plan.changes = [replace(step, new=10, params={**step.params, "TargetShardCount": 10})]
    return plan


def _uncounted_delete(ops):
    plan = sql.plan_delete(ops, "events", "user_id = :u", {"u": "user-3"})
    plan.changes = [replace(plan.changes[0], meta={})]
    return plan


CASES = {
    "desired count above the profile's max": (lambda ops: ecs.plan_desired_count(ops, "ingestion-api", 101),
                                              "outside the profile's bounds [1, 100]"),
    "desired count below the profile's min": (lambda ops: ecs.plan_desired_count(ops, "ingestion-api", 0),
                                              "outside the profile's bounds [1, 100]"),
    "scaling policy max above the bounds": (lambda ops: ecs.plan_scaling_policy(ops, "stream-processor", min_capacity=2,
                                                                                max_capacity=250),
                                            "desired count 250 is outside"),
    "shard count more than double in one call": (_one_step, "at most double or half per call: 4 -> 10"),
    "shard count above kinesis.max_shards": (lambda ops: kinesis.plan_reshard(ops, 600), "exceeds the profile's kinesis.max_shards 500"),
    "alias weight above 1": (lambda ops: lambda_.plan_canary(ops, "event-validator", 14, 1.5), "weights must be in [0, 1]"),
    "alias weight below 0": (lambda ops: lambda_.plan_canary(ops, "event-validator", 14, -0.1), "weights must be in [0, 1]"),
    "alias primary as additional version": (lambda ops: lambda_.plan_alias(ops, "event-validator", 13, weights={"13": 0.5}),
                                            "cannot also be an additional version"),
    "failover with the DR health check failing": (lambda ops: route53.plan_regional_failover(ops),
                                                  "DR pre-flight failed: DR health endpoint"),
    "failover with a DR check failing": (
        lambda ops: route53.plan_regional_failover(ops, preflight=lambda o: [Precondition("DR stream user-events-dr", False,
                                                                                   "status UPDATING")]),
        "DR pre-flight failed: DR stream user-events-dr: status UPDATING"),
    "delete above max_rows": (lambda ops: sql.plan_delete(ops, "events", "event_timestamp < :c",
                                                          {"c": "2025-11-25T00:00:00+00:00"}, max_rows=10),
                              "would remove 279 rows/objects, more than the allowed 10"),
    "delete not counted": (_uncounted_delete, "must show the number of rows/objects it removes"),
    "password reset of a user who cannot receive it": (lambda ops: cognito.plan_reset_password(ops, "invited-user"),
                                                       "resets only CONFIRMED users"),
}


@pytest.fixture(scope="module")
def baseline(shared_env):
    return snapshot(shared_env[0])


@pytest.mark.parametrize("case", list(CASES))
def test_guard_refuses_before_any_call(shared_env, baseline, case):
    ops = shared_env[0]
    make, reason = CASES[case]
    plan = make(ops)
    assert plan.changes, "the plan must propose the change the guard refuses"
    before = len(AuditLog().records())
    with pytest.raises(ActionRefused) as info:
        apply(plan, dry_run=False)
    assert reason in info.value.reason
    assert info.value.result.status == "refused" and not info.value.result.applied
    assert snapshot(ops) == baseline
    records = AuditLog().records()
    assert len(records) == before + 1 and records[-1].status == "refused" and reason in records[-1].reason
    # a dry run reports the refusal too (the notebook shows it before anyone tries to apply)
    assert apply(plan, raise_on_error=False).status == "refused"


def test_a_plan_within_the_rails_passes_them(shared_env, baseline):
    ops = shared_env[0]
    plan = kinesis.plan_reshard(ops, 20)
    assert [c.new for c in plan.changes] == [8, 16, 20]
    assert apply(plan).status == "planned"
    assert snapshot(ops) == baseline
