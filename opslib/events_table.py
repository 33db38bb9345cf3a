"""The events table as the profile names it: one place that resolves ``databases.<which>.events_table``
(``events``, ``analytics.user_events``, ``"Raw"."Events"``) and ``.columns`` (runbook column name -> the
table's own column), and knows which of the runbook's columns the table really has.

Every reader of the events table (the quality checks, dashboards, index and vacuum advice, Redshift key
advice, GDPR deletion, backfill) goes through :class:`EventsTable`:

* ``.table`` - a lightweight ``sa.table`` (schema and name quoted by each dialect as needed) holding the
  columns the table has, under their real names;
* ``.col(name)`` - the real column for a runbook column name; ``.label(name)`` the same labelled back to
  the runbook name, so result frames always use the runbook's names;
* ``.has(name)`` / ``.missing(names)`` - which runbook columns are absent, so the checks needing them are
  "not measurable" instead of a Binder Error.

:func:`reflect` reads the columns once (SQLAlchemy's inspector, one catalog query); without reflection
(:meth:`EventsTable.assumed`) every mapped column is assumed present, for compiling SQL offline.
"""
from __future__ import annotations

import re
from functools import cached_property
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import sqlalchemy as sa

from .config import EVENT_COLUMNS
from .errors import ProfileError, QueryError

_PART = re.compile(r'\s*(?:"((?:[^"]|"")+)"|([^".\s]+))\s*')


def split_name(text: str, *, key: str = "events_table") -> tuple[str | None, str]:
    """``schema.table`` -> (schema, table); ``table`` -> (None, table). Double-quoted parts keep their case
    and may hold dots (``"Raw Data"."Events"``); unquoted parts are plain identifiers."""
    parts, pos, text = [], 0, str(text or "")
    while True:
        m = _PART.match(text, pos)
        if not m or m.end() == pos:
            break
        parts.append(sa.sql.quoted_name(m.group(1).replace('""', '"'), quote=True) if m.group(1) is not None
                     else m.group(2))
        pos = m.end()
        if pos < len(text) and text[pos] == ".":
            pos += 1
            continue
        break
    if pos != len(text) or not 1 <= len(parts) <= 2:
        raise ProfileError(f"{key}: {text!r} is not a table name; allowed: table or schema.table "
                           "(double-quote a part holding dots, spaces or capitals)", key=key,
                           allowed="table | schema.table")
    return (None, parts[0]) if len(parts) == 1 else (parts[0], parts[1])


@dataclass(frozen=True)
class EventsTable:
    """The events table: name, schema, the runbook -> real column map and the runbook columns present."""
    name: str
    schema: str | None = None
    columns: Mapping[str, str] = field(default_factory=dict)     # runbook name -> real name (all ten)
    present: frozenset = frozenset(EVENT_COLUMNS)                 # runbook names the table has
    exists: bool = True
    reflected: bool = False

    @classmethod
    def assumed(cls, events_table: str = "events", columns: Mapping[str, str] | None = None, *,
                schema: str | None = None, key: str = "events_table") -> "EventsTable":
        """Every runbook column assumed present (no round trip): for compiling SQL, or a known table."""
        if schema is None:
            schema, name = split_name(events_table, key=key)
        else:
            name = events_table
        mapping = {c: c for c in EVENT_COLUMNS}
        mapping.update(columns or {})
        return cls(name=name, schema=schema, columns=mapping)

    @classmethod
    def from_settings(cls, db: Any, *, which: str = "warehouse") -> "EventsTable":
        """From a profile's ``databases.<which>`` (its ``events_table`` and ``columns``), unreflected."""
        return cls.assumed(getattr(db, "events_table", "events") or "events", getattr(db, "columns", None) or {},
                           key=f"databases.{which}.events_table")

    # -- the SQL handles -------------------------------------------------------------------------
    @cached_property
    def table(self) -> sa.TableClause:
        """One TableClause per EventsTable (every query of a run refers to the same FROM element)."""
        cols = [sa.column(self.columns[c]) for c in EVENT_COLUMNS if c in self.present]
        return sa.table(self.name, *cols, schema=self.schema)

    def col(self, name: str) -> sa.ColumnClause:
        """The table's column for runbook column ``name``; :class:`QueryError` when the table lacks it
        (callers ask :meth:`has` first)."""
        if name not in EVENT_COLUMNS:
            raise ValueError(f"{name!r} is not a runbook column ({', '.join(EVENT_COLUMNS)})")
        if name not in self.present:
            raise QueryError(f"{self.display} has no column for {name!r} ({self.columns[name]!r})")
        return self.table.c[self.columns[name]]

    def label(self, name: str) -> sa.Label:
        """:meth:`col` labelled with the runbook's name."""
        return self.col(name).label(name)

    def has(self, name: str) -> bool:
        return name in self.present

    def missing(self, names: Iterable[str]) -> list[str]:
        """The runbook columns of ``names`` the table lacks, in the order given."""
        return [n for n in names if n not in self.present]

    def describe_missing(self, names: Iterable[str]) -> str:
        """``analytics.user_events has no received_at`` (real names in brackets where mapped)."""
        missing = self.missing(names)
        if not self.exists:
            return f"table {self.display} not found"
        shown = [n if self.columns[n] == n else f"{n} (mapped to {self.columns[n]})" for n in missing]
        return f"{self.display} has no column {', '.join(shown)}"

    def sql_name(self, bind: Any) -> str:
        """The table's name as ``bind``'s dialect writes it (schema-qualified, quoted where needed)."""
        dialect = getattr(bind, "dialect", bind)
        return dialect.identifier_preparer.format_table(self.table)

    def real(self, name: str) -> str:
        """The table's own name for runbook column ``name`` (whether present or not)."""
        return str(self.columns[name])

    @property
    def display(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else str(self.name)

    def with_present(self, present: Iterable[str], *, exists: bool = True) -> "EventsTable":
        return EventsTable(self.name, self.schema, dict(self.columns), frozenset(present), exists, True)


_COLUMNS_SQL = {      # information_schema: one cheap catalog query (DuckDB's pg_catalog lacks what the inspector reads)
    "default": sa.text("SELECT column_name FROM information_schema.columns "
                       "WHERE table_name = :t AND table_schema = coalesce(:s, current_schema())"),
}
_INFORMATION_SCHEMA = ("duckdb", "postgresql", "redshift")


def _column_names(bind: sa.Engine | sa.Connection, events: EventsTable) -> list[str]:
    if bind.dialect.name in _INFORMATION_SCHEMA:
        with (bind.connect() if isinstance(bind, sa.Engine) else _nullcontext(bind)) as conn:
            return [r[0] for r in conn.execute(_COLUMNS_SQL["default"], {"t": str(events.name), "s": events.schema})]
    try:
        return [c["name"] for c in sa.inspect(bind).get_columns(events.name, schema=events.schema)]
    except sa.exc.NoSuchTableError:
        return []


class _nullcontext:
    def __init__(self, value):
        self.value = value

    def __enter__(self):
        return self.value

    def __exit__(self, *exc):
        return False


def reflect(bind: sa.Engine | sa.Connection, events: EventsTable) -> EventsTable:
    """``events`` with the runbook columns the database's table really has (one catalog query:
    ``information_schema.columns`` on DuckDB, PostgreSQL and Redshift, SQLAlchemy's inspector elsewhere).
    A table that does not exist has none (``exists`` False): every check is then "not measurable"."""
    try:
        found = _column_names(bind, events)
    except sa.exc.SQLAlchemyError as exc:
        raise QueryError(f"could not read the columns of {events.display} on {bind.dialect.name}: "
                         f"{getattr(exc, 'orig', None) or exc}") from exc
    if not found:
        return events.with_present((), exists=False)
    real = {str(name).lower(): str(name) for name in found}
    columns, present = dict(events.columns), set()
    for runbook, name in events.columns.items():
        hit = real.get(str(name).lower())
        if hit is not None:
            columns[runbook] = hit
            present.add(runbook)
    return EventsTable(events.name, events.schema, columns, frozenset(present), True, True)


def for_source(ops: Any, source: str, bind: sa.Engine | sa.Connection | None = None, *,
               reflected: bool = True) -> EventsTable:
    """The events table of ``ops.profile.databases.<source>`` (``warehouse`` or ``database``), its columns
    read on ``bind`` (default: ``ops.<source>``; ``reflected=False``: no round trip, all assumed)."""
    db = getattr(ops.profile.databases, source)
    events = EventsTable.from_settings(db, which=source)
    if not reflected:
        return events
    return reflect(bind if bind is not None else getattr(ops, source), events)


def as_events(table: Any) -> EventsTable:
    """An :class:`EventsTable` from None (the default ``events``), an EventsTable, or a bare ``sa.table``
    (its name and schema; every runbook column assumed, under its own name)."""
    if table is None:
        return EventsTable.assumed()
    if isinstance(table, EventsTable):
        return table
    if isinstance(table, sa.TableClause):
        return EventsTable.assumed(table.name, schema=table.schema)
    if isinstance(table, str):
        return EventsTable.assumed(table)
    raise TypeError(f"table: expected an EventsTable, sa.table or name, got {type(table).__name__}")
