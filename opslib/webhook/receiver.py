"""The receiver's decisions, without HTTP: an :class:`AlarmEvent` is ignored (not firing, no rule with a
runbook), deduped (a replayed message, or the same incident and runbook within the window), dropped
(queue full) or queued; workers (at most ``concurrency``) run queued triages through ``runner`` and send
the summary through ``respond``. Every decision is audited."""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from ..errors import OpsError, QueueFull, WebhookRejected
from .audit import DecisionLog
from .events import AlarmEvent
from .queue import Job, TriageQueue
from .routing import Triage, plan

log = logging.getLogger(__name__)
Runner = Callable[[Triage], dict]
Respond = Callable[[Triage, dict], list]


@dataclass(frozen=True)
class Decision:
    decision: str                  # queued | deduped | dropped | ignored
    reason: str
    incident_id: str | None = None
    notebook: str | None = None
    job_id: str | None = None

    @property
    def http_status(self) -> int:
        return {"queued": 202, "dropped": 503}.get(self.decision, 200)

    def to_dict(self) -> dict:
        return {"decision": self.decision, "reason": self.reason, "incident_id": self.incident_id,
                "notebook": self.notebook, "job_id": self.job_id}


class Receiver:
    def __init__(self, profile: Any, queue: TriageQueue, decisions: DecisionLog, *, runner: Runner,
                 respond: Respond, clock: Callable[[], datetime], parameters_of: Callable[[str], dict],
                 concurrency: int = 2, data_clock: Callable[[], datetime] | None = None):
        self.data_clock = data_clock or clock       # the pipeline's now (the profile's fixed clock, the sandbox's)
        self.profile, self.queue, self.decisions = profile, queue, decisions
        self.runner, self.respond, self.clock, self.parameters_of = runner, respond, clock, parameters_of
        self.concurrency = max(1, concurrency)
        self._wake = threading.Condition()
        self._intake = threading.Lock()      # a triage is taken only after its acceptance is recorded
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # -- requests ---------------------------------------------------------------------------------
    def reject(self, exc: WebhookRejected, *, remote: str | None, size: int | None = None) -> None:
        self.decisions.record("rejected", f"{exc.source or 'request'} rejected: {exc.reason}", remote=remote,
                              reason=exc.reason, source=exc.source, http_status=exc.status, bytes=size)

    def note(self, decision: str, title: str, *, remote: str | None, **details: Any) -> None:
        """A request that carried no alarm (subscription confirmation, ping)."""
        self.decisions.record(decision, title, remote=remote, **details)

    def handle(self, event: AlarmEvent, *, remote: str | None = None) -> Decision:
        now = self.clock()
        request = event.to_dict()
        message = f"{event.source}:{event.message_id}" if event.message_id else None
        if self.queue.seen(message):
            return self._decide(Decision("deduped", f"message {event.message_id} was received before (replay)"),
                                event, remote, request)
        decision = self._route(event, remote, request, now)
        if decision.decision != "dropped":
            self.queue.remember(message, now)
        return decision

    def _route(self, event: AlarmEvent, remote: str | None, request: dict, now: datetime) -> Decision:
        if not event.firing:
            return self._decide(Decision("ignored", f"state {event.state}: only a firing alarm starts a triage"),
                                event, remote, request)
        triage = plan(self.profile, event, now=self.data_clock(), parameters_of=self.parameters_of)
        if triage is None:
            return self._decide(Decision("ignored", f"{event.name!r} matches no alert rule with a runbook in "
                                                    f"profile {self.profile.name}"), event, remote, request)
        with self._intake:
            return self._offer(triage, event, remote, request, now)

    def _offer(self, triage: Triage, event: AlarmEvent, remote: str | None, request: dict, now: datetime) -> Decision:
        try:
            state, job_id = self.queue.offer(triage, now)
        except QueueFull as exc:
            return self._decide(Decision("dropped", str(exc), triage.incident_id, triage.notebook), event, remote,
                                request, triage)
        if state == "deduped":
            decision = Decision("deduped", f"triage {job_id} of incident {triage.incident_id} with {triage.notebook} "
                                           f"was accepted within the last {self.queue.dedupe}", triage.incident_id,
                                triage.notebook, job_id)
        else:
            decision = Decision("queued", f"{triage.notebook} {triage.parameters} for rule {triage.rule}",
                                triage.incident_id, triage.notebook, job_id)
        self._decide(decision, event, remote, request, triage)     # recorded before a worker can run it
        with self._wake:
            self._wake.notify()
        return decision

    def _decide(self, decision: Decision, event: AlarmEvent, remote: str | None, request: dict,
                triage: Triage | None = None) -> Decision:
        self.decisions.record(decision.decision, f"{event.source} {event.name} {event.state}: {decision.decision}",
                              remote=remote, reason=decision.reason, request=request,
                              triage=triage.to_dict() if triage else None,
                              **{k: v for k, v in decision.to_dict().items() if k not in ("reason", "decision")})
        log.info("%s %s %s -> %s (%s)", event.source, event.name, event.state, decision.decision, decision.reason)
        return decision

    # -- workers ----------------------------------------------------------------------------------
    def start(self) -> "Receiver":
        recovered = self.queue.recover()
        if recovered:
            self.decisions.record("requeued", f"{recovered} triage(s) interrupted by a restart queued again",
                                  count=recovered)
        self._stop.clear()
        self._threads = [threading.Thread(target=self._work, name=f"triage-{i}", daemon=True)
                         for i in range(self.concurrency)]
        for t in self._threads:
            t.start()
        return self

    def stop(self, timeout: float = 10) -> None:
        """Stop taking work; runs in progress finish (or stay ``running`` and are requeued at next start)."""
        self._stop.set()
        with self._wake:
            self._wake.notify_all()
        for t in self._threads:
            t.join(timeout)

    def _work(self) -> None:
        while not self._stop.is_set():
            with self._intake:
                job = self.queue.take(self.clock())
            if job is None:
                with self._wake:
                    self._wake.wait(timeout=1.0)
                continue
            try:
                self.run_job(job)
            except Exception as exc:      # a bug in one job must not stop the worker: recorded, job failed
                log.exception("triage %s failed", job.id)
                self.queue.finish(job.id, "failed", {"error": repr(exc)}, self.clock())
                self.decisions.record("run-failed", f"{job.triage.notebook} for {job.triage.incident_id}: {exc!r}",
                                      reason=repr(exc), job_id=job.id)

    def run_job(self, job: Job) -> dict:
        triage = job.triage
        try:
            entry = self.runner(triage)
        except OpsError as exc:
            self.queue.finish(job.id, "failed", {"error": str(exc)}, self.clock())
            self.decisions.record("run-failed", f"{triage.notebook} for {triage.incident_id} did not run: {exc}",
                                  reason=str(exc), job_id=job.id, triage=triage.to_dict())
            return {"error": str(exc)}
        sent = self.respond(triage, entry)
        result = {"run_id": entry.get("id"), "status": entry.get("status"), "exit_code": entry.get("exit_code"),
                  "evidence": (entry.get("files") or {}).get("html", {}).get("path"), "sent": sent}
        self.queue.finish(job.id, "done", result, self.clock())
        self.decisions.record("run", f"{triage.notebook} for {triage.incident_id}: {entry.get('status')}",
                              run_id=entry.get("id"), job_id=job.id, triage=triage.to_dict(),
                              **{k: v for k, v in result.items() if k != "run_id"})
        return result
