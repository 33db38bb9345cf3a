"""Maintenance library (opslib.sections.maintenance, opslib.sections.certificates) against real servers: the sandbox's
embedded PostgreSQL (PostgreSQL 18, pg_stat_statements preloaded), the machine's PostgreSQL
(``system_postgres``), moto's ACM over HTTP, PEM files and a local TLS socket."""
from __future__ import annotations

import os
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from opslib.sections import certificates, maintenance
from opslib.actions import apply
from opslib.actions.sql import plan_create_index, plan_vacuum
from opslib.config import Profile, load_profile
from opslib.errors import ParameterError
from opslib.runner.archive import LocalArchive
from opslib.sandbox import sql
from opslib.sandbox.seed_aws import self_signed_certificate

from conftest import TEST_NOW

PG_URL_ENV = "OPSLIB_TEST_PG_URL"


# -- certificates --------------------------------------------------------------------------------------
def write_cert(folder: Path, name: str, days_left: float, cn: str = "api.analytics.company.com") -> tuple[Path, Path]:
    cert, key = self_signed_certificate(cn, TEST_NOW + timedelta(days=days_left), TEST_NOW - timedelta(days=300))
    (folder / f"{name}.crt").write_bytes(cert)
    (folder / f"{name}.key").write_bytes(key)
    return folder / f"{name}.crt", folder / f"{name}.key"


class TlsServer:
    """A TLS socket on 127.0.0.1 presenting one certificate (accepts handshakes until closed)."""

    def __init__(self, cert: Path, key: Path):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            try:
                with self.ctx.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1)
            except (ssl.SSLError, OSError):
                continue

    def close(self) -> None:
        self.stop.set()
        self.thread.join(2)
        self.sock.close()


@pytest.fixture
def tls_server(tmp_path):
    servers = []

    def start(days_left: float) -> TlsServer:
        cert, key = write_cert(tmp_path, f"tls{len(servers)}", days_left, cn="tls.test.local")
        servers.append(TlsServer(cert, key))
        return servers[-1]
    yield start
    for s in servers:
        s.close()


@pytest.mark.parametrize("days_left, status", [(75, "ok"), (29.5, "warn"), (14.5, "warn"), (13.5, "fail"),
                                              (10, "fail"), (-2, "fail")])
def test_pem_expiry_thresholds(tmp_path, days_left, status):
    path, _ = write_cert(tmp_path, "api", days_left)
    s = certificates.pem_expiry(path, now=TEST_NOW)
    assert s.days_left == pytest.approx(days_left, abs=0.01)
    assert s.subject == "api.analytics.company.com"
    [check] = certificates.certificate_checks([s], warn_days=30, fail_days=14)
    assert check.status == status
    assert ("EXPIRED" in check.detail) == (days_left < 0)
    assert certificates.certificate_checks([s], warn_days=5, fail_days=0)[0].status == ("fail" if days_left < 0 else "ok")


def test_unreadable_pem_fails_and_an_unreadable_one_is_unknown(tmp_path):
    (tmp_path / "bad.crt").write_text("not a certificate")
    rows = certificates.collect(now=TEST_NOW, pem_paths=[tmp_path / "bad.crt", tmp_path / "missing.crt"])
    assert [(r.error is not None, r.unknown) for r in rows] == [(True, False), (True, True)]
    checks = certificates.certificate_checks(rows)
    assert [c.status for c in checks] == ["fail", "unknown"] and checks[1].detail.startswith("unknown")
    with pytest.raises(certificates.CertificateError, match="not a PEM certificate"):
        certificates.pem_expiry(tmp_path / "bad.crt", now=TEST_NOW)


def test_settings_thresholds_from_the_profile_and_named_files_must_exist(tmp_path):
    profile = load_profile("sandbox")
    cfg = certificates.settings(profile)
    assert (cfg.warn_days, cfg.fail_days, cfg.pem_paths, cfg.endpoints) == (30, 14, (), ())
    tight = profile.model_copy(update={"certificates": profile.certificates.model_copy(
        update={"warn_days": 60, "fail_days": 20, "pem_paths": [str(tmp_path / "gone.crt")]})})
    with pytest.raises(ParameterError) as err:                   # named by the profile, not there
        certificates.settings(tight)
    assert err.value.name == "certificates.pem_paths" and err.value.value == str(tmp_path / "gone.crt")
    path, _ = write_cert(tmp_path, "here", 40)
    with pytest.raises(ParameterError) as err:                   # named by the parameter, not there
        certificates.settings(profile, pem_paths=[str(path), str(tmp_path / "missing.crt")])
    assert err.value.name == "pem_paths" and "missing.crt" in str(err.value)
    cfg = certificates.settings(profile, pem_paths=str(path), tls_endpoints=["api.example.com", "h:8443"],
                                warn_days=45)
    assert (cfg.warn_days, cfg.fail_days, cfg.pem_paths, cfg.endpoints) == (
        45, 14, (str(path),), ("api.example.com:443", "h:8443"))
    for bad in ({"warn_days": -1}, {"fail_days": 40}, {"tls_endpoints": "h:443"}, {"tls_endpoints": ["h:x"]},
                {"pem_paths": 3}):
        with pytest.raises(ParameterError) as err:
            certificates.settings(profile, **bad)
        assert err.value.name == next(iter(bad))


def test_tls_endpoint_expiry_read_without_verification(tls_server):
    expiring, expired = tls_server(20), tls_server(-3)
    a = certificates.endpoint_expiry("127.0.0.1", expiring.port, now=TEST_NOW)
    assert (a.kind, a.subject, a.source) == ("endpoint", "tls.test.local", f"127.0.0.1:{expiring.port}")
    assert a.days_left == pytest.approx(20, abs=0.01) and a.status() == "warn"
    rows = certificates.collect(now=TEST_NOW, endpoints=[f"127.0.0.1:{expired.port}"])
    assert rows[0].days_left == pytest.approx(-3, abs=0.01)
    assert certificates.certificate_checks(rows)[0].status == "fail"


def test_unreachable_endpoint_is_unknown_not_a_failure():
    with socket.create_server(("127.0.0.1", 0)) as s:
        port = s.getsockname()[1]          # closed below: nothing listens there
    t0 = time.monotonic()
    rows = certificates.collect(now=TEST_NOW, endpoints=[f"127.0.0.1:{port}"], timeout=2)
    assert time.monotonic() - t0 < 5
    assert rows[0].error and "cannot read the certificate" in rows[0].error and rows[0].status() == "unknown"
    [check] = certificates.certificate_checks(rows)
    assert check.status == "unknown" and check.detail.startswith("unknown (not measurable)")
    assert certificates.parse_endpoint("api.example.com") == ("api.example.com", 443)


def test_https_health_urls_are_the_endpoints(ops):
    https = ops.profile.model_copy(update={"services": [
        s.model_copy(update={"health_url": f"https://{s.name}.example.test:8443/health"}) if s.role == "ingest" else s
        for s in ops.profile.services]})
    view = type(ops)(https, sandbox=ops.sandbox, session=ops.session)
    ingest = [s.name for s in https.services_with_role("ingest")]
    assert certificates.health_endpoints(view) == [f"{n}.example.test:8443" for n in ingest]
    assert certificates.health_endpoints(ops) == []             # the sandbox's health URLs are plain http


def test_listener_certificates_from_acm_are_healthy(ops, sandbox):
    statuses = certificates.profile_statuses(ops, certificates.settings(ops.profile), now=ops.now())
    assert [s.kind for s in statuses] == ["acm"]                 # no file looked for, no https health URL
    [acm] = statuses
    assert acm.days_left == pytest.approx(75, abs=0.01) and acm.subject == ops.profile.dns.record
    assert acm.arn.startswith("arn:aws:acm:") and acm.acm_type == "IMPORTED"
    assert len(acm.used_by) == 1 and acm.used_by[0].endswith(":443")
    assert [c.status for c in certificates.certificate_checks(statuses)] == ["ok"]
    assert len(certificates.renewal_plan(statuses)) == 0


def test_unreadable_load_balancers_are_unknown(ops):
    from botocore.exceptions import ClientError

    class Denied:
        def get_paginator(self, name):
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, name)
    [row] = certificates.listener_expiry(Denied(), ops.client("acm"), now=ops.now(), region="us-east-1")
    assert row.status() == "unknown" and "AccessDenied" in row.error
    assert certificates.certificate_checks([row])[0].status == "unknown"


def test_renewal_plan_shows_the_runbook_commands(ops, tmp_path):
    later = ops.now() + timedelta(days=60)                       # 15 days left then
    acm = certificates.listener_expiry(ops.client("elbv2"), ops.client("acm"), now=later)
    path, _ = write_cert(tmp_path, "api", -1)
    files = certificates.collect(now=TEST_NOW, pem_paths=[path])
    plan = certificates.renewal_plan(acm + files, ops=ops)
    assert len(plan) == 2
    acm_cmds, file_cmds = plan.steps[0].commands, plan.steps[1].commands
    assert "certbot renew --nginx" in acm_cmds
    assert any(c.startswith(f"aws acm import-certificate --certificate-arn {acm[0].arn}") for c in acm_cmds)
    [listener] = certificates.listeners_using(ops.client("elbv2"), acm[0].arn)
    assert any(c.startswith(f"aws elbv2 add-listener-certificates --listener-arn {listener}") for c in acm_cmds)
    assert file_cmds[0] == f"openssl x509 -enddate -noout -in {path}" and plan.steps[1].why == "expired"
    assert "certbot renew --nginx" in plan.to_text() and "<li>" in plan._repr_html_()


# -- pg_stat_statements not created in the database ---------------------------------------------------
def test_without_pg_stat_statements_explains_instead_of_failing(ops, healthy_sandbox):
    """The embedded server preloads the extension; without CREATE EXTENSION in the database the check
    explains how to enable it instead of failing."""
    with ops.database.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("DROP EXTENSION pg_stat_statements")
    status = maintenance.statements_status(ops.database)
    assert not status.usable and status.available and status.preloaded and not status.created
    assert "CREATE EXTENSION" in status.reason
    for needle in ("shared_preload_libraries", "parameter group", "CREATE EXTENSION pg_stat_statements"):
        assert needle in status.explanation and needle in status._repr_markdown_()
    frame = maintenance.slow_statements(ops.database, status)
    assert frame.empty and list(frame.columns) == ["query", "calls", "mean_ms", "total_ms", "rows"]
    check = maintenance.slow_statement_check(frame, status)
    assert check.status == "warn" and "not measurable" in check.detail


# -- indexes ---------------------------------------------------------------------------------------------
def test_missing_index_found_then_created_concurrently(ops, tmp_path):
    db = ops.database
    before = maintenance.index_coverage(db)
    assert not before.present
    where = maintenance.default_index_cutoff(TEST_NOW, 7)
    assert where == "event_timestamp > '2026-11-18 12:00:00'"
    plan = plan_create_index(ops, "idx_events_user_timestamp", "events", ["user_id", "event_timestamp"], where=where)
    assert "CREATE INDEX CONCURRENTLY" in plan.commands
    try:
        result = apply(plan, dry_run=False, ops=ops, audit_dir=str(tmp_path), audit_database=False)
        assert result.status == "applied"
        after = maintenance.index_coverage(db)
        assert after.covered_by == ["idx_events_user_timestamp"]
        assert maintenance.index_checks(after, maintenance.unused_indexes(db), timedelta(0))[0].status == "ok"
    finally:
        with db.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("DROP INDEX CONCURRENTLY IF EXISTS idx_events_user_timestamp")
    assert not maintenance.index_coverage(db).present


def test_unused_indexes_are_evidence_only_after_a_week(ops):
    db = ops.database
    unused = maintenance.unused_indexes(db)
    assert "idx_events_platform" in set(unused["indexname"])
    assert not any(n.endswith("_pkey") for n in unused["indexname"])
    window = maintenance.stats_window(db)
    assert timedelta(0) <= window < timedelta(days=7)
    coverage = maintenance.index_coverage(db)
    young = maintenance.index_checks(coverage, unused, window)
    assert [c.status for c in young] == ["warn", "ok"] and "not yet evidence" in young[1].detail
    old = maintenance.index_checks(coverage, unused, timedelta(days=30))[1]
    assert old.status == "warn" and "idx_events_platform" in old.detail and old.figures["bytes"] > 0


# -- vacuum --------------------------------------------------------------------------------------------
def test_vacuum_runs_outside_a_transaction_and_shows_in_the_runbook_view(ops, tmp_path):
    """A SHARE lock held by another session makes VACUUM wait, long enough to watch it in pg_stat_activity."""
    db = ops.database
    plan = plan_vacuum(ops, "events")
    before = plan.changes[0].current
    blocker = db.connect()
    blocker.exec_driver_sql("BEGIN; LOCK TABLE events IN SHARE MODE")
    outcome = {}
    worker = threading.Thread(target=lambda: outcome.update(result=apply(
        plan, dry_run=False, ops=ops, audit_dir=str(tmp_path), audit_database=False)))
    worker.start()
    try:
        seen = pd.DataFrame()
        for _ in range(50):
            seen = maintenance.long_running_queries(db, like="VACUUM%")
            if len(seen):
                break
            time.sleep(0.1)
        assert len(seen) == 1, "VACUUM never appeared in pg_stat_activity"
        row = seen.iloc[0]
        assert row["query"].startswith("VACUUM ANALYZE") and row["wait_event_type"] == "Lock"
        assert row["duration"] >= timedelta(0)
        assert list(maintenance.vacuum_progress(db).columns)[:3] == ["pid", "table", "phase"]
    finally:
        blocker.rollback()
        blocker.close()
        worker.join(30)
    assert outcome["result"].status == "applied"
    status = maintenance.vacuum_status(db, ["events"])
    assert status.loc[0, "last_vacuum"] is not None and str(status.loc[0, "last_vacuum"]) != str(before)
    assert maintenance.long_running_queries(db, like="VACUUM%").empty


def test_vacuum_check_flags_dead_rows():
    frame = pd.DataFrame({"table": ["events", "error_logs"], "live_rows": [7000, 10], "dead_rows": [3000, 90],
                          "dead_ratio": [0.3, 0.9]})
    [check] = maintenance.vacuum_checks(frame)
    assert check.status == "warn" and "events 30%" in check.detail and "error_logs" not in check.detail
    assert maintenance.vacuum_checks(frame.assign(dead_ratio=[0.05, 0.9], dead_rows=[10, 90]))[0].status == "ok"


# -- weekly tasks --------------------------------------------------------------------------------------
def entry(notebook: str, start: datetime, status: str = "ok") -> dict:
    return {"id": f"{notebook}-{start:%H%M%S}", "notebook": notebook, "start": start.isoformat(), "status": status}


def test_weekly_tasks_last_run_from_the_archive(tmp_path):
    archive = LocalArchive(tmp_path / "runs")
    archive.append_manifest(entry("system-overview", TEST_NOW - timedelta(days=9)))
    archive.append_manifest(entry("performance-tuning", TEST_NOW - timedelta(days=2), "warn"))
    archive.append_manifest(entry("disaster-recovery", TEST_NOW - timedelta(days=8)))
    archive.append_manifest(entry("disaster-recovery", TEST_NOW - timedelta(days=1), "error"))   # crashed: not done
    frame = maintenance.weekly_tasks(maintenance.archive_entries(str(tmp_path / "runs")), now=TEST_NOW)
    assert list(frame["task"]) == ["Capacity Review", "Security Updates", "Backup Verification"]
    assert list(frame["last notebook"].fillna("-")) == ["performance-tuning", "-", "disaster-recovery"]
    assert list(frame["age days"].fillna(-1)) == [2.0, -1, 8.0]
    checks = maintenance.weekly_task_checks(frame)
    assert [c.status for c in checks] == ["ok", "warn", "warn"]
    assert "never run" in checks[1].detail and "due every 7 days" in checks[2].detail
    assert maintenance.archive_entries(str(tmp_path / "nothing-here")) == []


# -- the machine's PostgreSQL with pg_stat_statements ---------------------------------------------------
@dataclass
class _Config:
    dir: Path
    database_url: str
    seed: int = 42


@dataclass
class SystemDb:
    """What opslib.sandbox.sql needs to seed a database on another server from the session's warehouse."""
    config: _Config
    now: datetime
    profile: Profile
    warehouse_path: Path
    pg: object = None


def system_pg_url() -> str:
    url = os.environ.get(PG_URL_ENV)
    if not url:
        pytest.skip(f"{PG_URL_ENV} is not set: run the tests through .ci/run, which starts this machine's "
                    "PostgreSQL with pg_stat_statements")
    return url


@pytest.fixture(scope="module")
def system_db(sandbox, tmp_path_factory):
    """A database ``opslib_test_maint_<pid>`` on the machine's server, seeded like the sandbox's."""
    base = sa.make_url(system_pg_url())
    name = f"opslib_test_maint_{os.getpid()}"
    db = SystemDb(_Config(tmp_path_factory.mktemp("sysdb"), base.set(database=name).render_as_string(False)),
                  sandbox.now, load_profile("sandbox"), sandbox.warehouse_path)
    sql.start_database(db)
    sql.seed_database(db)
    yield db
    sql.stop_database(db)
    admin = sa.create_engine(base.set(database="postgres"), poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture(params=[pytest.param("embedded", marks=pytest.mark.sandbox),
                        pytest.param("system", marks=pytest.mark.system_postgres)])
def stats_db(request):
    """A seeded analytics database with pg_stat_statements: the sandbox's embedded server (reset after
    the test) and, with .ci/run, the machine's PostgreSQL."""
    if request.param == "system":
        yield request.getfixturevalue("system_db")
        return
    sb = request.getfixturevalue("sandbox")
    yield sb
    sb.reset()


def test_slow_statements_from_pg_stat_statements(stats_db):
    system_db = stats_db
    engine = system_db.pg.engine
    status = maintenance.statements_status(engine)
    assert status.usable and status.mean_column == "mean_exec_time" and status.server_version >= 130000
    assert "enabled" in status._repr_markdown_()
    assert maintenance.slow_statements(engine, status).empty
    assert maintenance.slow_statement_check(maintenance.slow_statements(engine, status), status).status == "ok"
    sql.slow_queries(system_db)
    slow = maintenance.slow_statements(engine, status)
    assert len(slow) == 3 and (slow["mean_ms"] > 1000).all() and (slow["calls"] == 1).all()
    assert all("pg_sleep" in q for q in slow["query"]) and slow["mean_ms"].is_monotonic_decreasing
    check = maintenance.slow_statement_check(slow, status)
    assert check.status == "fail" and check.figures["slow"] == 3
    sql.seed_database(system_db)                  # resets this database's statistics
    assert maintenance.slow_statements(engine).empty


def test_extension_preloaded_but_not_created_is_explained(stats_db):
    engine = stats_db.pg.engine
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("DROP EXTENSION pg_stat_statements")
    try:
        status = maintenance.statements_status(engine)
        assert status.available and status.preloaded and not status.created and not status.usable
        assert "CREATE EXTENSION" in status.reason
        assert maintenance.slow_statement_check(maintenance.slow_statements(engine, status), status).status == "warn"
    finally:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    assert maintenance.statements_status(engine).usable
