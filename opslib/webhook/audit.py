"""Every request and decision of the receiver as a record of the archive's audit log (``<archive>/audit/``):
status ``rejected`` | ``ignored`` | ``deduped`` | ``dropped`` | ``queued`` | ``run`` | ``run-failed``,
``dry_run`` always True, the request (source, remote address, what it carried) in ``notes``."""
from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from typing import Any, Callable

from ..actions.audit import AuditLog, AuditRecord, new_id
from ..operator import Operator


class DecisionLog:
    def __init__(self, log: AuditLog, profile: Any, clock: Callable[[], datetime]):
        self.log, self.profile, self.clock = log, profile, clock
        self._operator = Operator.from_identity(None, role="runbook serve")

    def record(self, decision: str, title: str, *, remote: str | None = None, run_id: str | None = None,
               reason: str | None = None, **details: Any) -> AuditRecord:
        now = self.clock()
        record = AuditRecord(
            id=new_id(now), timestamp=now.isoformat(), status=decision, title=f"webhook: {title}"[:300],
            profile=self.profile.name, environment=self.profile.environment, production=self.profile.production,
            dry_run=True, run_id=run_id, operator=replace(self._operator, ip_address=remote), steps=[],
            reason=reason, notes=[json.dumps(details, default=str, sort_keys=True)[:8000]])
        self.log.append(record)
        return record

    def records(self, decision: str | None = None) -> list[AuditRecord]:
        return [r for r in self.log.records() if r.title.startswith("webhook:") and (decision is None or r.status == decision)]
