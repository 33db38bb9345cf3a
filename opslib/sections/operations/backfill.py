"""A backfill's outcome (the runbook's ``scripts/backfill_data.py``): per day, what the archive held, what the
run inserted and what is still missing, as a table and a chart. Planning and loading the days are the
``events.backfill`` action (:mod:`opslib.actions.backfill`), which prints one line per day as it completes."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from ... import charts
from ...actions import ApplyResult


def progress(frame: pd.DataFrame, result: ApplyResult) -> pd.DataFrame:
    """Per day: what was there, what the apply inserted (read before/after), and what is still missing."""
    out = frame.copy()
    by_day = {s.change["params"]["day"]: s for s in result.steps}
    inserted, after, status = [], [], []
    for r in out.itertuples():
        step = by_day.get(r.day.isoformat())
        if step is None:
            inserted.append(0), after.append(r.missing), status.append("nothing to do" if r.missing == 0 else "?")
        elif step.status == "applied" and isinstance(step.before, int) and isinstance(step.after, int):
            inserted.append(step.before - step.after), after.append(step.after), status.append("applied")
        else:
            inserted.append(0), after.append(r.missing), status.append(step.status)
    out["inserted"], out["missing_after"], out["status"] = inserted, after, status
    return out


def progress_chart(frame: pd.DataFrame) -> go.Figure:
    """Stacked bars per day: already in the database, inserted by this run, still missing (or, before an
    apply, missing as planned)."""
    bars = {"already in the database": frame["present"]}
    if "inserted" in frame:
        bars.update({"inserted by this run": frame["inserted"], "still missing": frame["missing_after"]})
    else:
        bars["missing (planned)"] = frame["missing"]
    data = pd.DataFrame(bars).set_axis([d.isoformat() for d in frame["day"]])
    fig = charts.timeseries(data, title="Backfill per day: archived events", y_title="events", kind="bar")
    fig.update_layout(barmode="stack")
    return fig
