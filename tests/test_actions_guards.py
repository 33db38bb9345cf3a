"""Each guard rail refuses before any call, with its reason, changes nothing, and leaves an audit record.
One seeded environment serves the module: a refused plan must not change it."""
from __future__ import annotations

from dataclasses import replace

import pytest

from test_actions_env import act_db, older_events, shared_env, snapshot  # noqa: F401  (fixtures; the session ones in conftest)

from opslib.actions import AuditLog, Precondition, apply, cognito, ecs, kinesis, lambda_, route53, sql
from opslib.errors import ActionRefused


def _shards(ops) -> int:
    """The seeded number of open shards of the primary stream."""
    return kinesis.summary(ops, ops.profile.kinesis.stream, "primary")["OpenShardCount"]


def _alias(ops) -> int:
    """The seeded version of event-validator's production alias."""
    return int(ops.client("lambda").get_alias(FunctionName="event-validator", Name="production")["FunctionVersion"])


def _one_step(ops):
    """A single UpdateShardCount call from the seeded count to more than double it, made by hand."""
    current = _shards(ops)
    plan = kinesis.plan_reshard(ops, current * 2)
    step = plan.changes[0]
    plan.changes = [replace(step, new=current * 2 + 2, params={**step.params, "TargetShardCount": current * 2 + 2})]
    return plan


def _uncounted_delete(ops):
    plan = sql.plan_delete(ops, "events", "user_id = :u", {"u": older_events(ops)[2]})
    plan.changes = [replace(plan.changes[0], meta={})]
    return plan


def _delete_above_max_rows(ops):
    cutoff, _, _ = older_events(ops)
    return sql.plan_delete(ops, "events", "event_timestamp < :c", {"c": cutoff}, max_rows=10)


CASES = {
    "desired count above the profile's max": (lambda ops: ecs.plan_desired_count(ops, "ingestion-api", 101),
                                              "outside the profile's bounds [1, 100]"),
    "desired count below the profile's min": (lambda ops: ecs.plan_desired_count(ops, "ingestion-api", 0),
                                              "outside the profile's bounds [1, 100]"),
    "scaling policy max above the bounds": (lambda ops: ecs.plan_scaling_policy(ops, "stream-processor", min_capacity=2,
                                                                                max_capacity=250),
                                            "desired count 250 is outside"),
    "shard count more than double in one call": (_one_step, lambda ops: "at most double or half per call: "
                                                 f"{_shards(ops)} -> {_shards(ops) * 2 + 2}"),
    "shard count above kinesis.max_shards": (lambda ops: kinesis.plan_reshard(ops, 600), "exceeds the profile's kinesis.max_shards 500"),
    "alias weight above 1": (lambda ops: lambda_.plan_canary(ops, "event-validator", _alias(ops) - 1, 1.5), "weights must be in [0, 1]"),
    "alias weight below 0": (lambda ops: lambda_.plan_canary(ops, "event-validator", _alias(ops) - 1, -0.1), "weights must be in [0, 1]"),
    "alias primary as additional version": (lambda ops: lambda_.plan_alias(
        ops, "event-validator", _alias(ops) - 1, weights={str(_alias(ops) - 1): 0.5}),
                                            "cannot also be an additional version"),
    "failover with the DR health check failing": (lambda ops: route53.plan_regional_failover(ops),
                                                  "DR pre-flight failed: DR health endpoint"),
    "failover with a DR check failing": (
        lambda ops: route53.plan_regional_failover(ops, preflight=lambda o: [Precondition("DR stream user-events-dr", False,
                                                                                   "status UPDATING")]),
        "DR pre-flight failed: DR stream user-events-dr: status UPDATING"),
    "delete above max_rows": (_delete_above_max_rows, lambda ops: f"would remove {older_events(ops)[1]} "
                                                                  "rows/objects, more than the allowed 10"),
    "delete not counted": (_uncounted_delete, "must show the number of rows/objects it removes"),
    "password reset of a user who cannot receive it": (lambda ops: cognito.plan_reset_password(ops, INVITED),
                                                       "resets only CONFIRMED users"),
}


INVITED = "invited-user"


@pytest.fixture(scope="module")
def baseline(shared_env):
    """The seeded world, plus a user invited who never signed in (the sandbox seeds only CONFIRMED users)."""
    ops = shared_env[0]
    pool = next(p["Id"] for p in ops.client("cognito-idp").list_user_pools(MaxResults=10)["UserPools"]
                if p["Name"] == ops.profile.security.cognito_user_pool)
    ops.client("cognito-idp").admin_create_user(UserPoolId=pool, Username=INVITED, MessageAction="SUPPRESS",
                                                UserAttributes=[{"Name": "email", "Value": f"{INVITED}@company.com"},
                                                                {"Name": "email_verified", "Value": "true"}])
    return snapshot(ops)


@pytest.mark.parametrize("case", list(CASES))
def test_guard_refuses_before_any_call(shared_env, baseline, case):
    ops = shared_env[0]
    make, reason = CASES[case]
    reason = reason(ops) if callable(reason) else reason
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
    current = _shards(ops)
    target = current // 4 - 2                        # two halvings and a last step
    plan = kinesis.plan_reshard(ops, target)
    assert [c.new for c in plan.changes] == [current // 2, current // 4, target]
    assert apply(plan).status == "planned"
    assert snapshot(ops) == baseline
