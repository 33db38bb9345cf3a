"""Drills for notebooks/data-quality.ipynb against the session sandbox, through `runbook run` as a
schedule runs it: the healthy pipeline passes (its nightly trough is expected by the seasonal check,
the runbook's 50% rule reported alongside), `volume-drop` fails completeness at the injected hour and
nowhere else (warehouse and PostgreSQL), `duplicates` reports exactly the injected event_ids.

Runs are shared (a notebook run costs seconds): the healthy sandbox is run once per source, then
`volume-drop` and `duplicates` are injected together - they touch different hours (3 h before now,
and the last hour) - and run once per source; each drill asserts on its own check and hour.
"""
from __future__ import annotations

import json
import pytest

import golden
from runbook_cli import Runbook

from opslib.drills import DRILLS, judge

pytestmark = pytest.mark.slow


def start(archive, *params: str) -> Runbook:
    return Runbook("run", "data-quality", "--archive", str(archive), "--json", *[x for p in params for x in ("-p", p)])


def finish(proc: Runbook) -> dict:
    out, err = proc.communicate(timeout=300)
    assert out.strip(), err
    entry = json.loads(out)
    entry["exit_code_seen"] = proc.returncode
    entry["by_name"] = {c["name"]: c for c in entry["findings"]}
    return entry


@pytest.fixture(scope="module")
def drills(sandbox, tmp_path_factory):
    """Manifest entries of: healthy and faulty (volume-drop + duplicates), each on warehouse and database."""
    archive = tmp_path_factory.mktemp("dq-archive")
    runs, injected = {}, {}
    try:
        procs = {"healthy": start(archive), "healthy-db": start(archive, "source=database")}
        runs.update({k: finish(p) for k, p in procs.items()})
        injected["volume-drop"] = sandbox.inject("volume-drop")
        injected["duplicates"] = sandbox.inject("duplicates")
        procs = {"faulty": start(archive), "faulty-db": start(archive, "source=database")}
        runs.update({k: finish(p) for k, p in procs.items()})
    finally:
        sandbox.reset()
    return runs, injected


def hour_label(iso: str) -> str:
    return iso[:10] + " " + iso[11:13] + ":00"


@pytest.mark.golden
def test_healthy_sandbox_passes(drills, nb_regression):
    runs, _ = drills
    entry = runs["healthy"]
    assert entry["exit_code_seen"] == 0 and entry["status"] == "ok"
    assert {c["name"]: c["status"] for c in entry["findings"]} == {
        "completeness": "ok", "completeness_runbook_rule": "ok", "duplicates": "ok", "freshness": "ok",
        "validity": "ok", "quality_score": "ok"}
    assert entry["by_name"]["quality_score"]["figures"]["quality_score"] > 99
    assert entry["parameters"].get("source", "warehouse") == "warehouse"
    golden.check(nb_regression, entry)


def test_nightly_trough_is_not_flagged_and_the_runbook_rule_is_reported(drills):
    """The window holds the night (the sandbox's trough is 30% of the peak at 05:00 UTC): the seasonal
    check expects it; the runbook's 50% rule is a finding of its own."""
    runs, _ = drills
    checks = runs["healthy"]["by_name"]
    completeness = checks["completeness"]["figures"]
    assert completeness["hours"] == 24 and completeness["anomalous_hours"] == [] and completeness["high_hours"] == []
    assert completeness["hours_without_history"] == 0
    assert completeness["trough_hour"][11:13] in ("03", "04", "05", "06") and completeness["trough_status"] == "ok"
    assert completeness["trough_events"] < 0.45 * completeness["peak_events"]
    rule = checks["completeness_runbook_rule"]
    assert rule["figures"]["flagged_hours"] == [] and "50%" in rule["detail"]


def test_database_source_without_weeks_of_history_judges_by_previous_weekdays(drills):
    """The hot store keeps 7 days: no previous weeks, so each hour is compared with the same hour of the
    previous weekdays (the window is Tuesday-Wednesday), not with the runbook's 50% rule."""
    runs, _ = drills
    entry = runs["healthy-db"]
    assert entry["parameters"]["source"] == "database" and entry["exit_code_seen"] == 0
    c = entry["by_name"]["completeness"]
    assert c["status"] == "ok" and c["figures"]["hours_without_history"] == 0
    assert c["figures"]["rules"] == {"same hour, previous weekdays": 24}
    assert c["figures"]["anomalous_hours"] == []


@pytest.mark.parametrize("run", ["faulty", "faulty-db"])
def test_volume_drop_fails_completeness_at_the_injected_hour_only(drills, run):
    runs, injected = drills
    entry = runs[run]
    assert entry["exit_code_seen"] == 1 and entry["status"] == "fail"
    verdict = judge(DRILLS["volume-drop"].expect("data-quality"), entry, injected["volume-drop"],
                    together=DRILLS["duplicates"].expects)
    assert verdict.detected, verdict.problem
    completeness = entry["by_name"]["completeness"]
    hour = hour_label(injected["volume-drop"]["hour"])
    assert completeness["status"] == "fail" and completeness["figures"]["anomalous_hours"] == [hour]
    assert entry["by_name"]["completeness_runbook_rule"]["figures"]["flagged_hours"] == [hour]
    # PostgreSQL's events table has a primary key: the duplicates fault lives in the warehouse only
    assert {c["name"] for c in entry["findings"] if c["status"] == "fail"} == \
        ({"completeness", "duplicates"} if run == "faulty" else {"completeness"})


def test_duplicates_reports_exactly_the_injected_event_ids(drills):
    runs, injected = drills
    entry = runs["faulty"]
    verdict = judge(DRILLS["duplicates"].expect("data-quality"), entry, injected["duplicates"],
                    together=DRILLS["volume-drop"].expects)
    assert verdict.detected, verdict.problem
    dup = entry["by_name"]["duplicates"]
    assert dup["status"] == "fail"
    assert dup["figures"]["event_ids"] == sorted(injected["duplicates"]["event_ids"])
    assert dup["figures"]["duplicate_ids"] == dup["figures"]["extra_rows"] == 25
    assert entry["by_name"]["quality_score"]["figures"]["uniqueness"] < 1
    assert runs["healthy"]["by_name"]["duplicates"]["figures"]["event_ids"] == []


def test_archived_html_draws_the_charts_offline_in_chromium(drills):
    """The evidence of the faulty run, opened from the archive in headless Chromium with no network:
    every chart is drawn, the anomalous hour's marker included."""
    from runbook_cli import chromium_dom, figures
    runs, _ = drills
    entry = runs["faulty"]
    dom = chromium_dom(entry["files"]["html"]["path"])
    drawn = dom.count('class="main-svg"')
    assert drawn >= len(figures(entry)) >= 3          # plotly draws one or more svg layers per chart
    assert 'class="scatterlayer' in dom and "anomal" in dom.lower()
