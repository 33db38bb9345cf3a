"""``runbook run | list | runs | schedule | lab``: running notebooks and reading their evidence.

Exit codes of ``runbook run``: 0 every check ok or warn; 1 a check failed; 2 bad input or a failed
preflight (nothing ran); 3 the notebook raised; 4 the kernel died or timed out; 5 could not see (a check
is unknown, none failed); 130/143 stopped by SIGINT/SIGTERM (the partial run archived as interrupted).
``--all`` exits with the worst. ``runbook lab`` is in :mod:`.lab_cmd`."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import click

from ..errors import ParameterError
from ..exitcodes import EXIT_BAD_INPUT
from ._options import archive_for as _archive, archive_option, profile_option


def _progress(done: int, total: int, run) -> None:
    click.echo(f"[{done}/{total}] {run.notebook:<28} {run.status:<8} {run.seconds:6.1f}s  {run.where}", err=True)


def _report(data: dict, as_json: bool) -> int:
    """Print a finished run (its manifest entry as JSON, or the summary lines) and the notifications that
    were not delivered; its exit code."""
    from ..notify import undelivered
    from ..runner.execute import summary
    click.echo(json.dumps(data, indent=2, sort_keys=True) if as_json else summary(data))
    for warning in undelivered(data):
        click.echo(f"warning: {warning}", err=True)
    return data["exit_code"]


def _register_run(group: click.Group) -> None:
    @group.command("run")
    @click.argument("notebook", required=False)
    @profile_option("profile name (parameters/NAME.yaml) or YAML file", show_default=True)
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
        from ..runner import launch
        if run_all:
            if notebook or pairs or param_file or notify_targets or job:
                raise ParameterError("--all", notebook or "options", "--all with --profile, --incident, --archive, "
                                     "--json, --timeout and --jobs only")
            batch = launch.run_all(profile, incident=incident, archive=archive_target, jobs=jobs, timeout=timeout,
                                   announce=lambda total: click.echo(f"running {total} read-only notebooks on "
                                                                     f"{profile}, {jobs} at a time", err=True),
                                   progress=_progress)
            click.echo(batch.summary(), err=True)
            if as_json:
                click.echo(json.dumps(batch.entries, indent=2, sort_keys=True))
            return batch.exit_code
        if not notebook:
            raise ParameterError("notebook", None, "a notebook path or short name (see `runbook list`), or --all")
        entry = launch.run(notebook, profile=profile, pairs=pairs, param_file=param_file, incident=incident,
                           archive=archive_target, notify_targets=notify_targets, job=job, timeout=timeout,
                           on_start=None if as_json else lambda info, prof: click.echo(
                               f"running {info.name} on {prof.name} ...", err=True))
        return _report(entry.to_dict(), as_json)

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
    workdir_opt = click.option("--workdir", default=lambda: str(Path.cwd()), help="directory jobs run in [default: here]")

    preflight_opt = click.option("--no-preflight", "skip_preflight", is_flag=True,
                                 help="skip the preflight (credentials, databases, archive) when the jobs run elsewhere")

    def _warn(text: str) -> None:
        click.echo(f"warning: {text}", err=True)

    def _refused(results) -> None:
        for r in results:
            click.echo(f"job {r.job}: " + "; ".join(r.problems), err=True)

    @schedule_group.command("check")
    @file_opt
    @preflight_opt
    def check_command(path, skip_preflight):
        """Validate every job: profile, notebook, parameters, notify targets, preflight. Exit 2 if any fails."""
        from ..schedules import check_file
        _, results = check_file(path, preflight=not skip_preflight, warn=_warn)
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
        from ..schedules import crontab_file
        click.echo(crontab_file(path, workdir=workdir, preflight=not skip_preflight, warn=_warn, refused=_refused),
                   nl=False)
        return 0

    @schedule_group.command("airflow")
    @file_opt
    @workdir_opt
    @preflight_opt
    @click.option("--output", "-o", type=click.Path(), default="runbook_dags.py", show_default=True)
    def airflow_command(path, workdir, skip_preflight, output):
        """Write an Airflow DAG file (one DAG per job, each calling `runbook run`); refuses failing jobs."""
        from ..schedules import write_airflow_dag
        write_airflow_dag(path, output, workdir=workdir, preflight=not skip_preflight, warn=_warn, refused=_refused)
        click.echo(f"wrote {output}", err=True)
        return 0


# -- doctor ------------------------------------------------------------------------------------------
def _register_doctor(group: click.Group) -> None:
    @group.command("doctor")
    @profile_option("profile name (parameters/NAME.yaml) or YAML file", show_default=True)
    @click.option("--notebook", help="check only what this notebook needs [default: AWS and both databases]")
    @click.option("--archive", "archive_target", help="archive folder or s3://bucket/prefix [default: runs/]")
    @click.option("--notify", "notify_targets", multiple=True, type=click.Choice(["slack", "pagerduty"]))
    @click.option("--json", "as_json", is_flag=True)
    def doctor_command(profile, notebook, archive_target, notify_targets, as_json):
        """Preflight as a table: credentials, identity, endpoint, databases, archive, notify. Exit 2 if any fails."""
        from ..runner.launch import doctor
        report = doctor(profile, notebook=notebook, archive=archive_target, notify_targets=notify_targets)
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
