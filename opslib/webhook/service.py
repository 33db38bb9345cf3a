"""``runbook serve`` as one call: :func:`service` assembles the receiver from a profile, a local archive
folder and the secrets of the environment (:mod:`opslib.settings`); :meth:`Service.run` serves until stopped."""
from __future__ import annotations

import logging
import signal
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

from ..errors import ParameterError
from ..settings import (PAGERDUTY_WEBHOOK_SECRET_ENV, resolve_alertmanager_token, resolve_archive,
                        resolve_pagerduty_webhook_secrets)

__all__ = ["Service", "service"]


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Service:
    """The receiver, built and not started."""
    server: Any
    settings: Any
    profile: Any
    archive_root: Path

    def banner(self) -> list[str]:
        """What the operator is told when it starts (where it listens, what it trusts, what is refused)."""
        lines = [f"runbook serve: {self.server.url} (POST /sns /pagerduty /alertmanager) profile {self.profile.name}, "
                 f"archive {self.archive_root}, trusting SNS certificates from "
                 f"{', '.join(self.settings.sns_policy.origins)}"]
        if not self.settings.pagerduty_secrets:
            lines.append(f"note: ${PAGERDUTY_WEBHOOK_SECRET_ENV} is not set: PagerDuty webhooks are refused")
        return lines

    def run(self) -> None:
        """Serve until Ctrl-C or SIGTERM (systemd/docker stop), then return."""
        def stop(signum, frame):      # SIGTERM ends the loop like Ctrl-C
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, stop)
        try:
            self.server.serve_forever()
        except KeyboardInterrupt:
            pass


def service(profile: str, *, archive: str | None = None, host: str = "127.0.0.1", port: int = 8787,
            concurrency: int = 2, queue_size: int = 20, dedupe_minutes: float = 30.0, origins: tuple = (),
            topics: tuple = (), timeout: float | None = None, environ: Mapping[str, str] | None = None) -> Service:
    """The webhook receiver of ``profile`` on a local archive folder (``archive``, else $OPSLIB_ARCHIVE, else
    ``runs/``): triage runs in ``runbook run`` children, the queue and decisions in the archive, the PagerDuty
    and Alertmanager secrets from the environment, the sandbox's SNS certificate origin trusted for a sandbox
    profile. ParameterError for an ``s3://`` archive."""
    from .. import webhook
    from ..config import load_profile, profile_reference
    from ..connection import SANDBOX, connect
    from ..runner.archive import LocalArchive, open_archive

    prof = load_profile(profile)
    target = resolve_archive(archive, environ)
    store = None if target.startswith("s3://") else open_archive(target)
    if not isinstance(store, LocalArchive):
        raise ParameterError("--archive", target, "a local folder (the queue and audit log live in it)")
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
        pagerduty_secrets=resolve_pagerduty_webhook_secrets(environ=environ),
        alertmanager_token=resolve_alertmanager_token(environ=environ))
    runner = webhook.SubprocessRunner(profile=profile_reference(profile), archive=str(store.root), timeout=timeout)
    server = webhook.build(prof, store.root, settings, runner=runner,
                           respond=webhook.Responder.from_profile(prof, environ).send, clock=_utcnow,
                           data_clock=data_clock,
                           options=webhook.Options(capacity=queue_size, concurrency=concurrency,
                                                   dedupe_minutes=dedupe_minutes, host=host, port=port))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    return Service(server, settings, prof, store.root)
