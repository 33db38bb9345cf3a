"""Undo: the inverse of an applied (or partially applied) plan, planned from its audit record alone.

The undo of each applied change is taken from the record in reverse order, its current value re-read
live; the result is an ordinary :class:`Plan`, applied with the same dry-run and confirmation rules."""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Callable

from ..errors import ActionError
from . import kinds
from .audit import AuditLog, AuditRecord, find_in_db
from .plan import Change, Plan

if TYPE_CHECKING:
    from ..connection import Ops
    from .apply import ApplyResult


def find_record(ops: "Ops | None", audit_id: str, *, audit_dir: str | None = None) -> AuditRecord:
    """The record from the JSONL log, else from the profile database's ``audit_logs``."""
    try:
        return AuditLog(audit_dir).get(audit_id)
    except ActionError:
        if ops is None:
            raise
        return find_in_db(ops.database, audit_id)


def plan_undo(ops: "Ops", audit_id: str, *, audit_dir: str | None = None) -> Plan:
    """The plan that reverses the applied changes of audit record ``audit_id``."""
    record = find_record(ops, audit_id, audit_dir=audit_dir)
    if record.dry_run or record.status == "refused":
        raise ActionError(f"audit record {audit_id} is {record.status} (dry run: {record.dry_run}); nothing was "
                          f"applied, so there is nothing to undo")
    if record.profile != ops.profile.name:
        raise ActionError(f"audit record {audit_id} was applied with profile {record.profile!r}, "
                          f"not {ops.profile.name!r}; undo it with --profile {record.profile}")
    changes: list[Change] = []
    notes = [f"undo of {record.id} ({record.status}: {record.title})"]
    for step in reversed([s for s in record.steps if s.status == "applied"]):
        forward = Change.from_dict(step.change)
        if forward.undo is None:
            notes.append(f"{forward.resource} {forward.attribute}: cannot be undone ({forward.note or 'no inverse'})")
            continue
        inverse = forward.undo
        try:
            live = kinds.read(ops, inverse)
        except Exception as exc:   # reading failed: the undo cannot be planned safely
            raise ActionError(f"cannot read {inverse.resource} {inverse.attribute} to plan the undo: {exc}") from exc
        back = None if forward.redacted else replace(forward, current=inverse.new, undo=None)
        changes.append(replace(inverse, current=live, undo=back))
    if not changes:
        notes.append("no applied change of that record can be undone")
    return Plan(f"undo {record.id}: {record.title}", changes, ops, notes, undo_of=record.id)


def undo(audit_id: str, *, profile: "str | None" = None, apply_it: bool = False, confirm: "str | None" = None,
         audit_dir: "str | None" = None, archive: "str | None" = None,
         show: "Callable[[Plan], None] | None" = None) -> "ApplyResult":
    """``runbook undo AUDIT_ID``: plan the inverse of audit record ``audit_id`` on ``profile`` and, with
    ``apply_it``, apply it (else a dry run); ``show`` sees the plan before it is applied. The audit log is
    ``audit_dir``, else the ``audit/`` of the folder ``archive``, else the default (:func:`.audit.audit_dir`)."""
    from ..connection import connect
    from .apply import apply
    from .audit import archive_audit_dir
    audit_dir = audit_dir or archive_audit_dir(archive)
    ops = connect(profile)
    try:
        plan = plan_undo(ops, audit_id, audit_dir=audit_dir)
        if show is not None:
            show(plan)
        return apply(plan, dry_run=not apply_it, confirm=confirm, audit_dir=audit_dir, raise_on_error=False)
    finally:
        ops.close()
