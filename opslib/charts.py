"""Charts: DataFrame in, plotly Figure out. Never ``.show()`` here: the notebook displays the figure, in the look
:func:`opslib.notebook.setup` sets (plotly's default template, not one per figure)."""
from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd
import plotly.graph_objects as go

TARGET_COLOR = "#d62728"
BAND_COLOR = "rgba(31, 119, 180, 0.15)"


def _x(index: pd.Index) -> pd.Index | np.ndarray:
    """A time index with a zone (plotly holds it as an array of Timestamp objects) as the ISO strings plotly writes
    for it (``Timestamp.isoformat()``, NaT as null): the figure's JSON is the same, but plotly no longer deep-copies
    and encodes a Timestamp object per point each time the figure is displayed (half the CPU of a day of minutes:
    ~50 ms per chart). Other indexes as they are (plotly converts zone-less times as one datetime64 array)."""
    if not isinstance(index, pd.DatetimeIndex) or index.tz is None:
        return index
    return np.array([None if t is pd.NaT else t.isoformat() for t in index], dtype=object)


def timeseries(frame: pd.DataFrame | pd.Series, *, title: str, y_title: str = "", target: float | None = None,
               target_label: str = "target", marks: pd.Series | None = None, mark_label: str = "anomaly",
               band: tuple[pd.Series, pd.Series] | None = None, kind: str = "line") -> go.Figure:
    """Lines (or bars) per column, an optional horizontal target, an optional expected band
    (low, high), and optional marked points (a boolean Series aligned with the index)."""
    if isinstance(frame, pd.Series):
        frame = frame.to_frame(frame.name or "value")
    fig = go.Figure()
    if band is not None:
        low, high = band
        fig.add_trace(go.Scatter(x=_x(high.index), y=high.values, line={"width": 0}, showlegend=False,
                                 hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=_x(low.index), y=low.values, fill="tonexty", fillcolor=BAND_COLOR, line={"width": 0},
                                 name="expected band"))
    for column in frame.columns:
        if kind == "bar":
            fig.add_trace(go.Bar(x=_x(frame.index), y=frame[column], name=str(column)))
        else:
            fig.add_trace(go.Scatter(x=_x(frame.index), y=frame[column], mode="lines", name=str(column)))
    if marks is not None and marks.any():
        first = frame.columns[0]
        hit = frame.loc[marks.reindex(frame.index, fill_value=False).astype(bool), first]
        fig.add_trace(go.Scatter(x=_x(hit.index), y=hit.values, mode="markers", name=mark_label,
                                 marker={"color": TARGET_COLOR, "size": 10, "symbol": "x"}))
    if target is not None:
        fig.add_hline(y=target, line_dash="dash", line_color=TARGET_COLOR,
                      annotation_text=f"{target_label} {target:g}", annotation_position="top left")
    fig.update_layout(title=title, yaxis_title=y_title, height=340, margin={"l": 50, "r": 20, "t": 50, "b": 40},
                      legend={"orientation": "h", "y": -0.2})
    return fig


def status_bar(labels: Iterable[str], values: Iterable[float], *, title: str, colors: Iterable[str] | None = None,
               x_title: str = "") -> go.Figure:
    """A horizontal bar per label (e.g. services, rules, slow statements)."""
    fig = go.Figure(go.Bar(y=list(labels), x=list(values), orientation="h",
                           marker={"color": list(colors)} if colors is not None else None))
    fig.update_layout(title=title, xaxis_title=x_title, height=max(240, 40 * len(fig.data[0].y) + 100),
                      margin={"l": 160, "r": 20, "t": 50, "b": 40})
    return fig


def grouped_lines(frame: pd.DataFrame, *, x: str, y: str, group: str, title: str, x_title: str = "",
                  y_title: str = "", highlight: dict | None = None, log_x: bool = False) -> go.Figure:
    """One line per value of ``group`` (e.g. throughput by batch size, one line per worker count), with an
    optional highlighted point ``{x: .., y: .., label: ..}`` (e.g. the recommended setting)."""
    fig = go.Figure()
    for key, part in frame.sort_values(x).groupby(group, sort=True):
        fig.add_trace(go.Scatter(x=part[x], y=part[y], mode="lines+markers", name=f"{group}={key}"))
    if highlight is not None:
        fig.add_trace(go.Scatter(x=[highlight["x"]], y=[highlight["y"]], mode="markers",
                                 name=highlight.get("label", "selected"),
                                 marker={"color": TARGET_COLOR, "size": 14, "symbol": "star"}))
    fig.update_layout(title=title, xaxis_title=x_title or x, yaxis_title=y_title or y, height=360,
                      margin={"l": 60, "r": 20, "t": 50, "b": 40}, legend={"orientation": "h", "y": -0.2})
    if log_x:
        fig.update_xaxes(type="log")
    return fig


def completeness(frame: pd.DataFrame, *, title: str = "Events per hour against the expected band") -> go.Figure:
    """Hourly event counts (index hour) with the expected band (columns ``low``/``high``), the hours
    the check flags (``anomaly``) and, separately, those the runbook's 50% rule flags
    (``runbook_status`` other than ``OK``)."""
    fig = timeseries(frame[["event_count"]].rename(columns={"event_count": "events"}), title=title,
                     y_title="events per hour", band=(frame["low"], frame["high"]), marks=frame["anomaly"],
                     mark_label="anomalous hour")
    if "expected" in frame:
        # which rule judged each hour (same hour of previous weeks / weekdays / weekend days / days) on hover
        method = frame["method"] if "method" in frame else pd.Series("same hour, previous weeks", index=frame.index)
        rules_used = ", ".join(dict.fromkeys(m for m in method if not m.startswith("runbook"))) or "no history"
        fig.add_trace(go.Scatter(x=_x(frame.index), y=frame["expected"], mode="lines", name=f"expected ({rules_used})",
                                 customdata=method, hovertemplate="%{x}<br>expected %{y:.0f}<br>%{customdata}",
                                 line={"dash": "dot", "color": "#7f7f7f"}))
    if "runbook_status" in frame:
        hit = frame[frame["runbook_status"] != "OK"]
        if len(hit):
            fig.add_trace(go.Scatter(x=_x(hit.index), y=hit["event_count"], mode="markers", name="runbook 50% rule",
                                     marker={"color": "#ff7f0e", "size": 14, "symbol": "circle-open"}))
    return fig
