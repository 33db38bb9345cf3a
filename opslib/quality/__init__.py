"""Data quality of the events table: the runbook's completeness and duplicate checks, a seasonality-aware
completeness rule, freshness, null/invalid rates and a score - aggregated in the database.

Modules: :mod:`.dialects` (every SQL dialect difference), :mod:`.queries` (Core selectables),
:mod:`.rules` (pure rules over the aggregates), :mod:`.report` (queries + rules, what notebooks call).
"""
from .dialects import TESTED_DIALECTS, db_time, hour_trunc, seconds_between
from .report import (SOURCES, Window, compiled_sql, completeness, connect, duplicates, duplicates_hourly, engine_for, freshness,
                     hourly_activity, resolve_as_of, runbook_completeness, runbook_queries, validity, window)
from .rules import (Duplicates, Freshness, QualityScore, completeness_check, quality_score, runbook_rule,
                    runbook_rule_check, seasonal, validity_check)

__all__ = ["TESTED_DIALECTS", "db_time", "hour_trunc", "seconds_between", "SOURCES", "Window", "compiled_sql", "connect",
           "completeness", "duplicates", "duplicates_hourly", "engine_for", "freshness", "hourly_activity",
           "resolve_as_of", "runbook_completeness", "runbook_queries", "validity", "window", "Duplicates",
           "Freshness", "QualityScore", "completeness_check", "quality_score", "runbook_rule", "runbook_rule_check",
           "seasonal", "validity_check"]
