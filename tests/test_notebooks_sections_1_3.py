"""Runbook sections 1-3 headless on the sandbox: quiet on a healthy pipeline (and equal to their golden
outputs), and each drill is detected by the runbook written for it, judged by the drill definitions of
opslib.drills. The api-down drill runs through `runbook drill` itself: scorecard and rehearsal freshness."""
from __future__ import annotations

import json

import pytest

import golden
import runbook_cli
from runbook_cli import figures, findings, finish, output_notebook, run, start

from opslib.drills import DRILLS, judge

pytestmark = pytest.mark.slow
NOTEBOOKS = ("system-overview", "critical-services", "monitoring-alerts")


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    return tmp_path_factory.mktemp("archive")


def runbook(*args: str) -> tuple[int, str, str]:
    proc = runbook_cli.runbook(*args)
    return proc.returncode, proc.stdout, proc.stderr


def drilled(drill: str, notebook: str, entry: dict, injected: dict):
    """The drill's verdict on this run, asserted detected."""
    verdict = judge(DRILLS[drill].expect(notebook), entry, injected)
    assert verdict.detected, verdict.problem
    return verdict


@pytest.mark.golden
def test_healthy_sandbox_every_check_ok_and_charts_in_the_html(sandbox, archive, nb_regression):
    procs = {name: start(name, archive) for name in NOTEBOOKS}
    for name, proc in procs.items():
        rc, entry = finish(proc)
        bad = {k: v["detail"] for k, v in findings(entry).items() if v["status"] != "ok"}
        assert rc == 0 and entry["status"] == "ok" and not bad, f"{name}: {bad}"
        html = open(entry["files"]["html"]["path"], encoding="utf-8").read()
        assert html.count("Plotly.newPlot") == len(figures(entry)) > 0, name
        golden.check(nb_regression, entry)


def test_api_down_drill_through_runbook_drill(sandbox, archive):
    """`runbook drill api-down` on the session sandbox: its runbooks fail loudly, the scorecard is archived,
    and `runbook list` shows when each was rehearsed."""
    rc, out, err = runbook("drill", "api-down", "--archive", str(archive), "--json")
    assert not sandbox.faults.active                                  # reset after the drill
    assert rc == 0, err[-3000:]
    report = json.loads(out)
    [result] = report["drills"]
    assert result["detected"] and [r["notebook"] for r in result["runbooks"]] == DRILLS["api-down"].notebooks
    entries = {e["id"]: e for e in map(json.loads, open(archive / "manifest.jsonl"))}
    runs = {r["notebook"]: entries[r["run_id"]] for r in result["runbooks"]}
    assert {e["job"] for e in runs.values()} == {"drill:api-down"}

    checks = findings(runs["critical-services"])
    assert runs["critical-services"]["exit_code"] == 1 and checks["service-ingestion-api"]["status"] == "fail"
    assert "no running tasks" in checks["service-ingestion-api"]["detail"]
    assert all(c["status"] == "ok" for n, c in checks.items() if n != "service-ingestion-api")
    alerts = findings(runs["monitoring-alerts"])
    assert runs["monitoring-alerts"]["exit_code"] == 1 and alerts["alert-api-down"]["status"] == "fail"
    assert "would page" in alerts["alert-api-down"]["detail"]
    assert alerts["alert-api-down"]["figures"]["windows"]             # the window that triggered it

    card = report["scorecard"]
    assert card["notebook"] == "drill-scorecard" and card["status"] == "ok" and entries[card["id"]]["exit_code"] == 0
    html = open(card["files"]["html"]["path"], encoding="utf-8").read()
    for e in runs.values():                                          # evidence links, relative to the archive
        assert f"{e['id']}.html" in html
    table = next(o for c in output_notebook(card).cells for o in c.get("outputs", []) if "text/html" in o.get("data", {}))
    assert table["data"]["text/html"].count(">yes<") == 3
    rc, out, _ = runbook("runs", "verify", card["id"], "--archive", str(archive))
    assert rc == 0

    rc, out, err = runbook("list", "--json", "--archive", str(archive))
    assert rc == 0, err
    listed = {n["name"]: n["last_rehearsed"] for n in json.loads(out)}
    for name, e in runs.items():
        assert listed[name]["scenario"] == "api-down" and listed[name]["run_id"] == e["id"]
        assert listed[name]["profile"] == "sandbox" and listed[name]["when"] == card["end"]
    assert listed["data-quality"] is None
    rc, out, _ = runbook("list", "--archive", str(archive))
    assert "last rehearsed: " + card["end"][:19] + "Z on sandbox (drill api-down" in out


def test_high_error_rate_drill(healthy_sandbox, archive):
    injected = healthy_sandbox.inject("high-error-rate")
    rc, monitoring = run("monitoring-alerts", archive)
    drilled("high-error-rate", "monitoring-alerts", monitoring, injected)
    alerts = findings(monitoring)
    assert rc == 1 and alerts["alert-high-error-rate"]["status"] == "fail"
    assert alerts["alert-api-down"]["status"] == "ok"   # health checks still pass
    assert alerts["dashboard-error-rate"]["status"] == "warn"


def test_stream_backup_drill_pages_and_the_lag_chart_crosses_its_target(healthy_sandbox, archive):
    injected = healthy_sandbox.inject("stream-backup")
    rc, monitoring = run("monitoring-alerts", archive)
    drilled("stream-backup", "monitoring-alerts", monitoring, injected)
    alerts = findings(monitoring)
    assert rc == 1 and alerts["alert-stream-backup"]["status"] == "fail"
    lag = next(f for f in figures(monitoring) if "lag" in f["layout"]["title"]["text"].lower())
    target = lag["layout"]["shapes"][0]["y0"]
    values = [v for v in lag["data"][0]["y"] if v is not None and v == v]   # drop gaps
    assert target == 30 and max(values) > target and min(values) < target


def test_region_outage_shows_in_the_overview_dr_section(healthy_sandbox, archive):
    injected = healthy_sandbox.inject("region-outage")
    rc, overview = run("system-overview", archive)
    drilled("region-outage", "system-overview", overview, injected)
    dr = findings(overview)["dr-readiness"]
    assert rc == 1 and dr["status"] == "fail"
    assert dr["figures"]["primary_out"] is True and dr["figures"]["dr_ready"] is True
    assert "us-east-1 is down" in dr["detail"] and "us-west-2 is ready" in dr["detail"]
