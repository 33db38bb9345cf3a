"""``runbook drill [SCENARIO ...] [--all]``: rehearse fault drills on the sandbox and archive the scorecard."""
from __future__ import annotations

import json

import click

from ._options import profile_option


def register(group: click.Group) -> None:
    @group.command("drill")
    @click.argument("scenarios", nargs=-1)
    @click.option("--all", "every", is_flag=True, help="every drill (one per sandbox fault scenario)")
    @profile_option("a sandbox profile", show_default=True)
    @click.option("--archive", "archive_target", help="archive folder or s3://bucket/prefix [default: runs/]")
    @click.option("--jobs", type=int, default=3, show_default=True, help="runbooks of one drill run at a time")
    @click.option("--json", "as_json", is_flag=True, help="print the results and the scorecard entry as JSON")
    def drill_command(scenarios, every, profile, archive_target, jobs, as_json):
        """Reset the sandbox, inject SCENARIO, run the runbook(s) written for it, expect the finding that
        names the fault (and nothing else failing), reset; then archive a scorecard. Exit 1 if any drill
        was not detected."""
        from ..drills.session import drill

        def progress(result):
            mark = "detected" if result.detected else "NOT detected"
            click.echo(f"{result.scenario:<22} {mark:<13} {result.seconds:6.1f}s  "
                       + ", ".join(f"{r.notebook}: {'yes' if r.detected else r.problem}" for r in result.runbooks)
                       + (f"  {result.error}" if result.error else ""), err=True)

        results, entry = drill(scenarios, every=every, profile=profile, archive_target=archive_target, jobs=jobs,
                               progress=progress)
        passed = sum(r.detected for r in results)
        if as_json:
            click.echo(json.dumps({"drills": [r.to_dict() for r in results], "scorecard": entry.to_dict()},
                                  indent=2, sort_keys=True))
        else:
            click.echo(f"{passed}/{len(results)} drills detected; scorecard {entry.id}: {entry.files['html']['path']}")
        return 0 if passed == len(results) else 1
