"""Runbook sections 1-3 headless on the sandbox: quiet on a healthy pipeline, and each drill is
detected by the runbook written for it."""
from __future__ import annotations

import pytest

from runbook_cli import figures, findings, finish, run, start

pytestmark = pytest.mark.slow
NOTEBOOKS = ("system-overview", "critical-services", "monitoring-alerts")


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    return tmp_path_factory.mktemp("archive")


def test_healthy_sandbox_every_check_ok_and_charts_in_the_html(sandbox, archive):
    procs = {name: start(name, archive) for name in NOTEBOOKS}
    for name, proc in procs.items():
        rc, entry = finish(proc)
        bad = {k: v["detail"] for k, v in findings(entry).items() if v["status"] != "ok"}
        assert rc == 0 and entry["status"] == "ok" and not bad, f"{name}: {bad}"
        html = open(entry["files"]["html"]["path"], encoding="utf-8").read()
        assert html.count("Plotly.newPlot") == len(figures(entry)) > 0, name


def test_api_down_drill(healthy_sandbox, archive):
    healthy_sandbox.inject("api-down")
    rc, services = run("critical-services", archive)
    checks = findings(services)
    assert rc == 1 and checks["service-ingestion-api"]["status"] == "fail"
    assert "no running tasks" in checks["service-ingestion-api"]["detail"]
    assert all(c["status"] == "ok" for n, c in checks.items() if n != "service-ingestion-api")
    rc, monitoring = run("monitoring-alerts", archive)
    alerts = findings(monitoring)
    assert rc == 1 and alerts["alert-api-down"]["status"] == "fail" and "would page" in alerts["alert-api-down"]["detail"]
    assert alerts["alert-api-down"]["figures"]["windows"]   # the window that triggered it


def test_high_error_rate_drill(healthy_sandbox, archive):
    healthy_sandbox.inject("high-error-rate")
    rc, monitoring = run("monitoring-alerts", archive)
    alerts = findings(monitoring)
    assert rc == 1 and alerts["alert-high-error-rate"]["status"] == "fail"
    assert alerts["alert-api-down"]["status"] == "ok"   # health checks still pass
    assert alerts["dashboard-error-rate"]["status"] == "warn"


def test_stream_backup_drill_pages_and_the_lag_chart_crosses_its_target(healthy_sandbox, archive):
    healthy_sandbox.inject("stream-backup")
    rc, monitoring = run("monitoring-alerts", archive)
    alerts = findings(monitoring)
    assert rc == 1 and alerts["alert-stream-backup"]["status"] == "fail"
    lag = next(f for f in figures(monitoring) if "lag" in f["layout"]["title"]["text"].lower())
    target = lag["layout"]["shapes"][0]["y0"]
    values = [v for v in lag["data"][0]["y"] if v is not None and v == v]   # drop gaps
    assert target == 30 and max(values) > target and min(values) < target


def test_region_outage_shows_in_the_overview_dr_section(healthy_sandbox, archive):
    healthy_sandbox.inject("region-outage")
    rc, overview = run("system-overview", archive)
    dr = findings(overview)["dr-readiness"]
    assert rc == 1 and dr["status"] == "fail"
    assert dr["figures"]["primary_out"] is True and dr["figures"]["dr_ready"] is True
    assert "us-east-1 is down" in dr["detail"] and "us-west-2 is ready" in dr["detail"]
