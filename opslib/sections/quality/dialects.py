"""Every SQL dialect difference of the quality checks, in one place.

The checks are SQLAlchemy Core selectables; the few expressions whose spelling differs between
warehouses are the constructs below, each compiled per dialect with ``@compiles``:

* :class:`hour_trunc` - the hour an event falls in. ``date_trunc('hour', ts)`` on DuckDB,
  PostgreSQL, Redshift and Athena/Trino. The unit is rendered as a literal, never a bound parameter:
  PostgreSQL with server-side binding (psycopg 3) sees ``date_trunc($1, ts)`` in SELECT and
  ``date_trunc($2, ts)`` in GROUP BY as different expressions and refuses the query.
* :class:`seconds_between` - ``a - b`` in seconds: ``EXTRACT(EPOCH FROM a - b)`` (DuckDB,
  PostgreSQL); Redshift has no interval arithmetic on columns, so ``DATEDIFF(millisecond, b, a)``.

Reading a time column stored as numbers (:class:`opslib.events_table.epoch_timestamp`) differs per dialect too;
it lives with the events table, the layer below, which every reader of the table goes through.

Session settings differ too: :func:`configure` caps DuckDB's buffer cache for the checks' connection
(without a cap an unsorted 100M-event warehouse keeps about 4 GB of decompressed blocks resident).

Bounds are passed as parameters, never ``NOW()``: :func:`db_time` turns an aware ``as_of`` into the
naive UTC the events tables store. Result frames go through :func:`normalize` (Redshift returns
``Decimal`` for sums, DuckDB numpy integers, PostgreSQL Python ints).
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from decimal import Decimal

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

from ...errors import ParameterError

#: Dialects the queries are compiled and tested for.
TESTED_DIALECTS = ("duckdb", "postgresql", "redshift")


class hour_trunc(FunctionElement):
    """The start of the hour of a TIMESTAMP column."""
    inherit_cache = True
    type = sa.DateTime()
    name = "hour_trunc"


@compiles(hour_trunc)
def _hour_trunc_default(element, compiler, **kw):
    return "date_trunc('hour', %s)" % compiler.process(element.clauses, **kw)


@compiles(hour_trunc, "sqlite")
def _hour_trunc_sqlite(element, compiler, **kw):
    return "strftime('%%Y-%%m-%%d %%H:00:00', %s)" % compiler.process(element.clauses, **kw)


class seconds_between(FunctionElement):
    """``a - b`` in seconds (float) for two TIMESTAMP expressions ``seconds_between(a, b)``."""
    inherit_cache = True
    type = sa.Float()
    name = "seconds_between"


def _args(element, compiler, **kw) -> tuple[str, str]:
    a, b = list(element.clauses)
    return compiler.process(a, **kw), compiler.process(b, **kw)


@compiles(seconds_between)
def _seconds_default(element, compiler, **kw):
    a, b = _args(element, compiler, **kw)
    return f"EXTRACT(EPOCH FROM ({a} - {b}))"


@compiles(seconds_between, "redshift")
def _seconds_redshift(element, compiler, **kw):
    a, b = _args(element, compiler, **kw)
    return f"(DATEDIFF(millisecond, {b}, {a}) / 1000.0)"


def configure(conn: sa.Connection, *, duckdb_memory_limit: str | None = "1GB") -> sa.Connection:
    """Per-dialect session settings for the checks' connection; returns ``conn``. DuckDB: cap the
    buffer cache (``memory_limit``; it applies to the database instance this process opened)."""
    if conn.dialect.name == "duckdb" and duckdb_memory_limit:
        conn.exec_driver_sql(f"SET memory_limit = '{_size(duckdb_memory_limit)}'")
    return conn


def _size(text: str) -> str:
    if not re.fullmatch(r"\d+(\.\d+)?\s*[KMGT]i?B", str(text).strip(), flags=re.I):
        raise ParameterError("duckdb_memory_limit", text, "a size such as 512MB or 2GB")
    return str(text).strip()


def db_time(ts: datetime) -> datetime:
    """``ts`` as naive UTC, the convention of the events tables' TIMESTAMP columns."""
    if ts.tzinfo is not None:
        ts = ts.astimezone(timezone.utc).replace(tzinfo=None)
    return ts


def normalize(frame: pd.DataFrame, *, times: tuple[str, ...] = (), ints: tuple[str, ...] = (),
              floats: tuple[str, ...] = ()) -> pd.DataFrame:
    """Same column types whatever the driver returned: naive ``datetime64``, ``int64``, ``float64``."""
    frame = frame.copy()
    for col in times:
        if col in frame:
            values = pd.to_datetime(frame[col])
            if getattr(values.dt, "tz", None) is not None:
                values = values.dt.tz_convert("UTC").dt.tz_localize(None)
            frame[col] = values.astype("datetime64[us]")
    for col in ints:
        if col in frame:
            frame[col] = pd.to_numeric(frame[col].map(lambda v: int(v) if isinstance(v, Decimal) else v)
                                       ).fillna(0).astype("int64")
    for col in floats:
        if col in frame:
            frame[col] = pd.to_numeric(frame[col].map(lambda v: float(v) if isinstance(v, Decimal) else v),
                                       errors="coerce").astype("float64")
    return frame
