"""The warehouse's events table and its columns, read from ``information_schema`` (names and types only,
no rows), when the warehouse is reachable from where ``runbook init`` runs."""
from __future__ import annotations

import re
from typing import Any

from ..events_table import time_kind

#: Runbook column -> names a table may use for it (first match wins; the runbook's own name first).
SYNONYMS = {
    "event_id": ("event_id", "eventid", "id", "event_uuid", "uuid", "message_id"),
    "user_id": ("user_id", "userid", "uid", "user", "customer_id", "visitor_id", "anonymous_id"),
    "session_id": ("session_id", "sessionid", "sid", "session"),
    "event_type": ("event_type", "eventtype", "type", "kind", "event_name", "action", "name"),
    "event_timestamp": ("event_timestamp", "timestamp", "event_time", "occurred_at", "ts", "created_at", "time",
                        "event_ts", "ts_ms", "timestamp_ms", "event_time_ms"),
    "received_at": ("received_at", "ingested_at", "loaded_at", "arrived_at"),
    "platform": ("platform", "os", "device"),
    "country": ("country", "country_code", "geo_country"),
    "page": ("page", "page_url", "url", "path"),
    "revenue": ("revenue", "amount", "value", "price"),
}
NEEDED = ("event_id", "event_timestamp")        # the runbook's two queries need only these
SKIP_SCHEMAS = ("information_schema", "pg_catalog", "pg_internal", "main_audit")


def _candidates(rows: list[tuple[str, str, str, str]]) -> dict[str, list[tuple[str, str]]]:
    tables: dict[str, list[tuple[str, str]]] = {}
    for schema, table, column, dtype in rows:
        if schema in SKIP_SCHEMAS:
            continue
        name = table if schema in ("main", "public") else f"{schema}.{table}"
        tables.setdefault(name, []).append((column, dtype.lower()))
    return tables


def map_columns(columns: list[tuple[str, str]]) -> dict[str, str]:
    """Runbook column -> the table's column, by name (a timestamp is also found by its type)."""
    names = [c for c, _ in columns]
    out: dict[str, str] = {}
    for runbook, words in SYNONYMS.items():
        hit = next((w for w in words if w in names and w not in out.values()), None)
        if hit is None and runbook == "event_timestamp":
            stamps = [c for c, t in columns if "timestamp" in t and c not in out.values()]
            hit = stamps[0] if len(stamps) == 1 else None
        if hit:
            out[runbook] = hit
    return out


def choose(rows: list[tuple[str, str, str, str]]) -> dict | None:
    """The events table among ``(schema, table, column, type)`` rows: the one where most runbook columns are
    found, needing at least an id and a timestamp; None when no table fits."""
    best = None
    for table, columns in sorted(_candidates(rows).items()):
        mapping = map_columns(columns)
        if not all(k in mapping for k in NEEDED):
            continue
        score = (len(mapping), "event" in table.lower(), -len(table))
        if best is None or score > best[0]:
            best = (score, table, mapping, columns)
    if best is None:
        return None
    _, table, mapping, columns = best
    ncols = len(columns)
    renamed = {k: c for k, c in mapping.items() if k != c}
    evidence = (f"information_schema: {table} has {ncols} columns, {len(mapping)} of them the runbook's"
                + (f" (renamed: {', '.join(f'{k}={c}' for k, c in renamed.items())})" if renamed else ""))
    found = {"table": table, "columns": renamed if renamed else {}, "evidence": evidence, "unsure": bool(renamed)}
    ts = mapping["event_timestamp"]
    types = dict(columns)
    kind = time_kind(types[ts])
    if kind == "number":
        found["timestamps"] = epoch_unit(ts)
        found["evidence"] += (f"; {ts} is {types[ts]}: times as numbers since 1970, {found['timestamps']} "
                              f"guessed from its name (check the unit)")
        found["unsure"] = True
    elif kind == "text":
        found["timestamps"] = "iso_text"
        found["evidence"] += f"; {ts} is {types[ts]}: times as ISO 8601 text, read in UTC (check)"
        found["unsure"] = True
    return found


def epoch_unit(column: str) -> str:
    """The unit a numeric time column's name suggests: ``epoch_ms`` (``ts_ms``, ``event_time_millis``),
    ``epoch_us`` (``..._us``, ``..._micros``), else ``epoch_s``."""
    name = column.lower()
    if re.search(r"(^|_)(ms|millis?|milliseconds?)$", name):
        return "epoch_ms"
    if re.search(r"(^|_)(us|micros?|microseconds?)$", name):
        return "epoch_us"
    return "epoch_s"


def inspect(engine: Any) -> dict:
    """What :func:`choose` finds in the database behind ``engine`` (``{"error": ...}`` when it cannot read)."""
    import sqlalchemy as sa
    try:
        with engine.connect() as con:
            rows = con.execute(sa.text("SELECT table_schema, table_name, column_name, data_type "
                                       "FROM information_schema.columns ORDER BY table_schema, table_name, "
                                       "ordinal_position")).fetchall()
    except Exception as exc:  # noqa: BLE001 - any failure: the draft says it could not look
        return {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"}
    found = choose([tuple(map(str, r)) for r in rows])
    return found or {"error": "no table with an event id and a timestamp column"}
