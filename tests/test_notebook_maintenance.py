"""Drills: the Performance Tuning and Maintenance notebooks run headless (``runbook run``) against the
sandbox; each fault is found by its check, and the healthy sandbox passes. The sandbox's embedded
PostgreSQL preloads pg_stat_statements; the maintenance notebook also runs against this machine's
PostgreSQL through a profile (``system_postgres``)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest

import golden
from runbook_cli import Runbook
from test_maintenance import TlsServer, system_db, system_pg_url, write_cert  # noqa: F401 (fixture)

from opslib.drills import DRILLS, judge
from opslib.sandbox import sql

pytestmark = pytest.mark.slow
PARAMETERS = Path(__file__).parent.parent / "parameters"


def start(notebook: str, archive: Path, *params: str, profile: str | None = None) -> Runbook:
    return Runbook("run", notebook, "--archive", str(archive), "--json", *[x for p in params for x in ("-p", p)],
                   *(["--profile", profile] if profile else []))


def finish(proc: Runbook) -> tuple[int, dict]:
    out, err = proc.communicate(timeout=300)
    assert out.strip(), err
    return proc.returncode, json.loads(out)


def run(notebook: str, archive: Path, *params: str, profile: str | None = None) -> tuple[int, dict]:
    return finish(start(notebook, archive, *params, profile=profile))


def statuses(entry: dict) -> dict[str, str]:
    return {c["name"]: c["status"] for c in entry["findings"]}


def output_text(entry: dict) -> str:
    nb = nbformat.read(entry["files"]["ipynb"]["path"], as_version=4)
    return json.dumps([c.get("outputs", []) for c in nb.cells])


@pytest.mark.golden
def test_healthy_sandbox_passes(sandbox, healthy_runs, nb_regression):
    """The healthy runs with defaults are the shared ones (``healthy_runs``): performance-tuning, then
    maintenance in the same archive (its weekly capacity review is that run)."""
    runs = healthy_runs.get("performance-tuning", "maintenance")
    assert runs["performance-tuning"].archive == runs["maintenance"].archive
    code, perf = runs["performance-tuning"].rc, runs["performance-tuning"].entry
    assert code == 0, perf.get("error")
    assert statuses(perf) == {"api-latency-p99": "ok", "api-settings": "ok", "db-connections": "ok",
                              "slow-statements": "ok", "stream-batch-setting": "ok"}
    assert "is not usable here" not in output_text(perf)             # the embedded server has pg_stat_statements
    code, maint = runs["maintenance"].rc, runs["maintenance"].entry  # same archive: the capacity review just ran
    assert code == 0, maint.get("error")
    found = statuses(maint)
    assert "fail" not in found.values()
    assert found["weekly-capacity-review"] == "ok"
    assert found["weekly-security-updates"] == found["weekly-backup-verification"] == "warn"   # never run here
    assert found["slow-statements"] == "ok"                          # pg_stat_statements on the embedded server
    assert found["index-user-timestamp"] == "warn"                   # the runbook's index is missing until created
    certs = {k: v for k, v in found.items() if k.startswith("certificate ")}
    assert list(certs.values()) == ["ok"] and next(iter(certs)).startswith("certificate acm ")   # the ALB's, via ACM
    assert found["unused-indexes"] == found["vacuum"] == "ok"
    text = output_text(maint)
    assert "is not usable here" not in text and "CREATE INDEX CONCURRENTLY" in text
    assert "PLANNED" in text and "nothing to renew" in text
    golden.check(nb_regression, perf)
    golden.check(nb_regression, maint)


def test_drill_slow_queries(healthy_sandbox, tmp_path):
    injected = healthy_sandbox.inject("slow-queries")
    code, entry = run("performance-tuning", tmp_path / "runs")
    assert code == 1, entry.get("error")
    verdict = judge(DRILLS["slow-queries"].expect("performance-tuning"), entry, injected)
    assert verdict.detected, verdict.problem
    found = statuses(entry)
    assert found["api-latency-p99"] == "fail"
    latency = next(c for c in entry["findings"] if c["name"] == "api-latency-p99")
    assert latency["figures"]["p99_median_ms"] == pytest.approx(240)
    assert found["db-connections"] == "ok"
    assert found["slow-statements"] == "fail"


def test_drill_slow_queries_maintenance_names_the_statements(healthy_sandbox, tmp_path):
    """On the default sandbox (embedded PostgreSQL 18 with pg_stat_statements preloaded) the fault's
    statements are real, slow and recorded; the maintenance runbook names them."""
    injected = healthy_sandbox.inject("slow-queries")
    assert len(injected["statements"]["queries"]) == 3 and injected["statements"]["pg_stat_statements"]
    code, entry = run("maintenance", tmp_path / "runs")
    assert code == 1, entry.get("error")
    check = next(c for c in entry["findings"] if c["name"] == "slow-statements")
    assert check["status"] == "fail" and check["figures"]["slow"] == 3 and check["figures"]["pg_stat_statements"]
    assert check["figures"]["worst_mean_ms"] > 1000 and "FROM events" in check["detail"]
    text = output_text(entry)
    assert "mean_exec_time" in text, text[:3000]
    assert "is not usable" not in text, text[text.index("is not usable") - 1500:text.index("is not usable") + 500]


def test_drill_connection_exhaustion(healthy_sandbox, tmp_path):
    injected = healthy_sandbox.inject("connection-exhaustion")
    code, entry = run("performance-tuning", tmp_path / "runs")
    assert code == 1, entry.get("error")
    verdict = judge(DRILLS["connection-exhaustion"].expect("performance-tuning"), entry, injected)
    assert verdict.detected, verdict.problem
    found = statuses(entry)
    assert found["db-connections"] == "fail" and found["api-latency-p99"] == "ok"
    check = next(c for c in entry["findings"] if c["name"] == "db-connections")
    assert check["figures"]["ratio"] >= 0.8 and check["figures"]["max_connections"] == 100
    # one source: the metric's peak is the connections held now, against the same max_connections
    held = injected["connections"]["in_use"]
    assert check["figures"]["metric_peak"] == held and check["figures"]["ratio"] == pytest.approx(held / 100, abs=0.02)
    assert "pg_stat_activity" in check["detail"] and "CloudWatch DatabaseConnections" in check["detail"]


def test_drill_expiring_certificate(healthy_sandbox, tmp_path):
    """The API certificate the ALB's HTTPS listener serves has 10 days left: under the profile's fail_days
    (14), so the default run fails naming it, and no PEM file is looked for. Named, the sandbox's PEM copy
    fails too, and a TLS endpoint serving an expired certificate fails."""
    injected = healthy_sandbox.inject("expiring-certificate")
    record = healthy_sandbox.profile.dns.record
    code, entry = run("maintenance", tmp_path / "runs")
    assert code == 1, entry.get("error")
    certs = {c["name"]: c for c in entry["findings"] if c["name"].startswith("certificate ")}
    [(name, acm)] = certs.items()
    assert name == f"certificate acm acm:{injected['certificate_arn'].rsplit('/', 1)[-1]}"
    assert acm["status"] == "fail" and record in acm["detail"] and ":443" in acm["detail"]
    assert acm["figures"]["days_left"] == pytest.approx(10)
    text = output_text(entry)
    assert "certbot renew --nginx" in text and "aws acm import-certificate" in text
    assert "add-listener-certificates --listener-arn arn:" in text

    cert, key = write_cert(tmp_path, "endpoint", -2, cn="api.analytics.company.com")
    server = TlsServer(cert, key)
    try:
        code, entry = run("maintenance", tmp_path / "runs", f'pem_paths=["{injected["pem"]}"]',
                          f'tls_endpoints=["127.0.0.1:{server.port}"]')
    finally:
        server.close()
    assert code == 1, entry.get("error")
    by_kind = {c["name"].split()[1]: c for c in entry["findings"] if c["name"].startswith("certificate ")}
    assert set(by_kind) == {"file", "endpoint", "acm"}
    assert by_kind["file"]["status"] == by_kind["acm"]["status"] == "fail"
    assert by_kind["file"]["figures"]["days_left"] == pytest.approx(10) == by_kind["acm"]["figures"]["days_left"]
    assert injected["pem"] in by_kind["file"]["name"]
    assert by_kind["endpoint"]["status"] == "fail" and "EXPIRED" in by_kind["endpoint"]["detail"]


@pytest.mark.system_postgres
def test_maintenance_on_system_postgres_finds_slow_statements(sandbox, system_db, tmp_path):
    """A profile copy whose database is the machine's PostgreSQL (pg_stat_statements preloaded)."""
    folder = tmp_path / "profiles"
    folder.mkdir()
    shutil.copy(PARAMETERS / "_common.yaml", folder)
    text = (PARAMETERS / "sandbox.yaml").read_text()
    line = 'database: {url: "${ANALYTICS_DB_URL:-sandbox}", dialect_hint: postgresql}'
    assert line in text
    (folder / "system-pg.yaml").write_text(text.replace(
        line, f'database: {{url: "{system_db.config.database_url}", dialect_hint: postgresql}}'))
    sql.slow_queries(system_db)
    try:
        code, entry = run("maintenance", tmp_path / "runs", profile=str(folder / "system-pg.yaml"))
    finally:
        sql.seed_database(system_db)
    assert code == 1, entry.get("error")
    check = next(c for c in entry["findings"] if c["name"] == "slow-statements")
    assert check["status"] == "fail" and check["figures"]["slow"] == 3 and check["figures"]["pg_stat_statements"]
    assert "FROM events" in check["detail"]
    text = output_text(entry)
    assert "mean_exec_time" in text and "is not usable" not in text
