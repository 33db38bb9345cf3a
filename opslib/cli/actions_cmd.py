"""``runbook undo AUDIT_ID`` and ``runbook audit list``: thin wrappers over :mod:`opslib.actions`."""
from __future__ import annotations

import click

AUDIT_DIR_OPTION = click.option("--audit-dir", default=None,
                                help="the audit log's folder [default: $OPSLIB_AUDIT_DIR, else ARCHIVE/audit]")
ARCHIVE_OPTION = click.option("--archive", default=None, help="folder archive whose audit/ to use [default: "
                              "$OPSLIB_ARCHIVE, else runs/ beside parameters/]")


def register(group: click.Group) -> None:
    group.add_command(undo)
    group.add_command(audit)


@click.command()
@click.argument("audit_id")
@click.option("--profile", default=None, help="profile name or YAML path (default $OPSLIB_PROFILE or sandbox)")
@click.option("--apply", "do_apply", is_flag=True, help="apply the undo (default: show the plan only, a dry run)")
@click.option("--confirm", default=None, help="production profiles: the resource name(s) being changed, comma-separated")
@AUDIT_DIR_OPTION
@ARCHIVE_OPTION
def undo(audit_id: str, profile: str | None, do_apply: bool, confirm: str | None, audit_dir: str | None,
         archive: str | None) -> int:
    """Plan (and with --apply, apply) the inverse of the changes applied by audit record AUDIT_ID."""
    from ..actions.undo import undo as plan_and_apply
    result = plan_and_apply(audit_id, profile=profile, apply_it=do_apply, confirm=confirm, audit_dir=audit_dir,
                            archive=archive, show=lambda plan: click.echo(plan.to_text()))
    click.echo(result.to_text(apply_hint="run again with --apply to apply it"))
    return 0 if result.status in ("planned", "applied") else 1


@click.group()
def audit() -> None:
    """The audit log of runbook actions."""


@audit.command("list")
@AUDIT_DIR_OPTION
@ARCHIVE_OPTION
@click.option("--limit", default=20, show_default=True, help="most recent records to show")
def audit_list(audit_dir: str | None, archive: str | None, limit: int) -> int:
    """The most recent attempts: id, time, status, profile, operator, title."""
    from ..actions.audit import AuditLog, archive_audit_dir
    log = AuditLog(audit_dir or archive_audit_dir(archive))
    click.echo(log.table(limit))
    return 0
