"""Drill definitions, verdicts, the archived scorecard and rehearsal freshness, without a kernel (the drills
themselves run in the notebook tests, which judge their runs with the same definitions, and in
test_notebooks_sections_1_3.py through `runbook drill`)."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import nbformat
import pytest

from opslib.drills import DRILLS, Expect, archive_scorecard, for_notebook, judge, last_rehearsed, rehearse, select
from opslib.drills.rehearse import DrillResult
from opslib.errors import ParameterError
from opslib.findings import read_findings
from opslib.runner.archive import LocalArchive
from opslib.runner.catalog import discover
from opslib.runner.verify import verify_entries
from opslib.sandbox.faults import SCENARIOS


def entry(*checks: tuple[str, str, str], exit_code: int | None = None, run_id: str = "r1", notebook: str = "nb") -> dict:
    findings = [{"name": n, "status": s, "detail": d, "figures": {}} for n, s, d in checks]
    worst = max((("ok", "warn", "fail").index(c["status"]) for c in findings), default=0)
    code = exit_code if exit_code is not None else (1 if worst == 2 else 0)
    return {"id": run_id, "notebook": notebook, "exit_code": code, "status": ("ok", "warn", "fail")[worst],
            "findings": findings, "duration_seconds": 3.5,
            "files": {"html": {"path": f"/a/2026/11/25/x-{run_id}.html"}, "ipynb": {"path": "/a/x.ipynb"}}}


def test_every_scenario_has_a_drill_on_notebooks_that_exist():
    assert set(DRILLS) == set(SCENARIOS)
    notebooks = {n.name for n in discover()}
    for drill in DRILLS.values():
        assert drill.expects and set(drill.notebooks) <= notebooks, drill.scenario
        assert all(e.fails for e in drill.expects), drill.scenario
    assert [d.scenario for d in for_notebook("data-quality")] == ["volume-drop", "duplicates"]


def test_select_refuses_unknown_names_before_anything_runs():
    assert [d.scenario for d in select(["duplicates", "api-down", "duplicates"])] == ["duplicates", "api-down"]
    assert len(select([], every=True)) == len(SCENARIOS)
    with pytest.raises(ParameterError, match="api-down"):
        select(["api-dwn"])
    with pytest.raises(ParameterError):
        select([])


EXPECT = Expect("security-operations", ("exposed-*",), names=("{access_key_id}",), may_fail=("suspicious-*",))
INJECTED = {"access_key_id": "AKIAEXAMPLEEXAMPLE12"}


def test_a_loud_finding_naming_the_fault_is_detected():
    got = judge(EXPECT, entry(("exposed-credentials", "fail", "key AKIAEXAMPLEEXAMPLE12 exposed"),
                              ("suspicious-activity", "fail", "5 events"), ("retention", "ok", "")), INJECTED)
    assert got.detected and got.problem == "" and got.failed == ["exposed-credentials", "suspicious-activity"]
    assert got.evidence["html"].endswith("x-r1.html") and got.seconds == 3.5


@pytest.mark.parametrize("checks, exit_code, problem", [
    ([("exposed-credentials", "warn", "AKIAEXAMPLEEXAMPLE12")], None, "exposed-* did not fail (exposed-credentials warn)"),
    ([("exposed-credentials", "fail", "key *** exposed")], None, "no expected failing finding shows 'AKIAEXAMPLEEXAMPLE12'"),
    ([("exposed-credentials", "fail", "AKIAEXAMPLEEXAMPLE12"), ("retention", "fail", "x")], None, "also failed: retention"),
    ([("exposed-credentials", "fail", "AKIAEXAMPLEEXAMPLE12")], 3, "exit 3 (fail), not 1"),
    ([], None, "exposed-* did not fail (not reported)"),
])
def test_quiet_masked_or_noisy_runs_are_not_detected(checks, exit_code, problem):
    got = judge(EXPECT, entry(*checks, exit_code=exit_code), INJECTED)
    assert not got.detected and problem in got.problem


def test_faults_injected_together_and_a_run_that_did_not_start():
    other = Expect("security-operations", ("retention",))
    run = entry(("exposed-credentials", "fail", "AKIAEXAMPLEEXAMPLE12"), ("retention", "fail", "x"))
    assert judge(EXPECT, run, INJECTED, together=[other]).detected
    got = judge(EXPECT, None, INJECTED, error="security-operations did not run: boom")
    assert not got.detected and got.problem == "security-operations did not run: boom" and got.run_id is None


def test_hour_labels_fill_names():
    expect = DRILLS["volume-drop"].expect("data-quality")
    run = entry(("completeness", "fail", "1 of 24 hours below the expected volume: 2026-11-25 09:00 7 events"))
    assert judge(expect, run, {"hour": "2026-11-25T09:00:00"}).detected
    assert not judge(expect, run, {"hour": "2026-11-25T10:00:00"}).detected


class FakeSandbox:
    def __init__(self):
        self.calls = []

    def inject(self, scenario):
        self.calls.append(("inject", scenario))
        if scenario == "duplicates":
            raise RuntimeError("warehouse locked")
        return {"service": "ingestion-api"}

    def reset(self):
        self.calls.append(("reset",))


def test_rehearse_resets_first_and_after_each_drill_and_records_failures():
    sb, jobs = FakeSandbox(), []

    def run_many(batch):
        jobs.extend(batch)
        return [(entry(("service-ingestion-api", "fail", "no running tasks"), notebook=nb), "") if nb == "critical-services"
                else (None, f"{nb} did not run: kernel") for nb, _, _ in batch]
    results = rehearse(select(["api-down", "duplicates"]), sandbox=sb, run_many=run_many)
    assert sb.calls == [("reset",), ("inject", "api-down"), ("reset",), ("inject", "duplicates"), ("reset",)]
    assert [j[0] for j in jobs] == DRILLS["api-down"].notebooks and {j[2] for j in jobs} == {"drill:api-down"}
    api, dup = results
    assert [r.detected for r in api.runbooks] == [True, False, False] and not api.detected
    assert not dup.detected and "warehouse locked" in dup.error and dup.runbooks == []


def test_scorecard_is_an_archived_verifiable_run_and_list_reads_freshness(tmp_path):
    archive = LocalArchive(tmp_path / "runs")
    t0 = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
    ticks = iter(t0 + timedelta(seconds=s) for s in range(100))
    expect = DRILLS["duplicates"].expect("data-quality")
    passed = DrillResult("duplicates", [judge(expect, entry(("duplicates", "fail", "25 duplicated event_ids"),
                                                            run_id="dq1", notebook="data-quality"), {})], 20.0)
    missed = DrillResult("stale-backup", [judge(DRILLS["stale-backup"].expects[0], entry(("backup-age", "ok", "fresh")),
                                                {})], 15.0, note="a note")
    card = archive_scorecard([passed, missed], archive=archive, profile="sandbox", clock=lambda: next(ticks))
    assert card.notebook == "drill-scorecard" and card.status == "fail" and card.exit_code == 1
    assert [c["status"] for c in card.findings] == ["ok", "fail"]
    assert "backup-age did not fail" in card.findings[1]["detail"] and "a note" in card.findings[1]["detail"]
    assert all(c.status == "ok" for c in verify_entries(archive, list(archive.manifest())))
    html = open(card.files["html"]["path"]).read()
    assert "<th>detected?</th>" in html and "x-dq1.html" in html and ">NO<" in html
    nb = nbformat.read(card.files["ipynb"]["path"], as_version=4)
    assert [c.name for c in read_findings(nb)] == ["drill duplicates", "drill stale-backup"]
    # freshness: the runbook of the passed drill, from the newest scorecard
    later = archive_scorecard([passed], archive=archive, profile="sandbox-2", clock=lambda: next(ticks))
    fresh = last_rehearsed(archive.manifest())
    assert set(fresh) == {"data-quality"}
    assert fresh["data-quality"].profile == "sandbox-2" and fresh["data-quality"].scorecard_id == later.id
    assert fresh["data-quality"].run_id == "dq1" and fresh["data-quality"].when == later.end
    assert json.loads(json.dumps(fresh["data-quality"].to_dict()))["scenario"] == "duplicates"
