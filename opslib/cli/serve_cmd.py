"""``runbook serve``: the webhook receiver that turns alarms into read-only triage runs."""
from __future__ import annotations

import logging
import os
import signal
from datetime import datetime, timezone
from pathlib import Path

import click

from ..errors import ParameterError


def register(group: click.Group) -> None:
    group.add_command(serve)


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


@click.command()
@click.option("--profile", default=lambda: os.environ.get("OPSLIB_PROFILE", "sandbox"),
              help="profile the triage runs use (name or YAML path)")
@click.option("--archive", "archive_target", default=lambda: os.environ.get("OPSLIB_ARCHIVE"),
              help="local archive folder: runs, audit/ and serve/triage.sqlite (default $OPSLIB_ARCHIVE or runs/)")
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
def serve(profile: str, archive_target: str | None, host: str, port: int, concurrency: int, queue_size: int,
          dedupe_minutes: float, origins: tuple, topics: tuple, timeout: float | None) -> int:
    """Receive alarms (POST /sns, /pagerduty, /alertmanager) and run their runbooks read-only.

    Secrets come from the environment: OPSLIB_PAGERDUTY_WEBHOOK_SECRET (comma-separated while rotating),
    OPSLIB_ALERTMANAGER_TOKEN, OPSLIB_PAGERDUTY_API_TOKEN and OPSLIB_PAGERDUTY_FROM (notes on incidents)."""
    from .. import webhook
    from ..config import load_profile
    from ..connection import SANDBOX, connect
    from ..runner.archive import LocalArchive, open_archive
    from ..webhook import alertmanager, pagerduty

    prof = load_profile(profile)
    archive = None if str(archive_target or "").startswith("s3://") else open_archive(archive_target)
    if not isinstance(archive, LocalArchive):
        raise ParameterError("--archive", archive_target, "a local folder (the queue and audit log live in it)")
    profile_arg = str(Path(profile).resolve()) if profile.endswith((".yaml", ".yml")) or os.sep in profile else profile
    trusted = list(origins)
    data_clock = _utcnow
    if prof.aws.endpoint_url == SANDBOX:
        ops = connect(prof)
        if ops.sandbox is not None and ops.sandbox.sns_cert_origin:
            trusted.append(ops.sandbox.sns_cert_origin)
        data_clock = ops.now
    settings = webhook.Settings(
        sns_policy=webhook.TrustPolicy.for_region(prof.aws.primary_region, extra_origins=tuple(trusted),
                                                  topics=tuple(topics)),
        pagerduty_secrets=[s for s in os.environ.get(pagerduty.SECRET_ENV, "").split(",") if s],
        alertmanager_token=os.environ.get(alertmanager.TOKEN_ENV) or None)
    runner = webhook.SubprocessRunner(profile=profile_arg, archive=str(archive.root), timeout=timeout)
    server = webhook.build(prof, archive.root, settings, runner=runner,
                           respond=webhook.Responder.from_profile(prof).send, clock=_utcnow, data_clock=data_clock,
                           options=webhook.Options(capacity=queue_size, concurrency=concurrency,
                                                   dedupe_minutes=dedupe_minutes, host=host, port=port))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    click.echo(f"runbook serve: {server.url} (POST /sns /pagerduty /alertmanager) profile {prof.name}, "
               f"archive {archive.root}, trusting SNS certificates from {', '.join(settings.sns_policy.origins)}", err=True)
    if not settings.pagerduty_secrets:
        click.echo(f"note: ${pagerduty.SECRET_ENV} is not set: PagerDuty webhooks are refused", err=True)
    def stop(signum, frame):      # systemd/docker stop: SIGTERM ends the loop like Ctrl-C
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("stopped", err=True)
    return 0
