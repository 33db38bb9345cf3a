"""Preflight, the unknown status and parameter domains: unit tests, no kernel and no sandbox.

Subprocess tests call the real `runbook` CLI as a scheduler would; none of them starts a kernel."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

from opslib.aws.access import blind_reason
from opslib.config import ProfileWarning, load_profile
from opslib.errors import ParameterError, ProfileError
from opslib.findings import Check, overall_status
from opslib.notify import pagerduty_payload, slack_payload
from opslib.runner.archive import open_archive
from opslib.runner.domains import Domain, check_domains, domains_from_metadata
from opslib.runner.manifest import EXIT_CODES
from opslib.runner.preflight import needs_of, preflight
from opslib.sections.services import service_checks

PARAMETERS = Path(__file__).parent.parent / "parameters"
CLI = [sys.executable, "-c", "from opslib.cli import run; run()"]


def no_aws_env(tmp_path) -> dict:
    """The environment of a host with no AWS credentials at all (no files, no variables, no instance role)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "OPSLIB_SANDBOX_DIR"}
    env.update(AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"), AWS_CONFIG_FILE=str(tmp_path / "none"),
               AWS_EC2_METADATA_DISABLED="true")
    return env


def client_error(code: str, status: int = 400) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, "DescribeServices")


# -- reads that could not see ---------------------------------------------------------------------------
def test_blind_reason_separates_access_from_answers():
    assert blind_reason(NoCredentialsError()) == "credentials"
    assert blind_reason(EndpointConnectionError(endpoint_url="http://x")) == "connectivity"
    assert blind_reason(client_error("AccessDeniedException")) == "access"
    assert blind_reason(client_error("Whatever", 403)) == "access"
    assert blind_reason(client_error("ResourceNotFoundException", 404)) is None
    assert blind_reason(client_error("ServiceUnavailable", 503)) is None
    assert blind_reason(ValueError("x")) is None


def test_unknown_ranks_between_warn_and_fail_and_exits_5():
    ok, warn, unknown, fail = Check.ok("a"), Check.warn("b"), Check.unknown("c", "could not read"), Check.fail("d")
    assert overall_status([ok, warn, unknown]) == "unknown"
    assert overall_status([unknown, fail]) == "fail"
    assert overall_status([ok, warn]) == "warn"
    assert EXIT_CODES["unknown"] == 5 and EXIT_CODES["fail"] == 1


def test_service_that_could_not_be_read_is_unknown_not_failed():
    import pandas as pd

    from opslib.sections.services import COLUMNS
    rows = [{"service": "api", "type": "ecs", "criticality": "critical", "status": "unknown",
             "detail": "could not read (access): ClientError: AccessDenied"},
            {"service": "proc", "type": "ecs", "criticality": "critical", "status": "down", "running": 0, "desired": 2,
             "detail": "no running tasks"}]
    checks = {c.name: c for c in service_checks(pd.DataFrame(rows, columns=COLUMNS))}
    assert checks["service-api"].status == "unknown" and "AccessDenied" in checks["service-api"].detail
    assert checks["service-proc"].status == "fail"


def test_blind_run_alerts_as_blind_not_down():
    entry = {"id": "r1", "notebook": "critical-services", "profile": "prod", "status": "unknown", "exit_code": 5,
             "start": "2026-11-25T12:00:00+00:00", "end": "2026-11-25T12:00:05+00:00", "job": "cs",
             "findings": [{"name": "service-api", "status": "unknown", "detail": "could not read (credentials)",
                           "figures": {}}], "files": {}}
    text = slack_payload(entry)["text"]
    assert "BLIND" in text and "not down" in text
    body = pagerduty_payload(entry, "key", "trigger")
    assert body["payload"]["class"] == "blind" and body["payload"]["severity"] == "warning"


# -- preflight probes ------------------------------------------------------------------------------------
def test_no_credentials_fails_with_what_to_do(tmp_path, monkeypatch):
    for k, v in no_aws_env(tmp_path).items():
        monkeypatch.setenv(k, v)
    for k in [k for k in os.environ if k.startswith("AWS_") and k not in no_aws_env(tmp_path)]:
        monkeypatch.delenv(k)
    prof = load_profile("prod")
    started = time.monotonic()
    report = preflight(prof, needs=["aws"], archive=open_archive(tmp_path / "runs"))
    assert time.monotonic() - started < 10
    failed = {p.name: p for p in report.failures}
    assert list(failed) == ["aws-credentials"]
    assert "no AWS credentials" in failed["aws-credentials"].detail and "aws sso login" in failed["aws-credentials"].remedy
    assert not (tmp_path / "runs").exists()          # the archive probe creates nothing


def test_database_probes_resolve_then_connect(tmp_path, monkeypatch):
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    closed = socket.create_server(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    prof = load_profile("prod")
    try:
        monkeypatch.setenv("WAREHOUSE_DB_URL", f"postgresql://ops@127.0.0.1:{port}/analytics")
        monkeypatch.setenv("ANALYTICS_DB_URL", f"postgresql://ops@127.0.0.1:{closed_port}/analytics")
        report = {p.name: p for p in preflight(prof, needs=["warehouse", "database"]).probes}
        assert report["database-warehouse"].status == "ok"
        assert report["database-database"].status == "fail" and "not reachable" in report["database-database"].detail
        monkeypatch.setenv("ANALYTICS_DB_URL", "postgresql://ops@no-such-host.invalid:5432/analytics")
        report = {p.name: p for p in preflight(prof, needs=["database"]).probes}
        assert "does not resolve" in report["database-database"].detail
        monkeypatch.delenv("ANALYTICS_DB_URL")
        report = {p.name: p for p in preflight(prof, needs=["database"]).probes}
        assert report["database-database"].status == "fail" and "ANALYTICS_DB_URL" in report["database-database"].remedy
    finally:
        listener.close()


def test_archive_probe_fails_on_a_file_and_notify_on_a_missing_webhook(tmp_path, monkeypatch):
    monkeypatch.delenv("OPSLIB_SLACK_WEBHOOK", raising=False)
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    report = {p.name: p for p in preflight(load_profile("prod"), needs=[], archive=open_archive(blocker / "runs"),
                                          notify_targets=["slack"]).probes}
    assert report["archive"].status == "fail" and report["notify"].status == "fail"
    assert "OPSLIB_SLACK_WEBHOOK" in report["notify"].detail
    report = {p.name: p for p in preflight(load_profile("prod"), needs=[], archive=open_archive(tmp_path / "ok")).probes}
    assert report["archive"].status == "ok" and list(tmp_path.joinpath().iterdir()) == [blocker]


def test_needs_follow_the_parameter_naming_the_database():
    assert needs_of(["aws", "$source"], {"source": "database"}) == ["aws", "database"]
    assert needs_of(["$source"], {}, {"source": "warehouse"}) == ["warehouse"]
    assert needs_of(["$source"], {"source": "nosuch"}) == []


# -- domains ---------------------------------------------------------------------------------------------
def test_domains_name_the_parameter_and_what_is_allowed():
    prof = load_profile("sandbox")
    domains = domains_from_metadata({"as_of": {"kind": "time"}, "window_hours": {"min": 1},
                                     "source": {"choices": ["warehouse", "database"]}, "rate": {"positive": True},
                                     "service": {"kind": "service", "type": "ecs"}, "day": {"kind": "date", "empty": True},
                                     "severity": {"kind": "severity"}, "sizes": {"min": 1}})
    good = {"as_of": "2026-11-25T06:00:00Z", "window_hours": 24, "source": "database", "rate": 0.5,
            "service": "stream-processor", "day": "", "severity": "SEV1", "sizes": [1, 10]}
    check_domains(domains, good, prof)
    bad = [("as_of", "not-a-date", "ISO time"), ("window_hours", -5, ">= 1"), ("source", "nosuch", "warehouse"),
           ("rate", 0, "> 0"), ("service", "event-validator", "ingestion-api"), ("day", "2026-13-01", "YYYY-MM-DD"),
           ("severity", "SEV9", "SEV1"), ("sizes", [1, 0], ">= 1"), ("window_hours", True, ">= 1")]
    for name, value, allowed in bad:
        with pytest.raises(ParameterError) as info:
            check_domains(domains, {name: value}, prof)
        assert info.value.name == name and allowed in info.value.allowed, (name, info.value)
    check_domains(domains, {"as_of": None}, prof, optional=["as_of"])
    with pytest.raises(ParameterError):
        Domain.from_spec("x", {"kind": "colour"})


# -- the CLI: bad values exit 2 before a kernel, nothing archived ----------------------------------------
@pytest.mark.parametrize("args, named", [
    (["run", "data-quality", "-p", "as_of=not-a-date"], "as_of"),
    (["run", "data-quality", "-p", "window_hours=-5"], "window_hours"),
    (["run", "data-quality", "-p", "window_hours=1"], "window_hours"),      # the 50% rule needs a previous hour
    (["run", "data-quality", "-p", "min_days=1"], "min_days"),
    (["run", "data-quality", "-p", "history_days=61"], "history_days"),
    (["run", "performance-tuning", "-p", "hours=100000"], "hours"),   # was a 90 s timeout reading 1-minute data
    (["run", "incident-response", "-p", "remedy=scale-apii"], "remedy"),          # the notebooks' own checks
    (["run", "security-operations", "-p", "gdpr_user_id=bad/user"], "gdpr_user_id"),
    (["run", "security-operations", "-p", 'deactivate_keys=["nope"]'], "deactivate_keys"),
    (["run", "disaster-recovery", "-p", "tolerance=1.5"], "tolerance"),
    (["run", "maintenance", "-p", "fail_days=40"], "fail_days"),      # above the profile's warn_days (30)
    (["run", "monitoring-alerts", "-p", "window_hours=361"], "window_hours"),
    (["run", "data-quality", "-p", "source=nosuch"], "source"),
    (["run", "common-operations", "-p", "service=nosuch"], "service"),
    (["run", "--all", "--jobs", "0"], "--jobs"),
    (["run", "--all", "--jobs", "-3"], "--jobs"),
    (["run", "critical-services", "--timeout", "0"], "--timeout"),
    (["run", "critical-services", "--timeout", "-1"], "--timeout"),
])
def test_bad_values_exit_2_before_any_kernel(tmp_path, args, named):
    env = dict(os.environ, OPSLIB_SANDBOX_DIR=str(tmp_path / "no-sandbox"))
    proc = subprocess.run(CLI + args + ["--archive", str(tmp_path / "runs")], capture_output=True, text=True,
                          env=env, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert named in proc.stderr
    assert not (tmp_path / "runs").exists()


def test_prod_without_credentials_exits_2_fast_with_nothing_archived(tmp_path):
    started = time.monotonic()
    proc = subprocess.run(CLI + ["run", "critical-services", "--profile", "prod", "--archive", str(tmp_path / "runs")],
                          capture_output=True, text=True, env=no_aws_env(tmp_path), timeout=60)
    assert time.monotonic() - started < 10
    assert proc.returncode == 2, proc.stderr
    assert "no AWS credentials" in proc.stderr and "aws sso login" in proc.stderr
    assert not (tmp_path / "runs").exists()


def test_doctor_prints_every_probe(tmp_path):
    env = no_aws_env(tmp_path)
    env.pop("WAREHOUSE_DB_URL", None)
    proc = subprocess.run(CLI + ["doctor", "--profile", "prod", "--archive", str(tmp_path / "runs"), "--json"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 2
    probes = {p["name"]: p["status"] for p in json.loads(proc.stdout)["probes"]}
    assert probes["aws-credentials"] == "fail" and probes["archive"] == "ok" and probes["notify"] == "ok"
    assert probes["database-warehouse"] == "fail"


# -- profiles --------------------------------------------------------------------------------------------
def _write_profile(tmp_path, text: str) -> Path:
    path = tmp_path / "elsewhere" / "mine.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_production_follows_environment(tmp_path):
    base = "extends: prod\nname: mine\n"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_profile(_write_profile(tmp_path, base)).production is True
        path = _write_profile(tmp_path, (PARAMETERS / "prod.yaml").read_text().replace("production: true\n", ""))
        assert load_profile(path).production is True        # copied elsewhere: extends _common still found
    with pytest.warns(ProfileWarning, match="NOT need a confirmation"):
        assert load_profile(_write_profile(tmp_path, base + "production: false\n")).production is False
    with pytest.warns(ProfileWarning, match="will need a confirmation"):
        assert load_profile(_write_profile(tmp_path, base + "environment: staging\nproduction: true\n")).production


def test_copied_sandbox_profile_loads_and_unknown_extends_names_the_choices(tmp_path):
    path = _write_profile(tmp_path, (PARAMETERS / "sandbox.yaml").read_text())
    assert load_profile(path).name == "sandbox"
    with pytest.raises(ProfileError, match="allowed: .*_common"):
        load_profile(_write_profile(tmp_path, "extends: nosuch\nname: x\n"))


def test_every_runbook_notebook_declares_what_it_needs():
    """The preflight checks what a notebook's metadata says it needs; none may leave it out by accident."""
    import nbformat

    from opslib.runner.catalog import discover
    notebooks = discover()
    assert notebooks
    for info in notebooks:
        meta = nbformat.read(info.path, as_version=4).metadata.get("opslib", {})
        assert "needs" in meta, info.name
        assert set(info.needs) <= {"aws", "warehouse", "database"} | {f"${p}" for p in info.parameters}, info.name
        assert set(info.domains) <= set(info.parameters), info.name      # a domain names a real parameter


def test_health_check_silence_is_not_seen_but_a_refusal_is():
    from opslib.health_checks import check
    silent = socket.create_server(("127.0.0.1", 0))            # accepts the connection, never answers
    refused = socket.create_server(("127.0.0.1", 0))
    refused_port = refused.getsockname()[1]
    refused.close()
    try:
        quiet = check(f"http://127.0.0.1:{silent.getsockname()[1]}/health", timeout=0.5)
        assert not quiet.ok and not quiet.seen
        gone = check(f"http://127.0.0.1:{refused_port}/health", timeout=0.5)
        assert not gone.ok and gone.seen and "Refused" in gone.error
    finally:
        silent.close()


def test_ecs_service_whose_health_cannot_be_reached_is_unknown_not_down(monkeypatch):
    import pandas as pd

    from opslib.sections import services
    from opslib.health_checks import HealthResult
    prof = load_profile("sandbox")
    frame = pd.DataFrame([{"desired": 2, "running": 2, "pending": 0, "deployments": 1,
                           "task_definition": "ingestion-api:7", "rollout_state": "COMPLETED"}])
    monkeypatch.setattr(services.ecs_reads, "services", lambda *a, **k: frame)

    class FakeOps:
        profile = prof

        def client(self, name):
            return None

        def health_url(self, url):
            return "http://10.0.0.1" + url

    svc = prof.service("ingestion-api")
    monkeypatch.setattr(services.health_checks, "check",
                        lambda url, timeout: HealthResult(url, False, None, 500.0, "timeout: timed out", seen=False))
    row = services._ecs_row(FakeOps(), svc, 0.5)
    assert row["status"] == "unknown" and "not reachable from here" in row["detail"]
    monkeypatch.setattr(services.health_checks, "check",
                        lambda url, timeout: HealthResult(url, False, 503, 3.0, "HTTP 503"))
    assert services._ecs_row(FakeOps(), svc, 0.5)["status"] == "down"


def test_unreachable_endpoint_fails_the_identity_probe_quickly(tmp_path, monkeypatch):
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    for k, v in no_aws_env(tmp_path).items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEEXAMPLE12")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "example/secret")
    path = tmp_path / "p.yaml"
    path.write_text(f"extends: prod\nname: p\naws:\n  endpoint_url: http://127.0.0.1:{port}\n  connect_timeout: 1\n")
    started = time.monotonic()
    report = preflight(load_profile(path), needs=["aws"])
    assert time.monotonic() - started < 10
    failed = {p.name: p for p in report.failures}
    assert list(failed) == ["aws-identity"] and "not reachable" in failed["aws-identity"].detail
    assert f"127.0.0.1:{port}" in failed["aws-identity"].detail


def test_list_json_shows_needs_and_allowed_values():
    proc = subprocess.run(CLI + ["list", "--json"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    notebooks = {n["name"]: n for n in json.loads(proc.stdout)}
    dq = notebooks["data-quality"]
    assert dq["needs"] == ["$source"]
    assert "warehouse" in dq["parameters"]["source"]["allowed"] and "ISO time" in dq["parameters"]["as_of"]["allowed"]


def _accepted(check) -> bool:
    """Whether ``check()`` passes, False on a ParameterError."""
    try:
        check()
    except ParameterError:
        return False
    return True


@pytest.mark.parametrize("given", [
    {"window_hours": 1}, {"window_hours": 2}, {"min_days": 1}, {"min_days": 2}, {"min_days": 14}, {"min_days": 15},
    {"history_days": 0}, {"history_days": 2}, {"history_days": 2, "min_days": 2}, {"history_days": 60},
    {"history_days": 61}, {"min_weeks": 4}, {"min_weeks": 5}, {"history_weeks": 2},
    {"history_weeks": 2, "min_weeks": 2}, {"sensitivity": 0.0}], ids=str)
def test_data_quality_refuses_before_the_kernel_what_its_checks_would_refuse_in_it(given):
    """What `runbook run` lets through must not fail inside the notebook (exit 3 and an archived error run), and
    what it refuses the library would refuse too: the declared domains, bounds naming another parameter
    included, agree with the checks, value for value, the notebook's defaults filling in the rest."""
    from datetime import datetime

    from opslib.notebook import check_parameters
    from opslib.runner.catalog import resolve
    from opslib.sections.quality import report, rules

    values = {**{n: p.default for n, p in resolve("data-quality").parameters.items()}, **given}

    runner = _accepted(lambda: check_parameters("data-quality", "sandbox", **given))
    library = _accepted(lambda: (report.window(datetime(2026, 11, 25), hours=values["window_hours"]),
                                rules._check_params(values["sensitivity"], values["min_weeks"],
                                                    values["history_weeks"], values["min_days"],
                                                    values["history_days"])))
    assert runner == library, f"runbook run {'accepts' if runner else 'refuses'} {given}, the checks do not"


@pytest.mark.parametrize("notebook, given", [
    ("disaster-recovery", {"desired_count": 0}), ("disaster-recovery", {"desired_count": 1}),
    ("disaster-recovery", {"window_minutes": 4}), ("disaster-recovery", {"window_minutes": 5}),
    ("disaster-recovery", {"window_minutes": 1440}), ("disaster-recovery", {"window_minutes": 1441}),
    ("disaster-recovery", {"tolerance": 1.0}), ("disaster-recovery", {"tolerance": -0.1}),
    ("security-operations", {"hours": 2160}), ("security-operations", {"hours": 2161}),
    ("security-operations", {"hours": 0})], ids=str)
def test_operations_refuse_before_the_kernel_what_their_checks_would_refuse_in_it(notebook, given):
    """As for data-quality: the declared domains of disaster-recovery's and security-operations' numeric
    parameters agree with their libraries' own checks at the edges."""
    from opslib.notebook import check_parameters
    from opslib.runner.catalog import resolve
    from opslib.sections.disaster_recovery import operation
    from opslib.sections.security import activity

    values = {**{n: p.default for n, p in resolve(notebook).parameters.items()}, **given}
    library = {"disaster-recovery": lambda: operation.validate_parameters(
                   operation=values["operation"], dry_run=values["dry_run"], desired_count=values["desired_count"],
                   window_minutes=values["window_minutes"], tolerance=values["tolerance"]),
               "security-operations": lambda: activity.window_hours(values["hours"])}[notebook]

    runner = _accepted(lambda: check_parameters(notebook, "sandbox", **given))
    assert runner == _accepted(library), f"runbook run {'accepts' if runner else 'refuses'} {given}, the checks do not"


def test_every_notebook_check_resolves_and_passes_the_notebooks_defaults():
    """A notebook's metadata ``check`` names a function that exists, takes only parameters the notebook has (and
    ``profile``), and lets the notebook's own defaults through: else every run of it would be refused."""
    import inspect

    from opslib.config import load_profile
    from opslib.runner.catalog import discover
    from opslib.runner.domains import check_notebook_values, notebook_check
    checked = [info for info in discover() if info.check]
    assert {i.name for i in checked} >= {"incident-response", "security-operations", "disaster-recovery",
                                         "common-operations", "maintenance"}
    for info in checked:
        module, _, name = info.check.partition(":")
        function = getattr(__import__(module, fromlist=[name]), name)
        unknown = [p for p, v in inspect.signature(function).parameters.items()
                   if p not in info.parameters and p not in ("profile", "now") and v.default is inspect.Parameter.empty]
        assert not unknown, f"{info.name}: {info.check} needs {unknown}, which the notebook does not have"
        check_notebook_values(info, {}, load_profile("sandbox"))
    with pytest.raises(ParameterError) as err:
        notebook_check("opslib.sections.incident:check_parameters", {"remedy": "nope", "other": 1})
    assert err.value.name == "remedy"
    notebook_check("opslib.sections.operations:validate", {"operation": "nope"})    # needs the profile: skipped


def test_a_bound_naming_another_parameter_says_which_and_follows_it():
    from opslib.notebook import check_parameters
    with pytest.raises(ParameterError) as info:
        check_parameters("data-quality", "sandbox", history_days=2)
    assert info.value.name == "min_days" and "history_days (2)" in info.value.allowed
    assert "give min_days too" in info.value.allowed
    check_parameters("data-quality", "sandbox", history_days=5, min_days=5)
    with pytest.raises(ParameterError) as info:
        Domain.from_spec("x", {"max": [1]})
    assert info.value.name == "metadata opslib.parameters.x.max"
    with pytest.raises(ParameterError) as info:
        domains_from_metadata({"x": {"max": "nosuch"}}, ["x", "y"])
    assert info.value.name == "metadata opslib.parameters.x.max" and "y" in info.value.allowed


def test_notebook_cells_can_reuse_the_declared_domains():
    from opslib.notebook import check_parameters
    check_parameters("data-quality", "sandbox", as_of=None, window_hours=24, source="database")
    with pytest.raises(ParameterError) as info:
        check_parameters("data-quality", "sandbox", window_hours=0)
    assert info.value.name == "window_hours"
    with pytest.raises(ParameterError) as info:
        check_parameters("common-operations", "sandbox", service="event-validator")   # a Lambda, not ECS
    assert "ingestion-api" in info.value.allowed
