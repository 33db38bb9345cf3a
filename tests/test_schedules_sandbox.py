"""Schedules as shipped, run against the sandbox: the generated crontab line itself, and (opt-in, with
OPSLIB_AIRFLOW naming the airflow executable of a separate venv) the generated DAG under
`airflow dags test`, with no notification variables set."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from test_schedules import _airflow, _airflow_env, _env_without_notify

CLI = [sys.executable, "-c", "from opslib.cli import run; run()", "schedule"]
DQ_JOB = ("archive: runs\njobs:\n  - name: data-quality-hourly\n    notebook: data-quality\n    cron: '5 * * * *'\n"
          "    parameters: {window_hours: 24, source: warehouse}\n    retries: 1\n    retry_delay_minutes: 1\n")


def _manifest(folder: Path) -> list[dict]:
    path = folder / "manifest.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def test_generated_crontab_line_runs_green(sandbox, tmp_path):
    f = tmp_path / "schedules.yaml"
    f.write_text(DQ_JOB)
    env = _env_without_notify()
    proc = subprocess.run(CLI + ["crontab", "--file", str(f), "--workdir", str(tmp_path)], capture_output=True,
                          text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    line = next(x for x in proc.stdout.splitlines() if "--job data-quality-hourly" in x and not x.startswith("#"))
    assert line.startswith("5 * * * * ") and "--notify" not in line
    command = line.split(" ", 5)[5].replace("\\%", "%")      # what cron hands to sh
    run = subprocess.run(["sh", "-c", command], env=env, timeout=600)
    entries = _manifest(tmp_path / "runs")
    log = (tmp_path / "runs" / "cron" / "data-quality-hourly.log").read_text()
    assert run.returncode == 0, log[-3000:]
    assert [e["job"] for e in entries] == ["data-quality-hourly"] and entries[0]["status"] in ("ok", "warn")
    assert entries[0]["notifications"] == []


def test_airflow_dags_test_runs_data_quality_green_bound_to_the_interval(sandbox, tmp_path):
    airflow = _airflow()
    if airflow is None:
        pytest.skip("Apache Airflow is not installed (set OPSLIB_AIRFLOW to an airflow executable of a separate "
                    "venv, e.g. .venv-airflow/bin/airflow (make airflow); see README, Airflow notes)")
    f = tmp_path / "schedules.yaml"
    f.write_text(DQ_JOB)
    env = _env_without_notify()
    dag_file = tmp_path / "dags" / "runbook_dags.py"             # the folder does not exist yet
    proc = subprocess.run(CLI + ["airflow", "--file", str(f), "--workdir", str(tmp_path), "-o", str(dag_file)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    aenv = {k: v for k, v in _airflow_env(tmp_path).items() if k in env or k.startswith("AIRFLOW")}
    migrate = subprocess.run([str(airflow), "db", "migrate"], capture_output=True, text=True, env=aenv, timeout=900)
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    logical = sandbox.now + timedelta(minutes=5)                 # the :05 run of the hour the sandbox is in
    test = subprocess.run([str(airflow), "dags", "test", "runbook__data_quality_hourly", logical.isoformat()],
                          capture_output=True, text=True, env=aenv, timeout=900)
    output = test.stdout + test.stderr
    assert test.returncode == 0, output[-4000:]
    entries = _manifest(tmp_path / "runs")
    assert len(entries) == 1, output[-4000:]
    entry = entries[0]
    assert entry["job"] == "data-quality-hourly" and entry["exit_code"] == 0 and entry["notifications"] == []
    assert datetime.fromisoformat(entry["parameters"]["as_of"]) == logical     # the data interval's end


def test_schedule_check_passes_for_the_shipped_schedules(sandbox, tmp_path):
    """Every job of parameters/schedules.yaml passes `schedule check` (preflight included) on the sandbox,
    with no notification variables set: as shipped, schedules run."""
    proc = subprocess.run(CLI + ["check"], capture_output=True, text=True, env=_env_without_notify(), timeout=300,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 failing" in proc.stderr
