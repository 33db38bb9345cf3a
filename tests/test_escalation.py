"""Escalation math against the runbook's matrix (parameters/_common.yaml): due times, who is engaged,
the next step, response targets, and the boundaries (exactly at 30 minutes, SEV4 next day)."""
from __future__ import annotations

import shutil
from datetime import datetime, timedelta, timezone

import pytest

from opslib.sections import escalation
from opslib.config import load_profile, parameters_dir
from opslib.errors import ParameterError, ProfileError

START = datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def profile():
    return load_profile("sandbox")


def at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


def test_sev2_team_lead_is_due_exactly_at_30_minutes_not_a_second_before(profile):
    before = escalation.assess(profile, "SEV2", started_at=START, now=at(30) - timedelta(seconds=1))
    assert [s.due for s in before.steps] == [False, False]
    assert before.engaged == ["On-call Engineer"]
    assert before.next_step.to == ("Team Lead",) and before.next_step.due_at == at(30)
    assert before.to_check().status == "ok"

    exactly = escalation.assess(profile, "SEV2", started_at=START, now=at(30))
    assert [s.due for s in exactly.steps] == [True, False]
    assert exactly.engaged == ["On-call Engineer", "Team Lead"]
    assert exactly.next_step.to == ("Engineering Manager",) and exactly.next_step.due_at == at(120)
    check = exactly.to_check()
    assert check.status == "warn" and "Team Lead" in check.detail
    # the 30-minute response target is met at 30:00 and missed after it (no response recorded)
    assert exactly.response_due_at == at(30) and not exactly.response_missed
    late = escalation.assess(profile, "SEV2", started_at=START, now=at(30) + timedelta(seconds=1))
    assert late.response_missed and late.to_check().status == "fail"
    assert "30 min missed" in late.to_check().detail


def test_sev2_after_two_hours_engages_the_manager_and_nothing_is_next(profile):
    status = escalation.assess(profile, "SEV2", started_at=START, now=at(125), responded_at=at(5))
    assert status.engaged == ["On-call Engineer", "Team Lead", "Engineering Manager"]
    assert status.next_step is None and not status.response_missed
    assert status.to_check().status == "warn"
    assert "every escalation step" in status.summary()


def test_sev1_escalates_immediately_then_to_manager_and_cto_at_30(profile):
    status = escalation.assess(profile, "SEV1", started_at=START, now=START, responded_at=START)
    assert status.steps[0].when == "Immediate" and status.steps[0].due
    assert status.engaged == ["On-call Engineer", "Team Lead", "Sr. Engineer"]
    assert status.next_step.to == ("Engineering Manager", "CTO") and status.next_step.due_at == at(30)
    assert status.response_minutes == 15 and status.to_check().status == "warn"
    # a first response at 16 minutes missed the 15-minute target even though it came
    late = escalation.assess(profile, "SEV1", started_at=START, now=at(20), responded_at=at(16))
    assert late.response_missed and late.to_check().status == "fail"


def test_sev3_two_hours(profile):
    status = escalation.assess(profile, "SEV3", started_at=START, now=at(119), responded_at=at(10))
    assert status.steps[0].when == "2 hours" and not status.steps[0].due
    assert status.next_step.due_at == at(120) and status.to_check().status == "ok"


def test_sev4_next_day_is_24_hours_and_has_no_response_target(profile):
    status = escalation.assess(profile, "SEV4", started_at=START, now=at(24 * 60 - 1))
    assert status.steps[0].when == "Next day"
    assert status.next_step.due_at == datetime(2026, 11, 26, 9, 0, tzinfo=timezone.utc)
    assert status.engaged == ["On-call Engineer"]
    assert status.response_due_at is None and not status.response_missed
    next_day = escalation.assess(profile, "SEV4", started_at=START, now=at(24 * 60))
    assert next_day.steps[0].due and next_day.engaged == ["On-call Engineer", "Team Lead"]
    assert next_day.to_check().status == "warn"


def test_a_resolved_incident_escalates_no_further(profile):
    status = escalation.assess(profile, "SEV2", started_at=START, now=at(180), responded_at=at(2),
                               resolved_at=at(20))
    assert not any(s.due for s in status.steps) and status.next_step is None
    check = status.to_check()
    assert check.status == "ok" and "resolved" in check.detail


def test_bad_severity_and_start_in_the_future_name_what_is_allowed(profile):
    with pytest.raises(ParameterError) as err:
        escalation.assess(profile, "SEV5", started_at=START, now=at(1))
    assert err.value.name == "severity" and err.value.allowed == "SEV1, SEV2, SEV3, SEV4"
    with pytest.raises(ParameterError) as err:
        escalation.assess(profile, "SEV2", started_at=at(10), now=at(5))
    assert err.value.name == "started_at" and at(5).isoformat() in err.value.allowed
    with pytest.raises(ParameterError) as err:
        escalation.parse_time("yesterday-ish", name="started_at")
    assert err.value.name == "started_at"
    # a naive ISO time is UTC; lowercase severities are accepted
    status = escalation.assess(profile, "sev2", started_at="2026-11-25T09:00", now=at(1))
    assert status.started_at == START and status.severity == "SEV2"


def test_evaluation_time_is_never_before_the_latest_run():
    clock = at(0)
    assert escalation.evaluation_time(clock, [at(-5), None]) == (clock, None)
    moved, note = escalation.evaluation_time(clock, [at(-5), at(42)])
    assert moved == at(42) and "before the incident's latest run" in note


def test_for_incident_without_an_incident_starts_when_told(profile):
    """``runbook incident escalation`` without INCIDENT_ID: only the start (default now), no response recorded."""
    status = escalation.for_incident(profile, "SEV2", None, clock_now=at(45), started_at=START)
    assert (status.started_at, status.now, status.responded_at, status.resolved_at) == (START, at(45), None, None)
    assert status.engaged == ["On-call Engineer", "Team Lead"] and status.notes == ()
    assert escalation.for_incident(profile, "SEV2", clock_now=at(45)).started_at == at(45)


def test_matrix_contacts_and_chart(profile):
    matrix = escalation.matrix_table(profile)
    assert len(matrix) == len(profile.escalation) == 6
    sev1 = matrix[matrix.severity == "SEV1"]
    assert list(sev1["escalation time"]) == ["Immediate", "30 minutes"]
    assert list(sev1["escalation to"]) == ["Team Lead, Sr. Engineer", "Engineering Manager, CTO"]
    assert list(matrix[matrix.severity == "SEV4"]["escalation time"]) == ["Next day"]
    contacts = escalation.contacts_table(profile)
    manager = contacts[contacts.group == "manager"].iloc[0]
    assert manager["name"] == "John Smith" and manager["reach"] == "+1-555-0123"
    assert set(contacts[contacts.group == "on-call"]["reach"]) == {"check PagerDuty"}
    assert "database-ops@company.com" in set(contacts["reach"])

    status = escalation.assess(profile, "SEV2", started_at=START, now=at(45))
    fig = escalation.escalation_chart(status)
    now_line = fig.layout.shapes[0]
    assert now_line.x0 == at(45) and now_line.x1 == at(45)
    steps = next(t for t in fig.data if t.name == "escalation due")
    assert list(steps.x) == [at(30), at(120)]
    assert list(steps.marker.color) == ["#d62728", "#ff7f0e"]     # due, next
    table = status.table()
    assert list(table["state"]) == ["due", "next"]


def test_an_unknown_contacts_key_is_a_profile_error(tmp_path):
    shutil.copy(parameters_dir() / "_common.yaml", tmp_path)
    text = (parameters_dir() / "sandbox.yaml").read_text()
    (tmp_path / "good.yaml").write_text(text)
    assert load_profile(tmp_path / "good.yaml").contacts.manager[0].name == "John Smith"
    (tmp_path / "bad.yaml").write_text(text + "\ncontacts:\n  pager: [{name: x}]\n")
    with pytest.raises(ProfileError) as err:
        load_profile(tmp_path / "bad.yaml")
    assert "contacts.pager" in str(err.value) and "on_call" in str(err.value)
