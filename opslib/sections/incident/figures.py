"""The incident's charts (DataFrame in, plotly Figure out): error rates and consumer lag over the window
with the deployments of the window marked, and the services' memory."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from ... import charts
from .procedures import memory_column

DEPLOY_COLOR = "#9467bd"


def _mark_deployments(fig: go.Figure, deployments: pd.DataFrame, service: str | None = None) -> go.Figure:
    """A dotted vertical line with a label at each deployment (of ``service``, or of any service)."""
    rows = deployments if service is None else deployments[deployments["service"] == service]
    for d in rows.itertuples():
        fig.add_shape(type="line", x0=d.created, x1=d.created, y0=0, y1=1, yref="paper",
                      line={"color": DEPLOY_COLOR, "dash": "dot", "width": 2})
        fig.add_annotation(x=d.created, y=1, yref="paper", text=f"deploy {d.task_definition}", showarrow=False,
                           xanchor="left", yanchor="bottom", font={"color": DEPLOY_COLOR})
    return fig


def error_chart(frame: pd.DataFrame, deployments: pd.DataFrame, *, threshold: float) -> go.Figure:
    data = pd.DataFrame({"5xx % of requests": frame["error_rate"] * 100,
                         "4xx % of requests": frame["client_error_rate"] * 100})
    fig = charts.timeseries(data, title="ALB error rate (High Error Rate pages above the line)", y_title="%",
                            target=threshold * 100, target_label="page at %")
    return _mark_deployments(fig, deployments)


def lag_chart(frame: pd.DataFrame, deployments: pd.DataFrame, *, threshold_s: float, target_s: float) -> go.Figure:
    fig = charts.timeseries(frame["lag_seconds"].rename("iterator age (s)"),
                            title="Consumer lag: GetRecords.IteratorAgeMilliseconds", y_title="seconds",
                            target=threshold_s, target_label="Stream Backup pages above (s)")
    fig.add_hline(y=target_s, line_dash="dot", line_color="#2ca02c", annotation_text=f"target {target_s:g} s",
                  annotation_position="bottom left")
    return _mark_deployments(fig, deployments)


def memory_chart(frame: pd.DataFrame, deployments: pd.DataFrame) -> go.Figure:
    """The memory columns of the signals (:func:`~opslib.sections.incident.procedures.memory_column`), one line per service."""
    prefix = memory_column("")
    data = pd.DataFrame({c[len(prefix):]: frame[c] for c in frame.columns if c.startswith(prefix)}, index=frame.index)
    fig = charts.timeseries(data, title="ECS MemoryUtilization by service", y_title="%", target=90,
                            target_label="leak suspected above")
    return _mark_deployments(fig, deployments)
