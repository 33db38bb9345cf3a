"""SQL changes on the operational database (or the warehouse): ``VACUUM ANALYZE``, ``CREATE INDEX
CONCURRENTLY`` (both outside a transaction: AUTOCOMMIT), and ``DELETE`` with the row count shown first."""
from __future__ import annotations

import re
import shlex
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..errors import ActionError, ParameterError
from . import kinds
from .plan import Change, Plan

if TYPE_CHECKING:
    from ..connection import Ops

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _engine(ops: "Ops", which: str, *, write: bool = True) -> sa.Engine:
    """The engine for ``which``; reads of the DuckDB warehouse stay read-only, so planning never takes
    the write lock other runs would collide with."""
    if which == "warehouse":
        return ops.warehouse_for_writing() if write else ops.warehouse
    return ops.database


def _split(name: str, what: str) -> tuple[str | None, str]:
    parts = name.split(".")
    if len(parts) > 2 or not all(_IDENT.match(p) for p in parts):
        raise ParameterError(what, name, "an identifier (letters, digits, _), optionally schema-qualified")
    return (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0])


def _quoted(engine: sa.Engine, name: str, what: str) -> str:
    schema, obj = _split(name, what)
    q = engine.dialect.identifier_preparer.quote
    return f"{q(schema)}.{q(obj)}" if schema else q(obj)


def psql(engine: sa.Engine, statement: str) -> str:
    """The ``psql`` command for ``statement`` against ``engine``'s database (never with its password)."""
    u = engine.url
    if u.get_backend_name() != "postgresql":
        return f"-- on {u.get_backend_name()} {u.database or ''}: {statement}"
    opts = [f"-h {shlex.quote(u.host or 'localhost')}", f"-p {u.port or 5432}"]
    if u.username:
        opts.append(f"-U {shlex.quote(u.username)}")
    return f"psql {' '.join(opts)} -d {shlex.quote(u.database or '')} -c {shlex.quote(statement)}"


def _resource(engine: sa.Engine, which: str, name: str) -> str:
    return f"{which} {engine.url.database or engine.url.get_backend_name()}: {name}"


# -- VACUUM ANALYZE --------------------------------------------------------------------------------
def _read_vacuum(ops: "Ops", change: Change) -> str | None:
    schema, table = _split(change.params["table"], "table")
    q = sa.text("SELECT greatest(last_vacuum, last_autovacuum) FROM pg_stat_user_tables "
                "WHERE relname = :t AND schemaname = coalesce(:s, current_schema())")
    with _engine(ops, change.params["database"]).connect() as conn:
        value = conn.execute(q, {"t": table, "s": schema}).scalar()
    return value.isoformat() if value is not None else None


def _autocommit(ops: "Ops", change: Change) -> None:
    with _engine(ops, change.params["database"]).connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(change.params["statement"])


def plan_vacuum(ops: "Ops", table: str | None = None, *, analyze: bool = True, database: str = "database") -> Plan:
    """``VACUUM [ANALYZE] table`` (outside a transaction; the runbook's cron line as a reviewed action).
    ``table`` None: the profile's events table of ``database`` (``databases.<database>.events_table``)."""
    if table is None:
        from ..events_table import for_source
        table = for_source(ops, database, reflected=False).display
    engine = _engine(ops, database)
    statement = f"VACUUM {'ANALYZE ' if analyze else ''}{_quoted(engine, table, 'table')}"
    change = Change(kind="sql.vacuum", resource=_resource(engine, database, table), attribute="last vacuum",
                    current=None, new="(a newer time)", service="sql", operation="execute",
                    params={"database": database, "table": table, "statement": statement},
                    cli=psql(engine, statement), target=table, undo=None,
                    meta={"verify": "changed", "stale_check": False},
                    note="runs outside a transaction (VACUUM cannot run inside one); nothing to undo")
    change = change.with_current(_read_vacuum(ops, change))
    return Plan(f"vacuum {table}", [change], ops)


# -- CREATE INDEX CONCURRENTLY ---------------------------------------------------------------------
def _read_index(ops: "Ops", change: Change) -> str:
    schema, name = _split(change.params["index"], "name")
    q = sa.text("SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relname = :n AND n.nspname = coalesce(:s, current_schema())")
    with _engine(ops, change.params["database"]).connect() as conn:
        valid = conn.execute(q, {"n": name, "s": schema}).scalar()
    return "absent" if valid is None else ("present" if valid else "invalid")


def plan_create_index(ops: "Ops", name: str, table: str, columns: list[str], *, where: str | None = None,
                      database: str = "database") -> Plan:
    """``CREATE INDEX CONCURRENTLY`` (undo: ``DROP INDEX CONCURRENTLY``). ``where`` must be immutable: the
    runbook's ``WHERE event_timestamp > NOW() - INTERVAL '7 days'`` is rejected by PostgreSQL (NOW() is not
    immutable); give a fixed timestamp instead."""
    engine = _engine(ops, database)
    schema, _ = _split(table, "table")
    index = f"{schema}.{name}" if schema and "." not in name else name
    _split(index, "name")
    cols = ", ".join(_quoted(engine, c, "columns") for c in columns)
    if where and re.search(r"\b(now|current_timestamp|current_date)\b", where, re.I):
        raise ParameterError("where", where, "an immutable predicate, e.g. event_timestamp > '2026-11-18' "
                             "(NOW() is not allowed in an index predicate)")
    create = (f"CREATE INDEX CONCURRENTLY {engine.dialect.identifier_preparer.quote(_split(name, 'name')[1])} "
              f"ON {_quoted(engine, table, 'table')} ({cols})" + (f" WHERE {where}" if where else ""))
    drop = f"DROP INDEX CONCURRENTLY IF EXISTS {_quoted(engine, index, 'name')}"

    def change(current: str, new: str, statement: str, undo: Change | None = None) -> Change:
        return Change(kind="sql.index", resource=_resource(engine, database, index), attribute="index",
                      current=current, new=new, service="sql", operation="execute",
                      params={"database": database, "index": index, "statement": statement},
                      cli=psql(engine, statement), target=index.split(".")[-1], undo=undo,
                      note="runs outside a transaction (CONCURRENTLY cannot run inside one)")

    probe = change("absent", "present", create)
    current = _read_index(ops, probe)
    if current == "present":
        return Plan(f"create index {index}", [], ops, [f"index {index} already exists"])
    notes = [f"index {index} exists but is INVALID (a failed concurrent build): drop it first"] if current == "invalid" else []
    return Plan(f"create index {index}", [change(current, "present", create, change("present", "absent", drop))],
                ops, notes)


# -- DELETE with a count first ---------------------------------------------------------------------
def _count(conn: sa.Connection, engine: sa.Engine, change: Change) -> int:
    q = f"SELECT count(*) FROM {_quoted(engine, change.params['table'], 'table')} WHERE {change.params['where']}"
    return int(conn.execute(sa.text(q), change.params["bind"]).scalar())


def _read_delete(ops: "Ops", change: Change) -> int:
    engine = _engine(ops, change.params["database"], write=False)
    with engine.connect() as conn:
        return _count(conn, engine, change)


def _execute_delete(ops: "Ops", change: Change) -> None:
    """Count again inside the transaction; delete only if the count is the one the plan showed."""
    engine = _engine(ops, change.params["database"])
    with engine.begin() as conn:
        now = _count(conn, engine, change)
        if now != change.meta["count"]:
            raise ActionError(f"{now} rows match now, the plan showed {change.meta['count']}; nothing deleted, plan again")
        q = f"DELETE FROM {_quoted(engine, change.params['table'], 'table')} WHERE {change.params['where']}"
        deleted = conn.execute(sa.text(q), change.params["bind"]).rowcount
        if deleted not in (now, -1):
            raise ActionError(f"DELETE removed {deleted} rows, expected {now}; rolled back")


def _literal(engine: sa.Engine, where: str, bind: dict[str, Any]) -> str:
    try:
        return str(sa.text(where).bindparams(**bind).compile(dialect=engine.dialect,
                                                             compile_kwargs={"literal_binds": True}))
    except (sa.exc.CompileError, NotImplementedError):
        return f"{where}  -- with {bind}"


def plan_delete(ops: "Ops", table: str, where: str, bind: dict[str, Any] | None = None, *, database: str = "database",
                max_rows: int | None = None, reason: str = "") -> Plan:
    """``DELETE FROM table WHERE where`` (bound parameters in ``bind``), counted first; refused above ``max_rows``.

    Use a bound cut-off (``event_timestamp < :cutoff``), not ``NOW()``, so the plan and the delete agree."""
    engine = _engine(ops, database, write=False)
    if not where.strip():
        raise ParameterError("where", where, "a condition (deleting a whole table is not an action)")
    bind = dict(bind or {})
    statement = f"DELETE FROM {_quoted(engine, table, 'table')} WHERE {_literal(engine, where, bind)}"
    change = Change(kind="sql.delete", resource=_resource(engine, database, table), attribute="rows matching",
                    current=None, new=0, service="sql", operation="execute",
                    params={"database": database, "table": table, "where": where, "bind": bind},
                    cli=psql(engine, statement), target=table, undo=None, meta={"max_count": max_rows},
                    note="cannot be undone" + (f"; {reason}" if reason else ""))
    count = _read_delete(ops, change)
    change = replace(change, current=count, meta={**change.meta, "count": count},
                     note=f"deletes {count} rows; {change.note}")
    return Plan(f"delete {count} rows from {table}", [change] if count else [], ops,
                [] if count else [f"no rows of {table} match; nothing to delete"])


kinds.register("sql.vacuum", read=_read_vacuum, execute=_autocommit)
kinds.register("sql.index", read=_read_index, execute=_autocommit)
kinds.register("sql.delete", read=_read_delete, execute=_execute_delete)
