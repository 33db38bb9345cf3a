"""Apply a plan: dry-run by default, confirmation in production, guard rails first, stepwise, stop at the
first failure, read back every value, and an audit record for every attempt."""
from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from ..errors import ActionError, ActionFailed, ActionRefused
from . import kinds
from .audit import AuditLog, AuditRecord, Operator, StepRecord, new_id, record_everywhere, run_id as _run_id
from .guards import check_confirmation, check_plan
from .plan import Plan, Precondition, show, text_table

if TYPE_CHECKING:
    from ..connection import Ops


@dataclass
class ApplyResult:
    """What happened to a plan: ``status`` is planned, applied, refused or failed."""
    status: str
    plan: Plan
    steps: list[StepRecord]
    audit_id: str
    reason: str | None = None
    audit_db_error: str | None = None
    record: AuditRecord | None = field(default=None, repr=False)

    @property
    def applied(self) -> list[StepRecord]:
        return [s for s in self.steps if s.status == "applied"]

    @property
    def not_applied(self) -> list[StepRecord]:
        return [s for s in self.steps if s.status != "applied"]

    def check(self, name: str, *, drift: str = "warn"):
        """The outcome as a finding: nothing to change or applied is ok; a dry run with pending changes
        is ``drift`` (warn by default: the environment differs from what the plan wants)."""
        from ..findings import Check
        targets = self.plan.targets
        if self.status in ("refused", "failed"):
            return Check.fail(name, f"{self.plan.title}: {self.status}: {self.reason}", audit_id=self.audit_id)
        if not self.plan.changes:
            return Check.ok(name, f"{self.plan.title}: nothing to change")
        if self.status == "planned":
            return Check(name, drift, f"{self.plan.title}: {len(self.plan.changes)} change(s) planned, not applied "
                                      f"(dry run)", {"planned": targets, "audit_id": self.audit_id})
        return Check.ok(name, f"{self.plan.title}: applied {len(self.applied)} change(s)",
                        applied=targets, audit_id=self.audit_id)

    def rows(self) -> list[dict]:
        return [{"#": i, "resource": s.change["resource"], "attribute": s.change["attribute"], "status": s.status,
                 "before": show(s.before), "after": show(s.after), "error": s.error or ""}
                for i, s in enumerate(self.steps, 1)]

    def to_text(self, apply_hint: str = "run again with -p dry_run=False (runbook run) to apply") -> str:
        """``apply_hint``: how to apply a dry run where this text is shown (``runbook undo`` says --apply)."""
        head = f"{self.status.upper()}: {self.plan.title} (audit {self.audit_id})"
        lines = [head] + ([f"  reason: {self.reason}"] if self.reason else [])
        if self.steps:
            lines.append(text_table(self.rows(), ["#", "resource", "attribute", "status", "before", "after", "error"]))
        if self.audit_db_error:
            lines.append(f"  warning: {self.audit_db_error}")
        if self.status == "planned":
            lines.append(f"  nothing was changed (dry run); {apply_hint}")
        return "\n".join(lines)

    __str__ = to_text

    def _repr_html_(self) -> str:
        color = {"planned": "#555", "applied": "#1a7f37", "refused": "#b35900", "failed": "#cf222e"}[self.status]
        cols = ["#", "resource", "attribute", "status", "before", "after", "error"]
        body = "".join("<tr>" + "".join(f"<td>{html.escape(str(r[c]))}</td>" for c in cols) + "</tr>"
                       for r in self.rows())
        extra = (f"<p>Reason: {html.escape(self.reason)}</p>" if self.reason else "") + \
                (f"<p>Warning: {html.escape(self.audit_db_error)}</p>" if self.audit_db_error else "") + \
                ("<p>Nothing was changed (dry run); set <code>dry_run=False</code> to apply.</p>"
                 if self.status == "planned" else "")
        table = ("<table><thead><tr>" + "".join(f"<th>{c}</th>" for c in cols) + f"</tr></thead><tbody>{body}</tbody>"
                 "</table>") if self.steps else ""
        return (f"<div class='opslib-apply'><h4 style='color:{color}'>{self.status.upper()}: "
                f"{html.escape(self.plan.title)}</h4><p>audit id <code>{html.escape(self.audit_id)}</code></p>"
                f"{extra}{table}</div>")


def _confirm_list(confirm: "str | list[str] | None") -> list[str]:
    if confirm is None:
        return []
    items = confirm if isinstance(confirm, (list, tuple, set)) else str(confirm).split(",")
    return [str(i).strip() for i in items if str(i).strip()]


def _run_prechecks(ops: "Ops", plan: Plan) -> None:
    """Re-run the plan's pre-flight checks live (read-only) and keep their results on the plan."""
    if plan.prechecks:
        checks: list[Precondition] = []
        for pre in plan.prechecks:
            checks.extend(pre(ops))
        plan.checks = checks


def apply(plan: Plan, *, dry_run: bool = True, confirm: "str | list[str] | None" = None, ops: "Ops | None" = None,
          now: datetime | None = None, audit_dir: str | None = None, run_id: str | None = None,
          operator: Operator | None = None, audit_database: bool = True, raise_on_error: bool = True,
          undo_of: str | None = None) -> ApplyResult:
    """Apply ``plan`` (or, with ``dry_run=True``, the default, only record it).

    Before any call: pre-flight checks re-run, guard rails, and in a production profile the
    confirmation naming every resource changed. Changes run in order; the first failure stops the
    plan. Every attempt is audited. A refused or failed plan raises :class:`ActionRefused` /
    :class:`ActionFailed` (its ``result`` set) unless ``raise_on_error=False``."""
    ops = ops or plan.ops
    if ops is None:
        raise ActionError("apply needs the Ops handle: plan it with a planner, or pass ops=")
    moment = now or ops.now()
    log = AuditLog(audit_dir)
    record = AuditRecord(
        id=new_id(moment), timestamp=moment.isoformat(), status="planned", title=plan.title,
        profile=ops.profile.name, environment=ops.profile.environment, production=ops.profile.production,
        dry_run=dry_run, run_id=_run_id(run_id), operator=operator or Operator.of(ops),
        steps=[StepRecord(c.to_dict(), "planned") for c in plan.changes], confirm=_confirm_list(confirm),
        notes=list(plan.notes), undo_of=undo_of or plan.undo_of)
    result = ApplyResult("planned", plan, record.steps, record.id, record=record)
    error: ActionError | None = None
    try:
        _run_prechecks(ops, plan)
        record.checks = [c.to_dict() for c in plan.checks]
        check_plan(ops, plan)
        if ops.profile.production and not dry_run:
            check_confirmation(plan, confirm)
    except ActionRefused as exc:
        result.status, result.reason = "refused", exc.reason
        for s in record.steps:
            s.status = "refused"
        error = exc
    if result.status == "planned" and not dry_run:
        error = _apply_steps(ops, plan, result)
    record.status, record.reason = result.status, result.reason
    result.audit_db_error = record_everywhere(ops, record, log, database=audit_database)
    if error is not None and raise_on_error:
        error.result = result
        raise error
    return result


def _apply_steps(ops: "Ops", plan: Plan, result: ApplyResult) -> ActionFailed | None:
    applied: list[str] = []
    for i, (change, step) in enumerate(zip(plan.changes, result.steps), 1):
        label = f"change {i}: {change.resource} {change.attribute}"
        try:
            step.before = kinds.read(ops, change)
            if change.meta.get("stale_check", True) and step.before != change.current:
                raise ActionError(f"{change.resource} {change.attribute} is {show(step.before)} now, not "
                                  f"{show(change.current)} as planned; plan again")
            kinds.execute(ops, change)
        except Exception as exc:  # any failure of a call stops the plan; the record says which
            step.status, step.error = "failed", f"{type(exc).__name__}: {exc}"
            for later in result.steps[i:]:
                later.status = "not_applied"
            result.status = "failed"
            result.reason = f"{label} failed ({step.error}); {len(applied)} applied before it, " \
                            f"{len(result.steps) - i} not applied"
            err = ActionFailed(result.reason, applied=applied, failed=label)
            err.__cause__ = exc
            return err
        step.status = "applied"
        applied.append(label)
        try:
            step.after = kinds.read(ops, change)
        except Exception as exc:  # the change is applied; only its read-back failed, and the record says so
            step.error = f"applied, but reading it back failed: {type(exc).__name__}: {exc}"
            continue
        expect_change = change.meta.get("verify") == "changed"
        if (step.after == step.before) if expect_change else (step.after != change.new):
            step.error = f"read back {show(step.after)}, planned {show(change.new)} (may still be converging)"
    result.status = "applied"
    return None
