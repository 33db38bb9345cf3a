"""Schedules: validation, crontab lines, and the Airflow DAG file."""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from opslib.errors import ParameterError
from opslib.schedules import airflow_dag, crontab, dag_id, load_schedules, validate_cron

REPO_SCHEDULES = Path(__file__).parent.parent / "parameters" / "schedules.yaml"


@pytest.mark.parametrize("expr, field", [("61 * * * *", "minute"), ("5 24 * * *", "hour"), ("0 0 0 * *", "day-of-month"),
                                         ("0 0 * 13 *", "month"), ("0 0 * * funday", "day-of-week")])
def test_invalid_cron_names_the_field(expr, field):
    with pytest.raises(ParameterError) as info:
        validate_cron(expr)
    assert info.value.name == f"cron field {field}"


def test_cron_needs_five_fields():
    with pytest.raises(ParameterError, match="5 fields"):
        validate_cron("* * * * * *")
    assert validate_cron("*/5 9-17 * * mon-fri") == "*/5 9-17 * * mon-fri"


def test_schedule_file_errors_name_the_job(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text("jobs:\n  - {name: dq, notebook: data-quality, cron: '5 99 * * *'}\n")
    with pytest.raises(ParameterError) as info:
        load_schedules(f)
    assert info.value.name == "jobs.dq.cron" and "hour" in str(info.value)


def test_crontab_lines_call_runbook_run():
    s = load_schedules(REPO_SCHEDULES)
    text = crontab(s, runbook="/opt/venv/bin/runbook", workdir="/srv/ops")
    lines = [line for line in text.splitlines() if line and not line.startswith("#") and "=" not in line.split()[0]]
    assert len(lines) == len(s.jobs)
    for job, line in zip(s.jobs, lines):
        assert line.startswith(job.cron + " cd /srv/ops && ")
        assert f"/opt/venv/bin/runbook run {job.notebook} --profile {job.profile} --job {job.name}" in line


def test_airflow_dag_compiles_and_names_every_job(tmp_path):
    s = load_schedules(REPO_SCHEDULES)
    text = airflow_dag(s, runbook="runbook", workdir="/srv/ops")
    tree = ast.parse(text)
    compile(tree, "runbook_dags.py", "exec")
    dag_ids = [kw.value.value for node in ast.walk(tree) if isinstance(node, ast.Call)
               for kw in node.keywords if kw.arg == "dag_id"]
    assert dag_ids == [dag_id(j) for j in s.jobs]
    for job in s.jobs:
        assert f"--job {job.name}" in text and repr(job.cron) in text


def test_cli_writes_dag_and_prints_crontab(tmp_path):
    cmd = [sys.executable, "-c", "from opslib.cli import run; run()", "schedule"]
    out = tmp_path / "missing" / "folder" / "dags.py"          # folders are created
    proc = subprocess.run(cmd + ["airflow", "--no-preflight", "-o", str(out)], capture_output=True, text=True,
                          env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr
    assert "runbook__data_quality_hourly" in out.read_text()
    proc = subprocess.run(cmd + ["crontab", "--no-preflight"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("# runbook schedules") and "CRON_TZ=UTC" in proc.stdout


# -- notify from the schedules file, `schedule check`, data intervals ------------------------------------
CLI = [sys.executable, "-c", "from opslib.cli import run; run()", "schedule"]


def _schedules(tmp_path, text: str) -> Path:
    f = tmp_path / "schedules.yaml"
    f.write_text(text)
    return f


def _env_without_notify() -> dict:
    return {k: v for k, v in os.environ.items() if k not in ("OPSLIB_SLACK_WEBHOOK", "OPSLIB_PAGERDUTY_ROUTING_KEY",
                                                             "OPSLIB_PAGERDUTY_URL")}


def test_notify_only_where_the_schedules_file_configures_it(tmp_path):
    s = load_schedules(REPO_SCHEDULES)
    assert "--notify" not in crontab(s) and "--notify" not in airflow_dag(s)
    s = load_schedules(_schedules(tmp_path, "notify: [slack]\njobs:\n"
                                  "  - {name: a, notebook: system-overview, cron: '0 6 * * *'}\n"
                                  "  - {name: b, notebook: system-overview, cron: '0 7 * * *', notify: []}\n"
                                  "  - {name: c, notebook: system-overview, cron: '0 8 * * *', notify: [pagerduty]}\n"))
    lines = {line.split("--job ")[1].split()[0]: line for line in crontab(s).splitlines() if "--job " in line}
    assert "--notify slack" in lines["a"] and "--notify" not in lines["b"]
    assert "--notify pagerduty" in lines["c"] and "slack" not in lines["c"]


def test_check_names_the_failing_jobs_and_generation_refuses_them(tmp_path):
    f = _schedules(tmp_path, "jobs:\n"
                   "  - {name: good, notebook: system-overview, cron: '0 6 * * *'}\n"
                   "  - {name: unnotified, notebook: system-overview, cron: '0 6 * * *', notify: [slack]}\n"
                   "  - {name: negative, notebook: data-quality, cron: '5 * * * *', parameters: {window_hours: -5}}\n"
                   "  - {name: noprofile, notebook: data-quality, cron: '5 * * * *', profile: nosuch}\n")
    env = _env_without_notify()
    proc = subprocess.run(CLI + ["check", "--file", str(f), "--no-preflight"], capture_output=True, text=True, env=env)
    assert proc.returncode == 2
    status = {line.split()[1]: line.split()[0] for line in proc.stdout.splitlines() if line[:4] in ("OK  ", "FAIL")}
    assert status == {"good": "OK", "unnotified": "FAIL", "negative": "FAIL", "noprofile": "FAIL"}
    assert "OPSLIB_SLACK_WEBHOOK" in proc.stdout and "window_hours" in proc.stdout and "nosuch" in proc.stdout
    out = tmp_path / "dags" / "runbook_dags.py"
    for args in (["crontab"], ["airflow", "-o", str(out)]):
        proc = subprocess.run(CLI + args + ["--file", str(f), "--no-preflight"], capture_output=True, text=True, env=env)
        assert proc.returncode == 2 and proc.stdout == ""
        assert "unnotified" in proc.stderr and "negative" in proc.stderr and "nothing was written" in proc.stderr
    assert not out.exists()


def test_check_runs_the_preflight(tmp_path):
    """Without --no-preflight a job whose sandbox is not running fails the check, saying how to start it."""
    f = _schedules(tmp_path, "jobs:\n  - {name: overview, notebook: system-overview, cron: '0 6 * * *'}\n")
    env = dict(_env_without_notify(), OPSLIB_SANDBOX_DIR=str(tmp_path / "no-sandbox"))
    proc = subprocess.run(CLI + ["check", "--file", str(f)], capture_output=True, text=True, env=env)
    assert proc.returncode == 2 and "runbook sandbox up" in proc.stdout


def test_dag_binds_time_parameters_to_the_data_interval(tmp_path):
    s = load_schedules(REPO_SCHEDULES)
    text = airflow_dag(s)
    tree = ast.parse(text)
    commands = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.With):
            call = node.items[0].context_expr
            kw = {k.arg: k.value for k in call.keywords}
            op = next(n for n in ast.walk(node) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "BashOperator")
            commands[kw["dag_id"].value] = ({k.arg: k.value for k in op.keywords}["bash_command"].value, kw)
    command, kw = commands["runbook__data_quality_hourly"]
    assert "'as_of={{ data_interval_end.isoformat() }}'" in command
    assert kw["catchup"].value is False
    args = ast.unparse(kw["default_args"])
    assert "'retries': 2" in args and "timedelta(minutes=5.0)" in args
    assert "as_of" not in commands["runbook__system_overview_daily"][0]   # a notebook without a time parameter
    s2 = load_schedules(_write(tmp_path, s, catchup=True))
    assert "catchup=True" in airflow_dag(s2)


def _write(folder: Path, s, **changes):
    import yaml
    data = s.model_dump(exclude_none=True)
    for job in data["jobs"]:
        job.update(changes)
    path = folder / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_job_options_are_checked(tmp_path):
    with pytest.raises(ParameterError) as info:
        load_schedules(_write(tmp_path, load_schedules(REPO_SCHEDULES), retries=-1))
    assert "retries" in info.value.name


# -- Airflow itself (optional: OPSLIB_AIRFLOW names an airflow executable of a separate venv) -----------
def _airflow() -> Path | None:
    import shutil
    found = os.environ.get("OPSLIB_AIRFLOW") or shutil.which("airflow")
    return Path(found) if found and Path(found).exists() else None


def _airflow_env(tmp_path) -> dict:
    home = tmp_path / "airflow-home"
    home.mkdir(exist_ok=True)
    return dict(os.environ, AIRFLOW_HOME=str(home), AIRFLOW__CORE__DAGS_FOLDER=str(tmp_path / "dags"),
                AIRFLOW__CORE__LOAD_EXAMPLES="False", AIRFLOW__CORE__UNIT_TEST_MODE="False")


def test_generated_dag_imports_in_airflow(tmp_path):
    airflow = _airflow()
    if airflow is None:
        pytest.skip("Apache Airflow is not installed (set OPSLIB_AIRFLOW to an airflow executable, e.g. "
                    ".venv-airflow/bin/airflow (make airflow); see README, Airflow notes)")
    (tmp_path / "dags").mkdir()
    dag_file = tmp_path / "dags" / "runbook_dags.py"
    dag_file.write_text(airflow_dag(load_schedules(REPO_SCHEDULES), runbook=str(Path(sys.executable).parent / "runbook"),
                                    workdir=str(tmp_path)))
    script = ("import json, sys\ntry:\n    from airflow.dag_processing.dagbag import DagBag   # Airflow 3\n"
              "except ImportError:\n    from airflow.models import DagBag                  # Airflow 2\n"
              "bag = DagBag(dag_folder=sys.argv[1])\n"
              "print(json.dumps({'errors': {k: str(v) for k, v in bag.import_errors.items()}, 'dags': sorted(bag.dag_ids)}))\n")
    proc = subprocess.run([str(airflow.parent / "python"), "-c", script, str(dag_file)], capture_output=True,
                          text=True, env=_airflow_env(tmp_path), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    import json
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["errors"] == {}
    assert result["dags"] == sorted(dag_id(j) for j in load_schedules(REPO_SCHEDULES).jobs)
