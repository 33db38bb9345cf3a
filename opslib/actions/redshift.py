"""Redshift changes: distribution style and sort key of a warehouse table (the Performance Tuning
runbook's advice), applied outside a transaction and read back from ``svv_table_info``/``pg_table_def``."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ..errors import QueryError
from . import kinds
from .plan import Change, Plan
from .sql import psql


def _read(ops: Any, change: Change) -> str | None:
    table = change.params["table"]
    with ops.warehouse.connect() as conn:
        if change.params["what"] == "dist":
            return conn.execute(sa.text('SELECT "diststyle" FROM svv_table_info WHERE "table" = :t'), {"t": table}).scalar()
        cols = conn.execute(sa.text('SELECT "column" FROM pg_table_def WHERE tablename = :t AND sortkey > 0 '
                                    'ORDER BY sortkey'), {"t": table}).scalars().all()
        return ", ".join(cols) or None


def _execute(ops: Any, change: Change) -> None:
    with ops.warehouse_for_writing().connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(change.params["statement"])


kinds.register("sql.redshift_keys", read=_read, execute=_execute)


def plan_keys(ops: Any, advice: Any) -> Plan:
    """``advice`` (table, diststyle, sortkey, statements: see :func:`opslib.sections.performance.key_advice`) as a
    Plan on a Redshift warehouse; on any other warehouse an empty plan whose notes say the SQL is for
    review only."""
    engine = ops.warehouse
    backend = engine.url.get_backend_name()
    title = f"Redshift keys of {advice.table}"
    if backend != "redshift" and ops.profile.databases.warehouse.dialect_hint != "redshift":
        return Plan(title, [], ops, [f"the warehouse is {backend}, not Redshift: the SQL above is advice to review "
                                     "on the Redshift cluster; nothing is applied here"])
    changes = []
    for what, attribute, new, stmt in (("dist", "distribution style", advice.diststyle, advice.statements[0]),
                                       ("sort", "sort key", ", ".join(advice.sortkey), advice.statements[1])):
        probe = Change(kind="sql.redshift_keys", resource=f"warehouse table {advice.table}", attribute=attribute,
                       current=None, new=new, service="sql", operation="execute",
                       params={"table": advice.table, "what": what, "statement": stmt.rstrip(";")},
                       cli=psql(engine, stmt), target=advice.table, meta={"stale_check": True},
                       note="ALTER DISTKEY/SORTKEY rewrites the table in the background; cannot run in a transaction")
        try:
            current = _read(ops, probe)
        except sa.exc.SQLAlchemyError as exc:
            raise QueryError(f"cannot read the keys of {advice.table}: {getattr(exc, 'orig', None) or exc}") from exc
        if current != new:
            changes.append(probe.with_current(current))
    return Plan(title, changes, ops, [] if changes else [f"{advice.table} already has the advised keys"])
