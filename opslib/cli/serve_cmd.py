"""``runbook serve``: the webhook receiver that turns alarms into read-only triage runs."""
from __future__ import annotations

import click

from ._options import profile_option


def register(group: click.Group) -> None:
    group.add_command(serve)


@click.command()
@profile_option("profile the triage runs use (name or YAML path)")
@click.option("--archive", "archive_target", default=None,
              help="where triage runs are archived: a folder or s3://bucket/prefix (default $OPSLIB_ARCHIVE or runs/)")
@click.option("--state", "state", default=None, type=click.Path(file_okay=False),
              help="local folder of the queue (serve/triage.sqlite) and the decision log (audit/) "
                   "[default: the archive folder; for s3://: ~/.local/state/opslib/serve/BUCKET/PREFIX]")
@click.option("--host", default="127.0.0.1", show_default=True, help="address to bind (loopback by default)")
@click.option("--port", default=8787, show_default=True, type=int)
@click.option("--concurrency", default=2, show_default=True, type=click.IntRange(1, 16), help="triage runs at once")
@click.option("--queue-size", default=20, show_default=True, type=click.IntRange(1, 10_000),
              help="accepted triages waiting at most (more: HTTP 503)")
@click.option("--dedupe-minutes", default=30.0, show_default=True, type=click.FloatRange(0),
              help="one triage per incident and runbook within this window")
@click.option("--trust-sns-origin", "origins", multiple=True,
              help="also trust SNS certificates from this origin (scheme://host[:port]); the sandbox's is added "
                   "automatically for a sandbox profile")
@click.option("--sns-topic", "topics", multiple=True, help="accept SNS messages from these topic ARNs only")
@click.option("--timeout", type=float, default=None, help="per-cell timeout of a triage run, seconds")
def serve(profile: str, archive_target: str | None, state: str | None, host: str, port: int, concurrency: int,
          queue_size: int, dedupe_minutes: float, origins: tuple, topics: tuple, timeout: float | None) -> int:
    """Receive alarms (POST /sns, /pagerduty, /alertmanager) and run their runbooks read-only.

    Secrets come from the environment: OPSLIB_PAGERDUTY_WEBHOOK_SECRET (comma-separated while rotating),
    OPSLIB_ALERTMANAGER_TOKEN, OPSLIB_PAGERDUTY_API_TOKEN and OPSLIB_PAGERDUTY_FROM (notes on incidents)."""
    from ..webhook.service import service
    receiver = service(profile, archive=archive_target, state=state, host=host, port=port, concurrency=concurrency,
                       queue_size=queue_size, dedupe_minutes=dedupe_minutes, origins=origins, topics=topics,
                       timeout=timeout)
    for line in receiver.banner():
        click.echo(line, err=True)
    receiver.run()
    click.echo("stopped", err=True)
    return 0
