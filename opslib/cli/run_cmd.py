"""``runbook run | list | runs | schedule | lab``: running notebooks and reading their evidence.

Exit codes of ``runbook run``: 0 every check ok or warn; 1 a check failed; 2 bad input or a failed
preflight (nothing ran); 3 the notebook raised; 4 the kernel died or timed out; 5 could not see (a check
is unknown, none failed); 130/143 stopped by SIGINT/SIGTERM (the partial run archived as interrupted).
``--all`` exits with the worst. ``runbook lab`` is in :mod:`.lab_cmd`."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import datetime, timezone
from pathlib import Path

import click

from ..config import load_profile
from ..errors import OpsError, ParameterError
from ..notebook import LAB_PROFILE_ENV

EXIT_BAD_INPUT = 2


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _archive(target: str | None, profile: str):
    from ..runner.archive import archive_for
    return archive_for(target, profile)


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
def check_parameter_domains(info, values: dict, prof) -> None:
    """The values given against the domains the notebook's metadata declares (ParameterError)."""
    from ..runner.domains import check_domains
    check_domains(info.domains, values, prof, optional=[n for n, p in info.parameters.items() if p.optional])


def run_preflight(prof, info, values: dict, *, archive=None, notify_targets=(), connect=None):
    """What ``info`` needs, checked before its kernel starts; a PreflightError (exit 2) if anything fails.
    ``connect`` builds the preflight's :class:`~opslib.connection.Ops` (default: a new one)."""
    from ..errors import PreflightError
    from ..runner.preflight import needs_of, preflight
    defaults = {n: p.default for n, p in info.parameters.items()}
    report = preflight(prof, needs=needs_of(info.needs, values, defaults), archive=archive,
                       notify_targets=list(notify_targets), connect=connect)
    if not report.ok:
        raise PreflightError(report)
    return report


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
    check_parameter_domains(info, values, prof)                   # ParameterError -> exit 2
    targets = endpoints(prof, list(notify_targets))
    profile_arg = str(Path(profile).resolve()) if profile.endswith((".yaml", ".yml")) or os.sep in profile else profile
    archive = _archive(archive_target, profile_arg)
    opened: dict = {}

    def connect_once(p):
        """One Ops (boto3 session, STS client, the caller identity read once) for the preflight and the operator:
        each new one costs a profile load, a boto3 Session and its clients' service models."""
        if "ops" not in opened:
            from ..connection import connect
            opened["ops"] = connect(prof)
        return opened["ops"]

    run_preflight(prof, info, values, archive=archive, notify_targets=notify_targets,
                  connect=connect_once)                                                # PreflightError -> exit 2
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
                         operator=context.operator(profile_arg, connect=connect_once),
                         git_revision=context.git_revision(info.path), host=context.host(), scrubber=scrub, notify=send)
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
        with lock:
            if stopped:                   # SIGINT/SIGTERM came: notebooks not started yet are not started
                return info, subprocess.CompletedProcess(cmd, stopped[0], "", "not started: stopped"), 0.0
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            children.add(proc)
        out, err = proc.communicate()
        children.discard(proc)
        return info, subprocess.CompletedProcess(cmd, proc.returncode, out, err), time.monotonic() - started

    # a stop (Ctrl-C, a scheduler's SIGTERM) is passed on to the running children, which archive what they
    # ran as interrupted; --all then exits 128 + the signal
    lock, children, stopped = threading.Lock(), set(), []

    def forward(signum, frame):
        with lock:
            stopped.append(128 + signum)
            for child in children:
                child.send_signal(signum)

    saved = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
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
    for s, old in saved.items():
        signal.signal(s, old)
    click.echo(f"{total} runs: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())), err=True)
    if as_json:
        click.echo(json.dumps(sorted(entries, key=lambda e: e["notebook"]), indent=2, sort_keys=True))
    if stopped:
        return stopped[0]
    order = [0, 5, 1, 3, 4, 2]   # worst last: a kernel problem outranks a raise outranks a failed check outranks blind
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
    @click.option("--timeout", type=click.FloatRange(min=0, min_open=True),
                  help="seconds per cell, > 0 [default: notebook metadata, else 1800]")
    @click.option("--all", "run_all", is_flag=True, help="run every read-only notebook concurrently")
    @click.option("--jobs", type=click.IntRange(min=1), default=2, show_default=True,
                  help="concurrent notebooks with --all (>= 1)")
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
                                    "purpose": n.purpose, "schedule": n.schedule, "needs": list(n.needs),
                                    "last_rehearsed": rehearsed[n.name].to_dict() if n.name in rehearsed else None,
                                    "parameters": {p.name: {"type": p.type_name, "default": p.default_text,
                                                            "help": p.help,
                                                            **({"allowed": n.domains[p.name].describe()}
                                                               if p.name in n.domains else {})}
                                                   for p in n.parameters.values()}}
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
    @click.option("--status", type=click.Choice(["ok", "warn", "unknown", "fail", "error", "died", "timeout",
                                               "interrupted"]))
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
    @click.option("--html", "html_out", type=click.Path(dir_okay=False),
                  help="write a self-contained HTML page of the run's archived notebook (plotly.js inline) here")
    @archive_opt
    @profile_opt
    def runs_show(run_id, as_json, html_out, archive_target, profile):
        """One run's manifest entry (RUN_ID or a unique prefix)."""
        from ..runner.manifest import entry_text, find_entry
        archive = _archive(archive_target, profile)
        entry = find_entry(archive.manifest(), run_id)
        if entry is None:
            raise ParameterError("RUN_ID", run_id, "the id (or a unique prefix) of a run in the manifest")
        if html_out:
            from ..runner.html import standalone_html
            Path(html_out).write_text(standalone_html(archive, entry), encoding="utf-8")
            click.echo(f"wrote {html_out}", err=True)
            return 0
        click.echo(json.dumps(entry, indent=2, sort_keys=True) if as_json else entry_text(entry))
        return 0

    @runs_group.command("verify")
    @click.argument("run_id", required=False)
    @click.option("--expect-head", help="a chain head recorded earlier: fail unless it is still in the chain")
    @archive_opt
    @profile_opt
    def runs_verify(run_id, expect_head, archive_target, profile):
        """Verify the archive: the manifest's hash chain, every file's sha256, no file without an entry.
        Prints the chain head to record elsewhere; exit 1 on any problem."""
        from ..runner.manifest import find_entry
        from ..runner.verify import verify_archive
        archive = _archive(archive_target, profile)
        if run_id:
            entry = find_entry(archive.manifest(), run_id)
            if entry is None:
                raise ParameterError("RUN_ID", run_id, "the id (or a unique prefix) of a run in the manifest")
            run_id = entry["id"]
        report = verify_archive(archive, run_id=run_id, expect_head=expect_head)
        click.echo(report.summary())
        return 0 if report.ok else 1


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

    preflight_opt = click.option("--no-preflight", "skip_preflight", is_flag=True,
                                 help="skip the preflight (credentials, databases, archive) when the jobs run elsewhere")

    def _checked(path, skip_preflight, *, refuse: bool):
        from ..errors import ParameterError as _PE
        from ..schedules import check_job
        schedules = _load(path)
        results = []
        for job in schedules.jobs:
            archive = None
            if not skip_preflight:
                try:
                    archive = _archive(schedules.archive, job.profile)
                except OpsError:
                    archive = None
            results.append(check_job(job, schedules, preflight=not skip_preflight, archive=archive))
        bad = [r for r in results if not r.ok]
        if refuse and bad:
            for r in bad:
                click.echo(f"job {r.job}: " + "; ".join(r.problems), err=True)
            raise _PE("jobs", [r.job for r in bad], "jobs that pass `runbook schedule check` (fix them or remove "
                      "them from the schedules file); nothing was written")
        return schedules, results

    @schedule_group.command("check")
    @file_opt
    @preflight_opt
    def check_command(path, skip_preflight):
        """Validate every job: profile, notebook, parameters, notify targets, preflight. Exit 2 if any fails."""
        _, results = _checked(path, skip_preflight, refuse=False)
        for r in results:
            click.echo(f"{'OK  ' if r.ok else 'FAIL'}  {r.job}" + "".join(f"\n      {p}" for p in r.problems))
        bad = [r.job for r in results if not r.ok]
        click.echo(f"{len(results)} jobs, {len(bad)} failing" + (f": {', '.join(bad)}" if bad else ""), err=True)
        return EXIT_BAD_INPUT if bad else 0

    @schedule_group.command("crontab")
    @file_opt
    @workdir_opt
    @preflight_opt
    def crontab_command(path, workdir, skip_preflight):
        """Print crontab lines (install with `runbook schedule crontab | crontab -`); refuses failing jobs."""
        from ..schedules import crontab
        schedules, _ = _checked(path, skip_preflight, refuse=True)
        click.echo(crontab(schedules, runbook=_runbook_program(), workdir=workdir), nl=False)
        return 0

    @schedule_group.command("airflow")
    @file_opt
    @workdir_opt
    @preflight_opt
    @click.option("--output", "-o", type=click.Path(), default="runbook_dags.py", show_default=True)
    def airflow_command(path, workdir, skip_preflight, output):
        """Write an Airflow DAG file (one DAG per job, each calling `runbook run`); refuses failing jobs."""
        from ..schedules import airflow_dag
        schedules, _ = _checked(path, skip_preflight, refuse=True)
        text = airflow_dag(schedules, runbook=_runbook_program(), workdir=workdir)
        target = Path(output)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        except OSError as exc:
            raise ParameterError("--output", output, f"a writable file path ({exc.strerror or exc})") from exc
        click.echo(f"wrote {output}", err=True)
        return 0


# -- doctor ------------------------------------------------------------------------------------------
def _register_doctor(group: click.Group) -> None:
    @group.command("doctor")
    @click.option("--profile", default=lambda: os.environ.get("OPSLIB_PROFILE", "sandbox"), show_default="sandbox",
                  help="profile name (parameters/NAME.yaml) or YAML file")
    @click.option("--notebook", help="check only what this notebook needs [default: AWS and both databases]")
    @click.option("--archive", "archive_target", help="archive folder or s3://bucket/prefix [default: runs/]")
    @click.option("--notify", "notify_targets", multiple=True, type=click.Choice(["slack", "pagerduty"]))
    @click.option("--json", "as_json", is_flag=True)
    def doctor_command(profile, notebook, archive_target, notify_targets, as_json):
        """Preflight as a table: credentials, identity, endpoint, databases, archive, notify. Exit 2 if any fails."""
        from ..runner.preflight import needs_of, preflight
        prof = load_profile(profile)
        needs = ["aws", "warehouse", "database"]
        if notebook:
            from ..runner.catalog import resolve
            info = resolve(notebook)
            needs = needs_of(info.needs, {}, {n: p.default for n, p in info.parameters.items()})
        profile_arg = str(Path(profile).resolve()) if profile.endswith((".yaml", ".yml")) or os.sep in profile else profile
        report = preflight(prof, needs=needs, archive=_archive(archive_target, profile_arg),
                           notify_targets=list(notify_targets))
        click.echo(json.dumps(report.to_dict(), indent=2) if as_json else report.table())
        if not report.ok and not as_json:
            click.echo(f"{len(report.failures)} of {len(report.probes)} checks failed: "
                       + ", ".join(p.name for p in report.failures), err=True)
        return 0 if report.ok else EXIT_BAD_INPUT


def register(group: click.Group) -> None:
    _register_run(group)
    _register_doctor(group)
    _register_runs(group)
    _register_schedule(group)
