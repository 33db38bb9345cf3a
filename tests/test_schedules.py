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
    out = tmp_path / "dags.py"
    proc = subprocess.run(cmd + ["airflow", "-o", str(out)], capture_output=True, text=True, env=dict(os.environ))
    assert proc.returncode == 0 and "runbook__data_quality_hourly" in out.read_text()
    proc = subprocess.run(cmd + ["crontab"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("# runbook schedules") and "CRON_TZ=UTC" in proc.stdout
