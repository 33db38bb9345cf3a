"""``runbook undo AUDIT_ID`` and ``runbook audit list``: thin wrappers over :mod:`opslib.actions`."""
from __future__ import annotations

import click


def register(group: click.Group) -> None:
    group.add_command(undo)
    group.add_command(audit)


@click.command()
@click.argument("audit_id")
@click.option("--profile", default=None, help="profile name or YAML path (default $OPSLIB_PROFILE or sandbox)")
@click.option("--apply", "do_apply", is_flag=True, help="apply the undo (default: show the plan only, a dry run)")
@click.option("--confirm", default=None, help="production profiles: the resource name(s) being changed, comma-separated")
@click.option("--audit-dir", default=None, help="the audit log's folder (default $OPSLIB_AUDIT_DIR or .audit/)")
def undo(audit_id: str, profile: str | None, do_apply: bool, confirm: str | None, audit_dir: str | None) -> int:
    """Plan (and with --apply, apply) the inverse of the changes applied by audit record AUDIT_ID."""
    from ..actions import apply, plan_undo
    from ..connection import connect
    ops = connect(profile)
    try:
        plan = plan_undo(ops, audit_id, audit_dir=audit_dir)
        click.echo(plan.to_text())
        result = apply(plan, dry_run=not do_apply, confirm=confirm, audit_dir=audit_dir, raise_on_error=False)
        click.echo(result.to_text())
    finally:
        ops.close()
    return 0 if result.status in ("planned", "applied") else 1


@click.group()
def audit() -> None:
    """The audit log of runbook actions."""


@audit.command("list")
@click.option("--audit-dir", default=None, help="the audit log's folder (default $OPSLIB_AUDIT_DIR or .audit/)")
@click.option("--limit", default=20, show_default=True, help="most recent records to show")
def audit_list(audit_dir: str | None, limit: int) -> int:
    """The most recent attempts: id, time, status, profile, operator, title."""
    from ..actions.audit import AuditLog
    from ..actions.plan import text_table
    log = AuditLog(audit_dir)
    records = log.records()[-limit:]
    if not records:
        click.echo(f"no audit records in {log.path}")
        return 0
    rows = [{"id": r.id, "time": r.timestamp, "status": r.status, "profile": r.profile,
             "operator": r.operator.get("local_user", ""), "title": r.title} for r in records]
    click.echo(text_table(rows, ["id", "time", "status", "profile", "operator", "title"]))
    return 0
