"""Scheduled runs: ``parameters/schedules.yaml`` -> crontab lines or an Airflow DAG file.

Every job calls ``runbook run`` (never papermill directly), so the archive, the manifest, the exit
codes and the notifications are the same whoever schedules it."""
from __future__ import annotations

import re
import json
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import yaml
from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import ParameterError

CRON_FIELDS = ("minute", "hour", "day-of-month", "month", "day-of-week")
_ALLOWED = {"minute": "0-59", "hour": "0-23", "day-of-month": "1-31", "month": "1-12 or jan-dec",
            "day-of-week": "0-6 or sun-sat"}
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


def validate_cron(expression: str) -> str:
    """``expression`` if it is a valid 5-field cron expression, else a ParameterError naming the field."""
    parts = expression.split()
    if len(parts) != 5:
        raise ParameterError("cron", expression, f"5 fields: {' '.join(CRON_FIELDS)} (got {len(parts)})")
    for i, (name, value) in enumerate(zip(CRON_FIELDS, parts)):
        probe = ["*"] * 5
        probe[i] = value
        if not croniter.is_valid(" ".join(probe)):
            raise ParameterError(f"cron field {name}", value,
                                 f"{_ALLOWED[name]}, '*', lists (a,b), ranges (a-b) and steps (*/n) in {expression!r}")
    if not croniter.is_valid(expression):
        raise ParameterError("cron", expression, "a valid cron expression")
    return expression


class Job(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="unique; the PagerDuty dedup key and Airflow dag_id derive from it")
    notebook: str
    cron: str
    profile: str = "sandbox"
    parameters: dict[str, Any] = {}
    notify: list[str] | None = Field(None, description="alert targets (slack, pagerduty); None: the file's notify")
    timeout: float | None = Field(None, gt=0)
    retries: int = Field(0, ge=0, description="Airflow: task retries")
    retry_delay_minutes: float = Field(5, gt=0, description="Airflow: minutes between retries")
    catchup: bool = Field(False, description="Airflow: run the intervals missed since start_date")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError(f"job name {v!r}: lowercase letters, digits, '-', '_' and '.' only")
        return v

    @field_validator("cron")
    @classmethod
    def _cron(cls, v: str) -> str:
        try:
            return validate_cron(v)
        except ParameterError as exc:
            raise ValueError(str(exc)) from exc


class Schedules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    archive: str | None = Field(None, description="--archive for every job (default $OPSLIB_ARCHIVE, else runs/ "
                                                   "beside parameters/)")
    workdir: str | None = Field(None, description="directory the jobs run in (default: the checkout)")
    notify: list[str] = Field([], description="alert targets of every job that names none")
    jobs: list[Job]

    def notify_of(self, job: Job) -> list[str]:
        """The job's own targets, else the file's default: only what is configured here, never implied."""
        return list(self.notify if job.notify is None else job.notify)


def _default_path() -> Path:
    from .config import parameters_dir
    return parameters_dir() / "schedules.yaml"


def load_schedules(path: str | Path | None = None) -> Schedules:
    """Read and validate the schedules file; errors name the job and the field."""
    path = Path(path) if path else _default_path()
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ParameterError("schedules", str(path), f"a readable YAML file ({exc})") from exc
    try:
        schedules = Schedules.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = list(err["loc"])
        if len(loc) >= 2 and loc[0] == "jobs" and isinstance(loc[1], int):
            jobs = data.get("jobs") or []
            name = jobs[loc[1]].get("name") if loc[1] < len(jobs) and isinstance(jobs[loc[1]], dict) else None
            loc[1] = name or loc[1]
        raise ParameterError(".".join(map(str, loc)), err.get("input"),
                             err["msg"].removeprefix("Value error, ") + f" ({path})") from exc
    names = [j.name for j in schedules.jobs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ParameterError("jobs.name", dupes[0], f"unique job names ({path})")
    return schedules


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, int, float)) or value is None:
        return "None" if value is None else str(value)   # how the notebook's -p parser reads them
    return json.dumps(value)


#: Airflow's template for a time parameter bound to the run's data interval ("interval" in its domain).
INTERVAL_TEMPLATES = {"start": "{{ data_interval_start.isoformat() }}", "end": "{{ data_interval_end.isoformat() }}"}


def _interval_parameters(job: Job) -> dict[str, str]:
    """Parameters of the job's notebook whose domain says ``interval``, not set by the job: name -> Airflow
    template. Empty when the notebook is not in the catalog."""
    from .runner.catalog import resolve
    try:
        info = resolve(job.notebook)
    except ParameterError:
        return {}
    return {name: INTERVAL_TEMPLATES[d.interval] for name, d in info.domains.items()
            if d.interval and name not in job.parameters}


def _run_args(job: Job, schedules: Schedules, *, extra: dict[str, str] | None = None) -> list[str]:
    """The ``runbook run`` arguments of ``job`` (without the program name); ``extra`` adds ``-p`` texts."""
    args = ["run", job.notebook, "--profile", job.profile, "--job", job.name]
    for name, value in {**job.parameters, **(extra or {})}.items():
        args += ["-p", f"{name}={_text(value)}"]
    for target in schedules.notify_of(job):
        args += ["--notify", target]
    if job.timeout:
        args += ["--timeout", f"{job.timeout:g}"]
    if schedules.archive:
        args += ["--archive", schedules.archive]
    return args


def _command(job: Job, schedules: Schedules, runbook: str, extra: dict[str, str] | None = None) -> str:
    return " ".join(shlex.quote(a) for a in [runbook, *_run_args(job, schedules, extra=extra)])


def crontab(schedules: Schedules, *, runbook: str = "runbook", workdir: str | Path = ".",
            log_dir: str = "runs/cron") -> str:
    """Crontab lines (times in UTC via CRON_TZ; ``%`` escaped as cron requires)."""
    workdir = schedules.workdir or str(workdir)
    lines = ["# runbook schedules (generated by `runbook schedule crontab`; edit parameters/schedules.yaml instead)",
             "CRON_TZ=UTC"]
    for job in schedules.jobs:
        cmd = (f"cd {shlex.quote(str(workdir))} && mkdir -p {shlex.quote(log_dir)} && {_command(job, schedules, runbook)}"
               f" >> {shlex.quote(f'{log_dir}/{job.name}.log')} 2>&1")
        lines.append(f"# {job.name}: {job.notebook} on {job.profile}")
        lines.append(f"{job.cron} {cmd.replace('%', chr(92) + '%')}")
    return "\n".join(lines) + "\n"


_DAG_HEAD = '''"""Runbook schedules as Airflow DAGs (generated by `runbook schedule airflow`; edit
parameters/schedules.yaml and regenerate). Each task calls `runbook run`, so the archive and the
manifest are the same as for cron or a person; exit 1 (a check failed), 2 (bad input or preflight),
3 (the notebook raised), 4 (kernel died or timed out) and 5 (could not see) fail the task. A time
parameter is bound to the run's data interval, so retries and backfills check the intended hours."""
from datetime import datetime, timedelta

from airflow import DAG

try:  # Airflow 3
    from airflow.providers.standard.operators.bash import BashOperator
except ImportError:  # Airflow 2
    from airflow.operators.bash import BashOperator

DEFAULT_ARGS = {{"owner": "runbook", "retries": 0, "execution_timeout": timedelta(hours=2)}}
WORKDIR = {workdir!r}
'''

_DAG_JOB = '''
# {name}: {notebook} on {profile}
with DAG(
    dag_id={dag_id!r},
    schedule={cron!r},
    start_date=datetime(2024, 1, 1),
    catchup={catchup!r},
    max_active_runs=1,
    default_args={{**DEFAULT_ARGS, "retries": {retries!r}, "retry_delay": timedelta(minutes={retry_delay!r})}},
    tags=["runbook", {notebook!r}],
) as dag:
    BashOperator(task_id="runbook_run", bash_command={command!r}, cwd=WORKDIR, append_env=True)
'''


def dag_id(job: Job) -> str:
    return "runbook__" + re.sub(r"[^A-Za-z0-9_]", "_", job.name)


def airflow_dag(schedules: Schedules, *, runbook: str = "runbook", workdir: str | Path = ".") -> str:
    """The text of one DAG file with one DAG per job."""
    text = _DAG_HEAD.format(workdir=str(schedules.workdir or workdir))
    for job in schedules.jobs:
        text += _DAG_JOB.format(name=job.name, notebook=job.notebook, profile=job.profile, dag_id=dag_id(job),
                                cron=job.cron, catchup=job.catchup, retries=job.retries,
                                retry_delay=job.retry_delay_minutes,
                                command=_command(job, schedules, runbook, extra=_interval_parameters(job)))
    return text


# -- check -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class JobCheck:
    """Whether a job would run: its profile loads, its notebook and parameters are valid, its notify
    targets are configured and (unless skipped) the preflight passes."""
    job: str
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


def _check_job(job: Job, schedules: Schedules, *, environ: Mapping[str, str] | None = None,
              preflight: bool = True, archive: Any = None) -> JobCheck:
    from .config import load_profile
    from .errors import OpsError
    from .notify import endpoints
    from .runner.catalog import resolve
    from .runner.domains import check_notebook_values
    from .runner.params import validate_parameters
    from .runner.preflight import needs_of, preflight as run_preflight
    problems: list[str] = []
    try:
        prof = load_profile(job.profile)
        info = resolve(job.notebook)
    except OpsError as exc:
        return JobCheck(job.name, (str(exc),))
    try:
        values = validate_parameters(info.parameters, job.parameters)
        check_notebook_values(info, values, prof)
    except OpsError as exc:
        problems.append(str(exc))
        values = {}
    targets = schedules.notify_of(job)
    try:
        endpoints(prof, targets, environ)
    except OpsError as exc:
        problems.append(f"notify: {exc}")
    if preflight:
        defaults = {n: p.default for n, p in info.parameters.items()}
        report = run_preflight(prof, needs=needs_of(info.needs, values, defaults), archive=archive,
                               environ=environ)
        problems += [f"preflight {p.name}: {p.detail}" + (f" ({p.remedy})" if p.remedy else "")
                     for p in report.failures]
    return JobCheck(job.name, tuple(problems))


def check_file(path: str | Path | None = None, *, preflight: bool = True,
               warn: Callable[[str], None] | None = None) -> tuple[Schedules, list[JobCheck]]:
    """``runbook schedule check``: the schedules file (default ``parameters/schedules.yaml``) read, and every
    job checked (with the preflight against the archive it would use, unless ``preflight=False``).
    ``warn`` hears of jobs naming a notebook not in ``notebooks/`` (yet)."""
    from .errors import OpsError
    from .runner.archive import archive_for
    from .runner.catalog import notebooks_dir
    schedules = load_schedules(path)
    known = {p.stem for p in notebooks_dir().glob("*.ipynb")}
    for job in schedules.jobs:
        if warn is not None and job.notebook not in known and not job.notebook.endswith(".ipynb"):
            warn(f"job {job.name}: notebook {job.notebook!r} is not in {notebooks_dir()} yet")
    results = []
    for job in schedules.jobs:
        archive = None
        if preflight:
            try:
                archive = archive_for(schedules.archive, job.profile)
            except OpsError:
                archive = None
        results.append(_check_job(job, schedules, preflight=preflight, archive=archive))
    return schedules, results


def _passing(path: str | Path | None, *, preflight: bool, warn: Callable[[str], None] | None,
             refused: Callable[[list[JobCheck]], None] | None) -> Schedules:
    """The schedules file, if every job passes :func:`check_file`; else ``refused(failing)`` hears of them
    and ParameterError is raised (nothing is written)."""
    schedules, results = check_file(path, preflight=preflight, warn=warn)
    bad = [r for r in results if not r.ok]
    if bad:
        if refused is not None:
            refused(bad)
        raise ParameterError("jobs", [r.job for r in bad], "jobs that pass `runbook schedule check` (fix them or "
                             "remove them from the schedules file); nothing was written")
    return schedules


def _runbook_program() -> str:
    """The ``runbook`` a job calls: the one beside this interpreter, else the one on PATH."""
    import shutil
    import sys
    beside = Path(sys.executable).parent / "runbook"
    return str(beside) if beside.exists() else (shutil.which("runbook") or "runbook")


def crontab_file(path: str | Path | None = None, *, workdir: str | Path = ".", preflight: bool = True,
                 warn: Callable[[str], None] | None = None,
                 refused: Callable[[list[JobCheck]], None] | None = None) -> str:
    """``runbook schedule crontab``: the crontab lines of the schedules file; refuses failing jobs."""
    schedules = _passing(path, preflight=preflight, warn=warn, refused=refused)
    return crontab(schedules, runbook=_runbook_program(), workdir=workdir)


def write_airflow_dag(path: str | Path | None, output: str | Path, *, workdir: str | Path = ".",
                      preflight: bool = True, warn: Callable[[str], None] | None = None,
                      refused: Callable[[list[JobCheck]], None] | None = None) -> Path:
    """``runbook schedule airflow``: write the DAG file of the schedules file to ``output``; refuses failing
    jobs (ParameterError, nothing written), and an ``output`` that cannot be written."""
    schedules = _passing(path, preflight=preflight, warn=warn, refused=refused)
    text = airflow_dag(schedules, runbook=_runbook_program(), workdir=workdir)
    target = Path(output)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    except OSError as exc:
        raise ParameterError("--output", str(output), f"a writable file path ({exc.strerror or exc})") from exc
    return target
