"""Plans and their rendering, confirmation and shard steps: no server needed."""
from __future__ import annotations

import json
import re

import pytest

from opslib.actions.guards import check_confirmation
from opslib.actions.kinesis import reshard_steps
from opslib.actions.plan import Change, Plan
from opslib.errors import ActionRefused


def _change(**kw) -> Change:
    base = dict(kind="ecs.desired_count", resource="ecs service prod-cluster/ingestion-api (us-east-1)",
                attribute="desiredCount", current=6, new=20, service="ecs", operation="update_service",
                params={"cluster": "prod-cluster", "service": "ingestion-api", "desiredCount": 20},
                cli="aws ecs update-service --cluster prod-cluster --service ingestion-api --desired-count 20 "
                    "--region us-east-1", target="ingestion-api", region="primary")
    base.update(kw)
    return Change(**base)


def test_plan_renders_html_and_text_with_commands_and_undo():
    undo = _change(current=20, new=6, cli="aws ecs update-service --desired-count 6 --region us-east-1")
    plan = Plan("scale <ingestion-api>", [_change(undo=undo)], notes=["a & b"])
    page = plan._repr_html_()
    assert "<table>" in page and "scale &lt;ingestion-api&gt;" in page and "a &amp; b" in page
    assert "--desired-count 20 --region us-east-1" in page and "--desired-count 6" in page
    text = plan.to_text()
    assert re.search(r"desiredCount \| 6\s+\| 20", text)
    assert "undo: aws ecs update-service --desired-count 6" in text
    assert plan.commands.startswith("aws ecs update-service --cluster prod-cluster")


def test_empty_plan_says_nothing_to_change():
    plan = Plan("scale ingestion-api to 6", [], notes=["ingestion-api already has desired count 6"])
    assert "(nothing to change)" in plan.to_text() and "(nothing to change)" in plan._repr_html_()


def test_secret_parameters_never_rendered_nor_recorded():
    change = _change(kind="secrets.value", params={"SecretId": "prod/database/connection",
                                                   "SecretString": '{"password": "hunter2-XYZ"}'},
                     secret_params=("SecretString",), current="<redacted> (version a)", new="<redacted> (version b)")
    plan = Plan("update secret", [change])
    for out in (plan.to_text(), plan._repr_html_(), json.dumps(plan.to_dict()), change.call, repr(change.safe_params())):
        assert "hunter2-XYZ" not in out
    assert change.to_dict()["params"]["SecretString"] == "<redacted>"
    assert Change.from_dict(change.to_dict()).redacted


def test_change_round_trips_through_its_record():
    change = _change(undo=_change(current=20, new=6))
    back = Change.from_dict(json.loads(json.dumps(change.to_dict())))
    assert back == change


@pytest.mark.parametrize("current,target,steps", [(4, 20, [8, 16, 20]), (20, 3, [10, 5, 3]), (7, 4, [4]),
                                                  (4, 4, []), (1, 3, [2, 3])])
def test_reshard_steps_at_most_double_or_half(current, target, steps):
    got = reshard_steps(current, target)
    assert got == steps
    prev = current
    for n in got:
        assert -(-prev // 2) <= n <= 2 * prev
        prev = n


def test_confirmation_must_name_every_resource_and_nothing_else():
    plan = Plan("two", [_change(), _change(target="stream-processor")])
    check_confirmation(plan, "ingestion-api, stream-processor")
    check_confirmation(plan, ["stream-processor", "ingestion-api"])
    for bad in (None, "", "ingestion-api", "ingestion-api,stream-processor,data-api", "INGESTION-API,stream-processor"):
        with pytest.raises(ActionRefused) as info:
            check_confirmation(plan, bad)
        assert "ingestion-api, stream-processor" in info.value.reason


def test_an_empty_plan_needs_no_confirmation_and_refuses_a_stray_one_clearly():
    empty = Plan("nothing", [])
    check_confirmation(empty, None)
    with pytest.raises(ActionRefused) as info:
        check_confirmation(empty, "ingestion-api")
    assert "not in this plan: ingestion-api" in info.value.reason and "leave confirm empty" in info.value.reason
