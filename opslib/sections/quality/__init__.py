"""Data quality of the events table: the runbook's completeness and duplicate checks, a seasonality-aware
completeness rule, freshness, null/invalid rates and a score - aggregated in the database.

Modules: :mod:`.dialects` (every SQL dialect difference), :mod:`.queries` (Core selectables),
:mod:`.rules` (pure rules over the aggregates), :mod:`.report` (queries + rules, what notebooks call),
:mod:`.table` (the profile's events table and columns, reflected once; every reader of the table uses it).
"""
from .dialects import TESTED_DIALECTS, db_time, hour_trunc, seconds_between
from .report import (SOURCES, Window, compiled_sql, completeness, delay_note, duplicates, duplicates_hourly,
                     engine_for, events_table, freshness, hourly_activity, open_connection, resolve_as_of, runbook_completeness,
                     runbook_queries, runbook_sql, validity, window)
from .rules import (METHODS, Duplicates, Freshness, QualityScore, completeness_check, not_measurable, quality_score,
                    runbook_rule, runbook_rule_check, seasonal, validity_check)
from ...events_table import EventsTable, reflect, split_name
from ...config import EVENT_COLUMNS

__all__ = ["TESTED_DIALECTS", "db_time", "hour_trunc", "seconds_between", "SOURCES", "Window", "compiled_sql", "open_connection",
           "completeness", "duplicates", "duplicates_hourly", "engine_for", "freshness", "hourly_activity",
           "resolve_as_of", "runbook_completeness", "runbook_queries", "validity", "window", "Duplicates",
           "Freshness", "QualityScore", "completeness_check", "quality_score", "runbook_rule", "runbook_rule_check",
           "seasonal", "validity_check", "METHODS", "delay_note", "events_table", "runbook_sql", "not_measurable",
           "EventsTable", "reflect", "split_name", "EVENT_COLUMNS"]
