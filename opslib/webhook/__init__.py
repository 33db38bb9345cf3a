"""``runbook serve``: alarms start their runbooks. A webhook receiver (SNS with signature verification,
PagerDuty V3 with its signature, Alertmanager) turns an alarm into a read-only triage run tagged with the
incident, deduplicated and bounded, and posts the findings back to where the page went.

:func:`build` assembles it from a profile and a local archive folder; everything it touches is passed in
(runner, responder, clock, certificate fetcher) so tests swap them."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from .app import MAX_BODY, Server, Settings, WebhookApp
from .audit import DecisionLog
from .events import AlarmEvent
from .queue import TriageQueue
from .receiver import Decision, Receiver
from .respond import Responder, summary_text
from .routing import Triage, plan, rule_for
from .runner import SubprocessRunner
from .sns import CertificateCache, TrustPolicy

__all__ = ["AlarmEvent", "CertificateCache", "Decision", "DecisionLog", "Receiver", "Responder", "Server",
           "Settings", "SubprocessRunner", "Triage", "TriageQueue", "TrustPolicy", "WebhookApp", "build",
           "notebook_defaults", "plan", "rule_for", "summary_text", "QUEUE_FILE", "MAX_BODY"]

QUEUE_FILE = Path("serve") / "triage.sqlite"


@lru_cache(maxsize=None)
def _defaults(notebook: str) -> tuple:
    from ..runner.catalog import resolve
    return tuple((name, p.default) for name, p in resolve(notebook).parameters.items())


def notebook_defaults(notebook: str) -> dict:
    """A notebook's declared parameters and their defaults (read once per notebook)."""
    return dict(_defaults(notebook))


@dataclass(frozen=True)
class Options:
    capacity: int = 20                      # triages waiting at most; more -> 503
    concurrency: int = 2                    # runs at once
    dedupe_minutes: float = 30              # one triage per incident and runbook within this
    host: str = "127.0.0.1"
    port: int = 8787


def build(profile: Any, archive_dir: str | Path, settings: Settings, *, runner: Callable[[Triage], dict],
          respond: Callable[[Triage, dict], list], clock: Callable[[], datetime],
          options: Options = Options(), parameters_of: Callable[[str], dict] = notebook_defaults,
          data_clock: Callable[[], datetime] | None = None) -> Server:
    """The server (not started): queue at ``<archive>/serve/triage.sqlite``, decisions in ``<archive>/audit/``."""
    from ..actions.audit import AuditLog
    root = Path(archive_dir)
    queue = TriageQueue(root / QUEUE_FILE, capacity=options.capacity,
                        dedupe=timedelta(minutes=options.dedupe_minutes))
    decisions = DecisionLog(AuditLog(root / "audit"), profile, clock)
    receiver = Receiver(profile, queue, decisions, runner=runner, respond=respond, clock=clock,
                        parameters_of=parameters_of, concurrency=options.concurrency,
                        data_clock=data_clock)
    return Server(WebhookApp(receiver, settings, clock), host=options.host, port=options.port)
