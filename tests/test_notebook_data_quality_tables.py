"""notebooks/data-quality.ipynb on warehouses it has never seen (issue 9, parts 3 and 4), run headless with
`runbook run` as a schedule runs it, against a profile written here that extends parameters/sandbox.yaml
and points `databases.warehouse` at a DuckDB file built in the test (no sandbox needed):

* 14 days of history, a table renamed and schema-qualified (`warehouse.user_events`) with its own column
  names: the night trough passes, the real 60% drop at 11:00 fails, planted duplicates fail - exit 1;
* a four-column table (`analytics.user_events`: id, uid, kind, occurred_at): duplicates still fail (exit 1,
  not 3), what needs other columns is "not measurable", and the delay chart says so.
"""
from __future__ import annotations

import shutil
from datetime import datetime

import pytest
import yaml

from opslib.config import EVENT_COLUMNS, parameters_dir

from runbook_cli import finish, findings, output_notebook, start
from test_quality_table import FOUR, seasonal_duckdb

pytestmark = pytest.mark.slow

RENAMED = {c: c for c in EVENT_COLUMNS} | {"event_id": "id", "event_timestamp": "occurred_at", "user_id": "uid"}


def profile(folder, name: str, db, table: str, columns: dict[str, str]) -> str:
    """A profile beside copies of sandbox.yaml and _common.yaml: a fixed clock, no sandbox endpoint (the
    notebook reads only the warehouse), the warehouse at ``db``."""
    for base in ("_common.yaml", "sandbox.yaml"):
        if not (folder / base).exists():
            shutil.copy(parameters_dir() / base, folder / base)
    data = {"extends": "sandbox", "name": name, "now": "2026-11-25T12:20:00Z",
            "aws": {"endpoint_url": "http://127.0.0.1:9"},
            "databases": {"warehouse": {"url": f"duckdb:///{db}", "dialect_hint": "duckdb", "events_table": table,
                                        "columns": columns}}}
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dq-tables")
    renamed, four = folder / "renamed.duckdb", folder / "four.duckdb"
    seasonal_duckdb(renamed, table="warehouse.user_events", columns=RENAMED, drop=datetime(2026, 11, 25, 11),
                    duplicates=4)
    seasonal_duckdb(four, table="analytics.user_events", columns=FOUR, drop=None, duplicates=3)
    procs = {"renamed": start("data-quality", folder / "archive", profile=profile(
                 folder, "renamed", renamed, "warehouse.user_events", {k: v for k, v in RENAMED.items() if k != v})),
             "four": start("data-quality", folder / "archive", profile=profile(
                 folder, "four", four, "analytics.user_events", FOUR))}
    return {k: finish(p) for k, p in procs.items()}


def test_fourteen_days_on_a_renamed_table_flag_the_drop_not_the_night(runs):
    rc, entry = runs["renamed"]
    checks = findings(entry)
    assert rc == 1 and entry["status"] == "fail", entry.get("error")
    assert {k for k, c in checks.items() if c["status"] == "fail"} == {"completeness", "duplicates"}
    completeness = checks["completeness"]["figures"]
    assert completeness["anomalous_hours"] == ["2026-11-25 11:00"]
    assert completeness["rules"] == {"same hour, previous weekdays": 24} and completeness["hours_without_history"] == 0
    assert completeness["trough_status"] == "ok" and completeness["trough_hour"][11:13] in ("03", "04")
    # the runbook's 50% rule flags the night (02:00) as well as the drop; only the drop fails
    assert checks["completeness_runbook_rule"]["figures"]["flagged_hours"] == ["2026-11-25 02:00", "2026-11-25 11:00"]
    assert checks["duplicates"]["figures"]["duplicate_ids"] == 4
    assert checks["validity"]["status"] == "ok" and checks["freshness"]["status"] == "ok"
    text = "\n".join(str(o.get("text", "")) for c in output_notebook(entry).cells for o in c.get("outputs", []))
    assert 'FROM warehouse.user_events' in text and "warehouse.user_events.occurred_at" in text


def test_four_column_table_exits_1_for_duplicates_and_reports_what_it_cannot_measure(runs):
    rc, entry = runs["four"]
    checks = findings(entry)
    assert rc == 1 and entry["status"] == "fail", entry.get("error")
    assert {k for k, c in checks.items() if c["status"] == "fail"} == {"duplicates"}
    assert checks["duplicates"]["figures"]["duplicate_ids"] == 3
    assert checks["completeness"]["status"] == "ok" and checks["freshness"]["status"] == "ok"
    validity = checks["validity"]
    assert validity["status"] == "warn" and set(validity["figures"]["missing_columns"]) == {
        "session_id", "received_at", "revenue"}
    outputs = [o for c in output_notebook(entry).cells for o in c.get("outputs", [])]
    shown = "\n".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", "")) for o in outputs)
    assert "Ingestion delay not measurable: analytics.user_events has no column received_at." in shown
    assert "lacks session_id, received_at, platform, country, page, revenue" in shown
