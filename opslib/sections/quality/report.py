"""Run the quality queries against an engine and apply the rules: what the notebook calls.

Every function takes the engine and a :class:`Window` (bound ``as_of``, never ``NOW()``), runs one or
two aggregate queries in the database and returns a small DataFrame or a result object with
``to_check()``. Nothing reads rows of the events table into Python.
"""
from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
import sqlalchemy as sa

from ...errors import ParameterError, QueryError
from . import queries as q
from . import rules
from .dialects import configure, db_time, normalize
from ...events_table import EventsTable, as_events, for_source, reflect

Table = EventsTable | sa.TableClause | None   # None: ``events``, every runbook column assumed present

SOURCES = ("warehouse", "database")
Bind = sa.Engine | sa.Connection      # an engine (a connection per query) or one open connection


@dataclass(frozen=True)
class Window:
    """The checked period: complete hours ``[start, end)`` ending at the hour of ``as_of`` (naive UTC).
    The hour ``as_of`` falls in is still filling, so it is left out of the completeness check."""
    as_of: datetime
    start: datetime
    end: datetime

    @property
    def hours(self) -> int:
        return int((self.end - self.start) / timedelta(hours=1))

    @property
    def last_hour(self) -> tuple[datetime, datetime]:
        """The runbook's duplicate window: the hour before ``as_of``."""
        return self.as_of - timedelta(hours=1), self.as_of


def resolve_as_of(as_of: Any, now: datetime) -> datetime:
    """``as_of`` (None = ``now``, an ISO string or a datetime; UTC when it has no zone) as naive UTC."""
    if as_of is None or as_of == "":
        return db_time(now)
    try:
        ts = pd.Timestamp(as_of)
    except (ValueError, TypeError) as exc:
        raise ParameterError("as_of", as_of, "None or an ISO time such as 2026-11-25T12:00:00Z") from exc
    if pd.isna(ts):
        raise ParameterError("as_of", as_of, "None or an ISO time such as 2026-11-25T12:00:00Z")
    return db_time(ts.to_pydatetime())


def window(as_of: datetime, *, hours: int = 24) -> Window:
    if not isinstance(hours, int) or hours < 2:
        raise ParameterError("window_hours", hours, "an integer >= 2")
    as_of = db_time(as_of)
    end = as_of.replace(minute=0, second=0, microsecond=0)
    return Window(as_of=as_of, start=end - timedelta(hours=hours), end=end)


def engine_for(ops: Any, source: str) -> sa.Engine:
    """``ops.warehouse`` or ``ops.database``."""
    if source not in SOURCES:
        raise ParameterError("source", source, " or ".join(SOURCES))
    return getattr(ops, source)


def events_table(ops: Any, source: str, bind: Bind) -> EventsTable:
    """The events table of the profile's ``databases.<source>`` (``events_table``, ``columns``), its columns
    read once on ``bind``: pass it as ``table=`` to every check of the run."""
    if source not in SOURCES:
        raise ParameterError("source", source, " or ".join(SOURCES))
    return for_source(ops, source, bind)


def _gap(t: EventsTable, needs: tuple[str, ...]) -> tuple[list[str], str]:
    """The runbook columns of ``needs`` the table lacks, and the reason to show ("" when none)."""
    if not t.exists:
        return list(needs), f"table {t.display} not found"
    missing = t.missing(needs)
    return missing, (t.describe_missing(missing) if missing else "")


def open_connection(engine: sa.Engine, *, duckdb_memory_limit: str | None = "1GB") -> sa.Connection:
    """One connection for all the checks (DuckDB keeps its cache warm between them), with the dialect's
    session settings (:func:`.dialects.configure`). Close it when done."""
    conn = engine.connect()
    try:
        return configure(conn, duckdb_memory_limit=duckdb_memory_limit)
    except sa.exc.SQLAlchemyError as exc:
        conn.close()
        raise QueryError(f"could not configure the {engine.dialect.name} connection: {exc}") from exc
    except ParameterError:
        conn.close()
        raise


def compiled_sql(query: sa.Select, engine: sa.Engine | sa.engine.Dialect) -> str:
    """The SQL a human can paste for ``query`` on ``engine``'s dialect, bounds inlined."""
    dialect = getattr(engine, "dialect", engine)
    text = str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    # format/pyformat drivers double '%' in literals for the driver; a pasted query must not
    return text.replace("%%", "%") if dialect.paramstyle in ("format", "pyformat") else text


def read(bind: sa.Engine | sa.Connection, query: sa.Select) -> pd.DataFrame:
    """Run ``query`` on an engine (a connection per query) or an open connection (reused: on DuckDB
    its buffer cache stays warm between the checks); its (few) rows as a DataFrame. Failures are
    :class:`QueryError`."""
    try:
        with (nullcontext(bind) if isinstance(bind, sa.Connection) else bind.connect()) as conn:
            result = conn.execute(query)
            return pd.DataFrame(result.fetchall(), columns=list(result.keys()))
    except sa.exc.SQLAlchemyError as exc:
        raise QueryError(f"quality query failed on {bind.dialect.name}: {getattr(exc, 'orig', None) or exc}") from exc


def runbook_queries(win: Window, *, table: Table = None) -> dict[str, sa.Select]:
    """The runbook's two queries as this notebook runs them: completeness over the window plus the hour
    before it (so the first hour has a LAG), duplicates over the hour before ``as_of``. A query whose
    columns the table lacks is left out (see :func:`runbook_sql`)."""
    t = as_events(table)
    out = {}
    if not _gap(t, q.NEEDS["runbook_completeness"])[0]:
        out["completeness"] = q.runbook_completeness(t, win.start - timedelta(hours=1), win.end)
    if not _gap(t, q.NEEDS["runbook_duplicates"])[0]:
        out["duplicates"] = q.runbook_duplicates(t, *win.last_hour)
    return out


def runbook_sql(win: Window, name: str, bind: Any, *, table: Table = None) -> str:
    """The runbook's query ``name`` ("completeness" or "duplicates") as pasteable SQL for ``bind``'s dialect,
    or a "-- not measurable: ..." line naming the columns the table lacks."""
    t = as_events(table)
    queries = runbook_queries(win, table=t)
    if name in queries:
        return compiled_sql(queries[name], bind)
    if name not in ("completeness", "duplicates"):
        raise ParameterError("name", name, "completeness or duplicates")
    return f"-- not measurable: {_gap(t, q.NEEDS['runbook_' + name])[1]}"


def _hours_frame(columns: list[str], reason: str, missing: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(columns=columns, index=pd.DatetimeIndex([], name="hour"))
    frame.attrs.update(missing=list(missing), reason=reason)
    return frame


COMPLETENESS_COLUMNS = ["event_count", "prev_hour_count", "weeks", "compared", "expected", "scale", "low", "high", "z",
                        "seasonal", "runbook_status", "anomaly", "method"]


def runbook_completeness(bind: Bind, win: Window, *, table: Table = None) -> pd.DataFrame:
    """The runbook's completeness query over the window (see :func:`runbook_queries`)."""
    frame = read(bind, runbook_queries(win, table=table)["completeness"])
    return normalize(frame, times=("hour",), ints=("event_count",), floats=("prev_hour_count",))


def _history_ranges(win: Window, *, history_weeks: int = 4, history_days: int = 14) -> list[tuple[datetime, datetime]]:
    """The spans the history query reads: the window's hours on each of ``history_weeks`` previous weeks,
    and the ``history_days`` days before the window (the same hours of previous days)."""
    week, day = timedelta(weeks=1), timedelta(days=1)
    ranges = [(win.start - history_days * day, win.end - day)]
    ranges += [(win.start - k * week, win.end - k * week) for k in range(1, history_weeks + 1)]
    merged: list[tuple[datetime, datetime]] = []
    for a, b in sorted(ranges):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged


def _history(bind: Bind, t: EventsTable, ranges: list[tuple[datetime, datetime]]) -> pd.Series:
    hist = normalize(read(bind, q.hourly_counts(t, ranges)), times=("hour",), ints=("event_count",))
    if not len(hist):
        return pd.Series(dtype="float64", index=pd.DatetimeIndex([], dtype="datetime64[us]"))
    out = hist.set_index("hour")["event_count"]
    out.index = pd.DatetimeIndex(out.index).astype("datetime64[us]")
    return out


def completeness(bind: Bind, win: Window, *, sensitivity: float = 4.0, min_weeks: int = 3,
                 history_weeks: int = 4, min_days: int = 3, history_days: int = 14,
                 table: Table = None) -> pd.DataFrame:
    """Every complete hour of the window with its expected band, the rule that judged it (``method``), the
    runbook's status and ``anomaly`` (see :func:`rules.seasonal`). Two queries: the runbook's, and the
    history (the same hours of previous weeks and days). Without an event_timestamp column: an empty frame
    whose ``attrs['missing']`` names it (the checks report "not measurable")."""
    t = as_events(table)
    rules._check_params(sensitivity, min_weeks, history_weeks, min_days, history_days)
    missing, reason = _gap(t, q.NEEDS["runbook_completeness"])
    if missing:
        return _hours_frame(COMPLETENESS_COLUMNS, reason, missing)
    runbook = runbook_completeness(bind, win, table=t)
    counts = rules.hourly_series(runbook, win.start, win.end)
    status = runbook.set_index("hour")["status"]
    status.index = pd.DatetimeIndex(status.index).astype("datetime64[us]")
    status = status.reindex(counts.index).fillna(rules.MISSING)
    # the same hours of previous weeks first (a few days' worth of reads); the previous days only when some
    # hour has fewer than min_weeks weeks (a young warehouse, the 7-day hot store)
    week = timedelta(weeks=1)
    weekly = [(win.start - k * week, win.end - k * week) for k in range(1, history_weeks + 1)]
    history = _history(bind, t, weekly)
    found = sum(history.reindex(counts.index - k * week).notna().to_numpy().astype(int)
                for k in range(1, history_weeks + 1))
    if (found < min_weeks).any():
        history = _history(bind, t, _history_ranges(win, history_weeks=history_weeks, history_days=history_days))
    out = rules.seasonal(counts, history, sensitivity=sensitivity, min_weeks=min_weeks, history_weeks=history_weeks,
                         min_days=min_days, history_days=history_days, runbook_status=status)
    prev = runbook.set_index("hour")["prev_hour_count"]
    prev.index = pd.DatetimeIndex(prev.index).astype("datetime64[us]")
    out.insert(1, "prev_hour_count", prev.reindex(out.index))
    return out


def hourly_activity(bind: Bind, win: Window, *, table: Table = None) -> pd.DataFrame:
    """Per complete hour and the current one up to ``as_of``: events, newest event, mean/max ingestion
    delay, and ``age_minutes``, the age of the newest event at the end of that hour. Without received_at
    the delays are NaN and ``attrs['delay_missing']`` says why."""
    t = as_events(table)
    hours = pd.date_range(win.start, win.as_of, freq="h", inclusive="left").astype("datetime64[us]")
    missing, reason = _gap(t, q.NEEDS["hourly_profile"])
    if missing:
        frame = _hours_frame(["event_count", "newest", "mean_delay_s", "max_delay_s", "age_minutes"], reason, missing)
        frame.attrs["delay_missing"] = reason
        return frame
    frame = normalize(read(bind, q.hourly_profile(t, [(win.start, win.as_of)])), times=("hour", "newest"),
                      ints=("event_count",), floats=("mean_delay_s", "max_delay_s"))
    frame = frame.set_index("hour").reindex(hours).rename_axis("hour")
    frame["event_count"] = frame["event_count"].fillna(0).astype("int64")
    frame["age_minutes"] = rules.staleness(frame, win.as_of)
    if not t.has("received_at"):
        frame.attrs["delay_missing"] = t.describe_missing(["received_at"])
    return frame


def delay_note(activity: pd.DataFrame) -> str | None:
    """"not measurable: ..." when the ingestion delay could not be computed (no received_at), else None."""
    reason = activity.attrs.get("delay_missing")
    return f"Ingestion delay not measurable: {reason}." if reason else None


def duplicates(bind: Bind, win: Window, *, threshold: int = 0, limit: int = 1000,
               table: Table = None) -> rules.Duplicates:
    """The runbook's duplicate query over the hour before ``as_of`` (at most ``limit`` ids) and totals."""
    if not isinstance(threshold, int) or threshold < 0:
        raise ParameterError("duplicate_threshold", threshold, "an integer >= 0")
    t = as_events(table)
    start, end = win.last_hour
    missing, reason = _gap(t, q.NEEDS["runbook_duplicates"])
    if missing:
        return rules.Duplicates(start=start, end=end, ids=pd.DataFrame(columns=["event_id", "duplicate_count"]),
                                duplicate_ids=0, extra_rows=0, rows=0, threshold=threshold,
                                missing=tuple(missing), reason=reason)
    ids = normalize(read(bind, q.runbook_duplicates(t, start, end, limit)), ints=("duplicate_count",))
    totals = normalize(read(bind, q.duplicate_totals(t, start, end)), ints=("duplicate_ids", "extra_rows", "rows"))
    row = totals.iloc[0]
    return rules.Duplicates(start=start, end=end, ids=ids, duplicate_ids=int(row["duplicate_ids"]),
                            extra_rows=int(row["extra_rows"]), rows=int(row["rows"]), threshold=threshold)


def duplicates_hourly(bind: Bind, win: Window, *, table: Table = None) -> pd.DataFrame:
    """Per hour from the window's start to ``as_of``: rows, distinct_ids, duplicate_rows (empty, with
    ``attrs['missing']``, when the table has no event_id)."""
    t = as_events(table)
    missing, reason = _gap(t, q.NEEDS["duplicates_by_hour"])
    if missing:
        return _hours_frame(["rows", "distinct_ids", "duplicate_rows"], reason, missing)
    frame = normalize(read(bind, q.duplicates_by_hour(t, win.start, win.as_of)), times=("hour",),
                      ints=("rows", "distinct_ids", "duplicate_rows"))
    hours = pd.date_range(win.start, win.as_of, freq="h", inclusive="left").astype("datetime64[us]")
    return frame.set_index("hour").reindex(hours, fill_value=0).rename_axis("hour")


def freshness(bind: Bind, win: Window, *, max_minutes: float = 15, lookback_hours: int | None = None,
              table: Table = None) -> rules.Freshness:
    """Age of the newest event before ``as_of`` (searched over ``lookback_hours``, default the window)."""
    if not max_minutes > 0:
        raise ParameterError("freshness_minutes", max_minutes, "a number of minutes > 0")
    t = as_events(table)
    missing, reason = _gap(t, q.NEEDS["newest_event"])
    if missing:
        return rules.Freshness(as_of=win.as_of, newest_event=None, newest_received=None,
                               max_minutes=float(max_minutes), missing=tuple(missing), reason=reason)
    since = win.as_of - timedelta(hours=lookback_hours or win.hours + 1)
    row = normalize(read(bind, q.newest_event(t, since, win.as_of)),
                    times=("newest_event", "newest_received")).iloc[0]
    return rules.freshness(row["newest_event"], row["newest_received"], as_of=win.as_of, max_minutes=max_minutes)


def validity(bind: Bind, win: Window, *, table: Table = None) -> pd.DataFrame:
    """Null rates of the required columns and invalid-value rates over the window's complete hours; the
    checks whose columns the table lacks are in ``attrs['not_measurable']`` (check -> columns)."""
    t = as_events(table)
    unmeasured = q.validity_missing(t)
    missing, reason = _gap(t, q.NEEDS["column_quality"])
    if missing:
        frame = pd.DataFrame(columns=["check", "rows", "rate"])
        unmeasured = {**unmeasured, "all validity checks": missing}
    else:
        frame = read(bind, q.column_quality(t, win.start, win.end))
        frame = rules.validity({k: (int(v) if pd.notna(v) else 0) for k, v in frame.iloc[0].items()})
    if unmeasured:
        frame.attrs.update(not_measurable=unmeasured, table=t.display)
    return frame
