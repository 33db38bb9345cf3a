"""The notebook's figures: backup age against the daily limit, replica lag against the RPO, the DR
stream's replication, and the failover's steps against the RTO (built on :mod:`opslib.charts`)."""
from __future__ import annotations

import plotly.graph_objects as go

from ... import charts
from .backups import BackupStatus
from .failover import FailoverRun
from .rpo import RpoStatus

OK_COLOR, FAIL_COLOR, REFUSED_COLOR = "#1a7f37", "#cf222e", "#b35900"


def backup_age_chart(status: BackupStatus) -> go.Figure:
    ages = status.ages()
    fig = charts.status_bar(ages["backup"], ages["age_hours"].fillna(0),
                            colors=[OK_COLOR if ok else FAIL_COLOR for ok in ages["ok"]],
                            title="Newest backup age against the daily schedule", x_title="hours")
    fig.add_vline(x=status.max_age_hours, line_dash="dash", line_color=charts.TARGET_COLOR,
                  annotation_text=f"limit {status.max_age_hours:g} h")
    return fig


def replica_lag_chart(rpo: RpoStatus) -> "go.Figure | str":
    """The read replica's lag against the RPO; a sentence when the profile names no replica."""
    if rpo.lag is None:
        return "No read replica in the profile (rds.replica): no replica lag to show."
    return charts.timeseries(rpo.lag, title="RDS replica lag against the RPO", y_title="seconds",
                             target=rpo.rpo_minutes * 60, target_label="RPO (s)")


def replication_chart(rpo: RpoStatus) -> "go.Figure | str":
    """The DR stream's incoming records per minute; a sentence for a single-region pipeline."""
    if rpo.incoming is None:
        return "No DR region in the profile: no events are replicated to another region."
    return charts.timeseries(rpo.incoming, title="Events replicated to the DR stream", y_title="records/min",
                             kind="bar")


def failover_timing_chart(run: FailoverRun) -> go.Figure:
    """Each step as a bar from its start to its end, with the RTO as a vertical line."""
    frame = run.frame().dropna(subset=["seconds"])
    colors = {"ok": OK_COLOR, "applied": OK_COLOR, "failed": FAIL_COLOR, "refused": REFUSED_COLOR}
    fig = charts.status_bar(frame["step"], frame["seconds"], colors=[colors.get(s, "#999") for s in frame["status"]],
                            title=f"Failover steps (elapsed {run.elapsed_seconds or 0:.1f} s) against the RTO",
                            x_title="seconds since the start")
    fig.update_traces(base=frame["start s"].tolist(), hovertext=frame["detail"].tolist(), name="step")
    fig.add_vline(x=run.rto_minutes * 60, line_dash="dash", line_color=charts.TARGET_COLOR,
                  annotation_text=f"RTO {run.rto_minutes:g} min")
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(height=max(260, 45 * len(frame) + 120), margin={"l": 300, "r": 20, "t": 50, "b": 40})
    return fig
