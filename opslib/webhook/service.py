"""``runbook serve`` as one call: :func:`service` assembles the receiver from a profile, an archive (a local
folder or an ``s3://`` prefix shared by several hosts), a local state folder and the secrets of the environment
(:mod:`opslib.settings`); :meth:`Service.run` serves until stopped."""
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
    archive: str                  # where the triage runs are archived: a folder or an s3:// prefix
    state: Path                   # the queue (serve/triage.sqlite) and the decision log (audit/)

    def banner(self) -> list[str]:
        """What the operator is told when it starts (where it listens, what it trusts, what is refused)."""
        state = "" if self.state == Path(self.archive) else f", queue and decisions in {self.state}"
        lines = [f"runbook serve: {self.server.url} (POST /sns /pagerduty /alertmanager) profile {self.profile.name}, "
                 f"archive {self.archive}{state}, trusting SNS certificates from "
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


def default_state_dir(archive: str) -> Path:
    """Where the queue and the decision log of a receiver archiving to the ``s3://`` prefix ``archive`` live by
    default: this user's state folder (``~/.local/state/opslib/serve/<bucket>/<prefix>`` on Linux)."""
    from platformdirs import user_state_dir
    return Path(user_state_dir("opslib")) / "serve" / archive.removeprefix("s3://").strip("/")


def service(profile: str, *, archive: str | None = None, state: str | Path | None = None, host: str = "127.0.0.1",
            port: int = 8787, concurrency: int = 2, queue_size: int = 20, dedupe_minutes: float = 30.0,
            origins: tuple = (), topics: tuple = (), timeout: float | None = None,
            environ: Mapping[str, str] | None = None) -> Service:
    """The webhook receiver of ``profile`` archiving its triage runs to ``archive`` (a folder or an ``s3://``
    prefix; else $OPSLIB_ARCHIVE, else ``runs/``) in ``runbook run`` children. The queue and the decision log are
    local, in ``state`` (default: the archive folder; for an S3 archive :func:`default_state_dir`): a receiver's
    own bookkeeping, while the evidence goes where every host's runs go. The PagerDuty and Alertmanager secrets
    come from the environment; the sandbox's SNS certificate origin is trusted for a sandbox profile."""
    from .. import webhook
    from ..config import load_profile, profile_reference
    from ..connection import SANDBOX, connect
    from ..runner.archive import LocalArchive, archive_for

    prof = load_profile(profile)
    target = resolve_archive(archive, environ)
    store = archive_for(target, profile)          # an S3 archive: its client from the profile's connection
    root = Path(state) if state else (store.root if isinstance(store, LocalArchive) else default_state_dir(target))
    if root.exists() and not root.is_dir():
        raise ParameterError("--state", str(root), "a folder for the queue and the decision log")
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
    runner = webhook.SubprocessRunner(profile=profile_reference(profile), archive=store.location, timeout=timeout)
    server = webhook.build(prof, root, settings, runner=runner,
                           respond=webhook.Responder.from_profile(prof, environ).send, clock=_utcnow,
                           data_clock=data_clock,
                           options=webhook.Options(capacity=queue_size, concurrency=concurrency,
                                                   dedupe_minutes=dedupe_minutes, host=host, port=port))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    return Service(server, settings, prof, store.location, root)
