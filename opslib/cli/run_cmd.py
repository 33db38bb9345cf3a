"""``runbook run | list | runs | schedule | lab``: running notebooks and reading their evidence.

Exit codes of ``runbook run``: 0 every check ok or warn; 1 a check failed; 2 bad input (nothing
ran); 3 the notebook raised; 4 the kernel died or timed out. ``--all`` exits with the worst."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import datetime, timezone
from pathlib import Path

import click

from ..config import load_profile
from ..errors import ParameterError
from ..notebook import LAB_PROFILE_ENV

EXIT_BAD_INPUT = 2


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _archive(target: str | None, profile: str):
    from ..runner.archive import open_archive
    target = target or os.environ.get("OPSLIB_ARCHIVE")
    if target and str(target).startswith("s3://"):
        from ..connection import connect
        return open_archive(target, s3_client=connect(profile).client("s3"))
    return open_archive(target)


def archive_option(help_text: str = "archive folder or s3://bucket/prefix"):
    return click.option("--archive", "archive_target", help=help_text)


def profile_option(help_text: str = "profile whose S3 client reads an s3:// archive"):
    return click.option("--profile", default=lambda: os.environ.get("OPSLIB_PROFILE", "sandbox"), help=help_text)


def _self_command() -> list[str]:
    """How to call this CLI again in a child process (same interpreter, same environment)."""
    return [sys.executable, "-c", "from opslib.cli import run; run()"]


def _runbook_program() -> str:
    beside = Path(sys.executable).parent / "runbook"
    return str(beside) if beside.exists() else (shutil.which("runbook") or "runbook")


# -- run ---------------------------------------------------------------------------------------------
def _run_one(notebook: str, profile: str, pairs: tuple, param_file: str | None, incident: str | None,
             archive_target: str | None, as_json: bool, notify_targets: tuple, job: str | None,
             timeout: float | None) -> int:
    from ..notify import endpoints, notify
    from ..runner import context
    from ..runner.catalog import resolve
    from ..runner.execute import run_notebook, summary
    from ..runner.manifest import filter_entries
    from ..runner.params import load_parameter_file, parse_assignments, validate_parameters
    from ..runner.scrub import scrubber

    prof = load_profile(profile)                                   # ProfileError -> exit 2
    info = resolve(notebook)                                       # ParameterError -> exit 2
    values: dict = {}
    if param_file:
        values.update(validate_parameters(info.parameters, load_parameter_file(param_file)))
    text_values = parse_assignments(pairs)
    values.update(validate_parameters(info.parameters, text_values, from_text=text_values))
    targets = endpoints(prof, list(notify_targets))
    profile_arg = str(Path(profile).resolve()) if profile.endswith((".yaml", ".yml")) or os.sep in profile else profile
    archive = _archive(archive_target, profile_arg)
    job = job or f"{info.name}@{prof.name}"
    scrub = scrubber(profile=prof, extra=[t.url for t in targets] + [t.routing_key for t in targets if t.routing_key])

    def send(entry):
        if not targets:
            return []
        previous = filter_entries(archive.manifest(), job=job)
        return notify(entry.to_dict(), targets, previous=previous[-1] if previous else None)

    os.environ.pop(LAB_PROFILE_ENV, None)    # kernels follow the injected profile, not a lab session's
    if not as_json:
        click.echo(f"running {info.name} on {prof.name} ...", err=True)
    entry = run_notebook(info, profile=profile_arg, profile_name=prof.name, archive=archive, clock=_utcnow,
                         parameters=values, incident_id=incident, job=job, timeout=timeout,
                         operator=context.operator(profile_arg), git_revision=context.git_revision(info.path),
                         host=context.host(), scrubber=scrub, notify=send)
    data = entry.to_dict()
    if as_json:
        click.echo(json.dumps(data, indent=2, sort_keys=True))
    else:
        click.echo(summary(data))
    for n in data["notifications"]:
        if "error" in n or n.get("http_status", 200) >= 300:
            click.echo(f"warning: {n['target']} {n['event']} not delivered: {n.get('error') or n.get('http_status')}",
                       err=True)
    return entry.exit_code


def _run_all(profile: str, incident: str | None, archive_target: str | None, as_json: bool, jobs: int,
             timeout: float | None) -> int:
    from ..runner.catalog import discover
    load_profile(profile)
    notebooks = [n for n in discover() if n.read_only]
    if not notebooks:
        raise ParameterError("--all", "(no read-only notebooks)", "notebooks whose metadata has opslib.read_only: true")
    total = len(notebooks)
    click.echo(f"running {total} read-only notebooks on {profile}, {jobs} at a time", err=True)

    def one(info):
        cmd = _self_command() + ["run", str(info.path), "--profile", profile, "--json"]
        for flag, value in (("--incident", incident), ("--archive", archive_target), ("--timeout", timeout)):
            if value:
                cmd += [flag, str(value)]
        started = time.monotonic()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        return info, proc, time.monotonic() - started

    entries, codes, counts = [], [], {}
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(one, info) for info in notebooks]
        for done, future in enumerate(as_completed(futures), 1):
            info, proc, seconds = future.result()
            try:
                entry = json.loads(proc.stdout)
                status, where = entry["status"], entry["files"]["html"]["path"]
                entries.append(entry)
            except (ValueError, KeyError):
                status, where = "not run", (proc.stderr.strip().splitlines() or ["?"])[-1]
            codes.append(proc.returncode)
            counts[status] = counts.get(status, 0) + 1
            click.echo(f"[{done}/{total}] {info.name:<28} {status:<8} {seconds:6.1f}s  {where}", err=True)
    click.echo(f"{total} runs: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())), err=True)
    if as_json:
        click.echo(json.dumps(sorted(entries, key=lambda e: e["notebook"]), indent=2, sort_keys=True))
    order = [0, 1, 3, 4, 2]            # worst last: a kernel problem outranks a raise outranks a failed check
    return max(codes, key=lambda c: order.index(c) if c in order else len(order))


def _register_run(group: click.Group) -> None:
    @group.command("run")
    @click.argument("notebook", required=False)
    @click.option("--profile", default=lambda: os.environ.get("OPSLIB_PROFILE", "sandbox"), show_default="sandbox",
                  help="profile name (parameters/NAME.yaml) or YAML file")
    @click.option("-p", "--parameter", "pairs", multiple=True, metavar="NAME=VALUE", help="a notebook parameter")
    @click.option("-f", "--parameters-file", "param_file", type=click.Path(), help="YAML mapping of parameters")
    @click.option("--incident", help="incident id to tag the run with (injected as incident_id)")
    @click.option("--archive", "archive_target", help="archive folder or s3://bucket/prefix [default: runs/]")
    @click.option("--json", "as_json", is_flag=True, help="print the manifest entry as JSON on stdout")
    @click.option("--notify", "notify_targets", multiple=True, type=click.Choice(["slack", "pagerduty"]),
                  help="alert targets (repeatable)")
    @click.option("--job", help="job name for notifications and history [default: NOTEBOOK@PROFILE]")
    @click.option("--timeout", type=float, help="seconds per cell [default: notebook metadata, else 1800]")
    @click.option("--all", "run_all", is_flag=True, help="run every read-only notebook concurrently")
    @click.option("--jobs", type=int, default=2, show_default=True, help="concurrent notebooks with --all")
    def run_command(notebook, profile, pairs, param_file, incident, archive_target, as_json, notify_targets, job,
                    timeout, run_all, jobs):
        """Run NOTEBOOK (a path or short name) headless and archive the evidence."""
        if run_all:
            if notebook or pairs or param_file or notify_targets or job:
                raise ParameterError("--all", notebook or "options", "--all with --profile, --incident, --archive, "
                                     "--json, --timeout and --jobs only")
            return _run_all(profile, incident, archive_target, as_json, jobs, timeout)
        if not notebook:
            raise ParameterError("notebook", None, "a notebook path or short name (see `runbook list`), or --all")
        return _run_one(notebook, profile, pairs, param_file, incident, archive_target, as_json, notify_targets,
                        job, timeout)

    @group.command("list")
    @click.option("--json", "as_json", is_flag=True)
    @archive_option("archive whose drill scorecards say when each runbook was last rehearsed [default: runs/]")
    @profile_option()
    def list_command(as_json, archive_target, profile):
        """The runbook notebooks with their parameters, defaults, purpose and last passed drill."""
        from ..drills import for_notebook, last_rehearsed
        from ..runner.catalog import discover, notebooks_dir
        notebooks = discover()
        rehearsed = last_rehearsed(_archive(archive_target, profile).manifest())
        if as_json:
            click.echo(json.dumps([{"name": n.name, "path": str(n.path), "read_only": n.read_only,
                                    "purpose": n.purpose, "schedule": n.schedule,
                                    "last_rehearsed": rehearsed[n.name].to_dict() if n.name in rehearsed else None,
                                    "parameters": {p.name: {"type": p.type_name, "default": p.default_text,
                                                            "help": p.help} for p in n.parameters.values()}}
                                   for n in notebooks], indent=2))
            return 0
        if not notebooks:
            click.echo(f"no notebooks in {notebooks_dir()}", err=True)
        for n in notebooks:
            click.echo(f"{n.name}{'' if n.read_only else '  [changes things]'}\n    {n.purpose}")
            r = rehearsed.get(n.name)
            never = "never (runbook drill)" if for_notebook(n.name) else "no drill for it"
            click.echo(f"    last rehearsed: {r.when[:19]}Z on {r.profile} (drill {r.scenario}, run {r.run_id})"
                       if r else f"    last rehearsed: {never}")
            for p in n.parameters.values():
                click.echo(f"    -p {p.describe()}")
        return 0


# -- runs --------------------------------------------------------------------------------------------
def _register_runs(group: click.Group) -> None:
    @group.group("runs")
    def runs_group():
        """The archive's manifest: list, show and verify runs."""

    archive_opt, profile_opt = archive_option(), profile_option()

    @runs_group.command("list")
    @click.option("--incident")
    @click.option("--notebook")
    @click.option("--since", help="ISO time (UTC if no zone), e.g. 2026-11-25T00:00")
    @click.option("--status", type=click.Choice(["ok", "warn", "fail", "error", "died", "timeout"]))
    @click.option("--json", "as_json", is_flag=True)
    @archive_opt
    @profile_opt
    def runs_list(incident, notebook, since, status, as_json, archive_target, profile):
        """Runs in the manifest, oldest first."""
        from ..runner.manifest import filter_entries, summary_line
        when = None
        if since:
            try:
                when = datetime.fromisoformat(since)
            except ValueError as exc:
                raise ParameterError("--since", since, "an ISO date or time, e.g. 2026-11-25T06:00") from exc
            when = when if when.tzinfo else when.replace(tzinfo=timezone.utc)
        entries = filter_entries(_archive(archive_target, profile).manifest(), incident=incident, notebook=notebook,
                                 since=when, status=status)
        if as_json:
            click.echo(json.dumps(entries, indent=2, sort_keys=True))
        else:
            for e in entries:
                click.echo(summary_line(e))
        return 0

    @runs_group.command("show")
    @click.argument("run_id")
    @click.option("--json", "as_json", is_flag=True)
    @archive_opt
    @profile_opt
    def runs_show(run_id, as_json, archive_target, profile):
        """One run's manifest entry (RUN_ID or a unique prefix)."""
        from ..runner.manifest import entry_text, find_entry
        entry = find_entry(_archive(archive_target, profile).manifest(), run_id)
        if entry is None:
            raise ParameterError("RUN_ID", run_id, "the id (or a unique prefix) of a run in the manifest")
        click.echo(json.dumps(entry, indent=2, sort_keys=True) if as_json else entry_text(entry))
        return 0

    @runs_group.command("verify")
    @click.argument("run_id", required=False)
    @archive_opt
    @profile_opt
    def runs_verify(run_id, archive_target, profile):
        """Recompute the sha256 of archived files; exit 1 if any changed or is missing."""
        from ..runner.manifest import find_entry
        from ..runner.verify import verify_entries
        archive = _archive(archive_target, profile)
        entries = list(archive.manifest())
        if run_id:
            entry = find_entry(entries, run_id)
            if entry is None:
                raise ParameterError("RUN_ID", run_id, "the id (or a unique prefix) of a run in the manifest")
            entries = [entry]
        checks = verify_entries(archive, entries)
        bad = [c for c in checks if c.status != "ok"]
        for c in bad:
            click.echo(f"{c.status.upper()}  {c.run_id}  {c.kind}  {c.path}  {c.detail}")
        click.echo(f"{len(checks)} files checked, {len(bad)} changed or missing", err=True)
        return 1 if bad else 0


# -- schedule ----------------------------------------------------------------------------------------
def _register_schedule(group: click.Group) -> None:
    @group.group("schedule")
    def schedule_group():
        """Emit parameters/schedules.yaml as crontab lines or an Airflow DAG."""

    file_opt = click.option("--file", "path", type=click.Path(), help="schedules file [default: parameters/schedules.yaml]")
    workdir_opt = click.option("--workdir", default=lambda: os.getcwd(), help="directory jobs run in [default: here]")

    def _load(path):
        from ..runner.catalog import notebooks_dir
        from ..schedules import load_schedules
        schedules = load_schedules(path)
        known = {p.stem for p in notebooks_dir().glob("*.ipynb")}
        for job in schedules.jobs:
            if job.notebook not in known and not job.notebook.endswith(".ipynb"):
                click.echo(f"warning: job {job.name}: notebook {job.notebook!r} is not in {notebooks_dir()} yet", err=True)
        return schedules

    @schedule_group.command("crontab")
    @file_opt
    @workdir_opt
    def crontab_command(path, workdir):
        """Print crontab lines (install with `runbook schedule crontab | crontab -`)."""
        from ..schedules import crontab
        click.echo(crontab(_load(path), runbook=_runbook_program(), workdir=workdir), nl=False)
        return 0

    @schedule_group.command("airflow")
    @file_opt
    @workdir_opt
    @click.option("--output", "-o", type=click.Path(), default="runbook_dags.py", show_default=True)
    def airflow_command(path, workdir, output):
        """Write an Airflow DAG file (one DAG per job, each calling `runbook run`)."""
        from ..schedules import airflow_dag
        text = airflow_dag(_load(path), runbook=_runbook_program(), workdir=workdir)
        Path(output).write_text(text)
        click.echo(f"wrote {output}", err=True)
        return 0


# -- lab ---------------------------------------------------------------------------------------------
def _register_lab(group: click.Group) -> None:
    @group.command("lab")
    @click.option("--profile", default=lambda: os.environ.get("OPSLIB_PROFILE", "sandbox"))
    @click.option("--port", type=int, default=8888, show_default=True)
    @click.option("--dry-run", is_flag=True, help="print the command and environment instead of starting")
    def lab_command(profile, port, dry_run):
        """Start the sandbox (sandbox profiles) and JupyterLab on the notebooks, kernels on PROFILE."""
        from ..connection import SANDBOX
        from ..runner.catalog import notebooks_dir
        prof = load_profile(profile)
        env = dict(os.environ, OPSLIB_PROFILE=profile, **{LAB_PROFILE_ENV: profile})
        cmd = [sys.executable, "-m", "jupyterlab", f"--notebook-dir={notebooks_dir()}", f"--port={port}"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")    # containers and CI machines run as root
        needs_sandbox = prof.aws.endpoint_url == SANDBOX
        if dry_run:
            click.echo(" ".join(cmd))
            click.echo(f"{LAB_PROFILE_ENV}={profile} OPSLIB_PROFILE={profile}" + ("  (starts the sandbox first)"
                                                                                 if needs_sandbox else ""))
            return 0
        if needs_sandbox:
            from ..sandbox import control
            state = control.up()          # the running sandbox, or a new one
            click.echo(f"sandbox: AWS {state.aws_endpoint}, clock {state.now}", err=True)
        return subprocess.run(cmd, env=env).returncode


def register(group: click.Group) -> None:
    _register_run(group)
    _register_runs(group)
    _register_schedule(group)
    _register_lab(group)
