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
  "not measurable" instead of a Binder Error;
* time columns stored as numbers or text (common in raw clickstream tables; reflection reads each column's
  type, and the profile's ``databases.<which>.timestamps`` says how: ``epoch_s``, ``epoch_ms``, ``epoch_us``,
  ``iso_text``): ``.col`` gives ``event_timestamp`` and ``received_at`` as naive UTC TIMESTAMP expressions
  (:class:`epoch_timestamp`, compiled per dialect, or a CAST), so every reader compares them with the same
  bounds as native columns; ``.within`` filters a window on a numeric column as stored, so it still prunes; a
  stored form the setting does not match is a :class:`QueryError` saying what to set.
  :meth:`EventsTable.encode` turns a time back into the stored form for writers (backfill).

:func:`reflect` reads the columns once (SQLAlchemy's inspector, one catalog query); without reflection
(:meth:`EventsTable.assumed`) every mapped column is assumed present, for compiling SQL offline.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from functools import cached_property
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

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


#: the runbook's time columns, and how many of each stored unit make a second
TIME_COLUMNS = ("event_timestamp", "received_at")
EPOCH_UNITS = {"epoch_s": 1, "epoch_ms": 1_000, "epoch_us": 1_000_000}


class epoch_timestamp(FunctionElement):
    """``epoch_timestamp(column, per_second)``: a number of 1/``per_second`` seconds since 1970-01-01 UTC as a
    naive UTC TIMESTAMP (the convention of native events tables)."""
    inherit_cache = True
    type = sa.DateTime()
    name = "epoch_timestamp"


def _epoch_args(element, compiler, **kw) -> tuple[str, int]:
    column, per_second = list(element.clauses)
    return compiler.process(column, **kw), int(per_second.value)


@compiles(epoch_timestamp)
def _epoch_default(element, compiler, **kw):          # PostgreSQL (to_timestamp gives timestamptz: back to UTC)
    column, per_second = _epoch_args(element, compiler, **kw)
    return f"(to_timestamp({column} / {per_second}.0) AT TIME ZONE 'UTC')"


@compiles(epoch_timestamp, "duckdb")
def _epoch_duckdb(element, compiler, **kw):            # microseconds since the epoch -> TIMESTAMP
    column, per_second = _epoch_args(element, compiler, **kw)
    return f"make_timestamp(CAST({column} * {1_000_000 // per_second} AS BIGINT))"


@compiles(epoch_timestamp, "redshift")
def _epoch_redshift(element, compiler, **kw):
    column, per_second = _epoch_args(element, compiler, **kw)
    return f"(TIMESTAMP 'epoch' + ({column} / {per_second}.0) * INTERVAL '1 second')"


@dataclass(frozen=True)
class EventsTable:
    """The events table: name, schema, the runbook -> real column map and the runbook columns present."""
    name: str
    schema: str | None = None
    columns: Mapping[str, str] = field(default_factory=dict)     # runbook name -> real name (all ten)
    present: frozenset = frozenset(EVENT_COLUMNS)                 # runbook names the table has
    exists: bool = True
    reflected: bool = False
    timestamps: str = "native"                                    # the profile's: native, iso_text, epoch_*
    stored: Mapping[str, str] = field(default_factory=dict)      # time column -> "number" | "text" (not native)

    @classmethod
    def assumed(cls, events_table: str = "events", columns: Mapping[str, str] | None = None, *,
                schema: str | None = None, key: str = "events_table", timestamps: str = "native") -> "EventsTable":
        """Every runbook column assumed present (no round trip): for compiling SQL, or a known table."""
        if schema is None:
            schema, name = split_name(events_table, key=key)
        else:
            name = events_table
        mapping = {c: c for c in EVENT_COLUMNS}
        mapping.update(columns or {})
        kind = "number" if timestamps in EPOCH_UNITS else "text" if timestamps == "iso_text" else None
        return cls(name=name, schema=schema, columns=mapping, timestamps=timestamps,
                   stored=dict.fromkeys(TIME_COLUMNS, kind) if kind else {})

    @classmethod
    def from_settings(cls, db: Any, *, which: str = "warehouse") -> "EventsTable":
        """From a profile's ``databases.<which>`` (its ``events_table``, ``columns`` and ``timestamps``),
        unreflected."""
        return cls.assumed(getattr(db, "events_table", "events") or "events", getattr(db, "columns", None) or {},
                           key=f"databases.{which}.events_table", timestamps=getattr(db, "timestamps", "native"))

    # -- the SQL handles -------------------------------------------------------------------------
    @cached_property
    def table(self) -> sa.TableClause:
        """One TableClause per EventsTable (every query of a run refers to the same FROM element)."""
        cols = [sa.column(self.columns[c]) for c in EVENT_COLUMNS if c in self.present]
        return sa.table(self.name, *cols, schema=self.schema)

    def col(self, name: str) -> sa.ColumnElement:
        """The table's column for runbook column ``name`` (a time column stored as a number or text: as a naive
        UTC TIMESTAMP expression); :class:`QueryError` when the table lacks it (callers ask :meth:`has` first)."""
        if name not in EVENT_COLUMNS:
            raise ValueError(f"{name!r} is not a runbook column ({', '.join(EVENT_COLUMNS)})")
        if name not in self.present:
            raise QueryError(f"{self.display} has no column for {name!r} ({self.columns[name]!r})")
        column = self.table.c[self.columns[name]]
        kind = self._stored(name)
        if kind is None:
            return column
        return epoch_timestamp(column, EPOCH_UNITS[self.timestamps]) if kind == "number" else \
            sa.cast(column, sa.DateTime())

    def _stored(self, name: str) -> str | None:
        """How the table stores runbook column ``name``: None (as the database's times, or not a time column),
        "number" or "text"; a :class:`QueryError` saying what to set when the profile's ``timestamps`` does not
        say how to read it."""
        kind = self.stored.get(name)
        readable = {"number": self.timestamps in EPOCH_UNITS, "text": self.timestamps == "iso_text"}
        if kind is None or readable[kind]:
            return kind
        holds, what = (("numbers", "epoch_s, epoch_ms or epoch_us (its unit)") if kind == "number"
                       else ("text", "iso_text"))
        raise QueryError(f"{self.display}.{self.columns[name]} ({name}) holds {holds}, not times: set "
                         f"databases.<warehouse|database>.timestamps to {what}")

    def within(self, name: str, start: datetime | None = None, end: datetime | None = None) -> sa.ColumnElement:
        """``start <= name < end`` for time column ``name`` (naive UTC bounds; either may be None). A column stored
        as numbers is compared as stored, with the bounds in its unit, so that its sort key, zone maps or
        partitions still prune (a converted column cannot); text and TIMESTAMP columns through :meth:`col`."""
        column = self.col(name)                     # QueryError for a column the table lacks or cannot read
        if self._stored(name) == "number":
            column, start, end = self.table.c[self.columns[name]], self.encode(name, start), self.encode(name, end)
        return sa.and_(*([column >= start] if start is not None else []),
                       *([column < end] if end is not None else []))

    def encode(self, name: str, value: Any) -> Any:
        """``value`` as the table stores runbook column ``name``: a time (naive = UTC) becomes the number of
        seconds, milliseconds or microseconds since the epoch, or ISO 8601 text in UTC (``...Z``), when the table
        keeps its times so (a :class:`QueryError` as for :meth:`col` when the profile does not say how)."""
        if not isinstance(value, datetime):
            return value
        kind = self._stored(name)
        if kind is None:
            return value
        utc = value.astimezone(timezone.utc) if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
        if kind == "text":
            return utc.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
        delta, unit = utc - datetime(1970, 1, 1, tzinfo=timezone.utc), EPOCH_UNITS[self.timestamps]
        return (delta.days * 86_400 + delta.seconds) * unit + delta.microseconds * unit // 1_000_000

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
        return replace(self, columns=dict(self.columns), present=frozenset(present), exists=exists, reflected=True)


_COLUMNS_SQL = {      # information_schema: one cheap catalog query (DuckDB's pg_catalog lacks what the inspector reads)
    "default": sa.text("SELECT column_name, data_type FROM information_schema.columns "
                       "WHERE table_name = :t AND table_schema = coalesce(:s, current_schema())"),
}
_INFORMATION_SCHEMA = ("duckdb", "postgresql", "redshift")
#: information_schema data types of numbers (an epoch time column) and of text, not of times
NUMERIC_TYPE = re.compile(r"u?(big|small|tiny|huge)?int(eger|\d+)?\b|numeric|decimal|double|real|float", re.I)
TEXT_TYPE = re.compile(r"(character varying|varchar|character|char|text|string|nvarchar)\b", re.I)


def time_kind(data_type: Any) -> str | None:
    """How a column of ``data_type`` (information_schema's text or a SQLAlchemy type) holds a time: "number",
    "text", or None (a TIMESTAMP, or anything else the database compares with times)."""
    if isinstance(data_type, sa.types.TypeEngine):
        return "number" if isinstance(data_type, (sa.Integer, sa.Numeric, sa.Float)) else \
            "text" if isinstance(data_type, sa.String) else None
    return "number" if NUMERIC_TYPE.match(str(data_type)) else "text" if TEXT_TYPE.match(str(data_type)) else None


def _columns(bind: sa.Engine | sa.Connection, events: EventsTable) -> list[tuple[str, str | None]]:
    """The table's columns as (name, :func:`time_kind` of its type)."""
    if bind.dialect.name in _INFORMATION_SCHEMA:
        with (bind.connect() if isinstance(bind, sa.Engine) else _nullcontext(bind)) as conn:
            return [(r[0], time_kind(r[1]))
                    for r in conn.execute(_COLUMNS_SQL["default"], {"t": str(events.name), "s": events.schema})]
    try:
        return [(c["name"], time_kind(c["type"])) for c in sa.inspect(bind).get_columns(events.name, schema=events.schema)]
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
        found = _columns(bind, events)
    except sa.exc.SQLAlchemyError as exc:
        raise QueryError(f"could not read the columns of {events.display} on {bind.dialect.name}: "
                         f"{getattr(exc, 'orig', None) or exc}") from exc
    if not found:
        return events.with_present((), exists=False)
    real = {str(name).lower(): (str(name), kind) for name, kind in found}
    columns, present, stored = dict(events.columns), set(), {}
    for runbook, name in events.columns.items():
        hit = real.get(str(name).lower())
        if hit is not None:
            columns[runbook] = hit[0]
            present.add(runbook)
            if hit[1] and runbook in TIME_COLUMNS:
                stored[runbook] = hit[1]
    return replace(events, columns=columns, present=frozenset(present), exists=True, reflected=True, stored=stored)


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
