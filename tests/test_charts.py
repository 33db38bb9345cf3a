"""Charts as a notebook displays them after ``opslib.notebook.setup()``: the figure JSON only, in the one look the
setup sets (plotly's default template, applied when the figure is displayed)."""
from __future__ import annotations

import pandas as pd
import plotly.io as pio
import pytest

import opslib.notebook
from opslib import charts
from opslib.runner.html import PLOTLY_MIME


@pytest.fixture
def notebook_plotly():
    saved = pio.renderers.default, pio.templates.default
    opslib.notebook.setup("sandbox")
    yield
    pio.renderers.default, pio.templates.default = saved


def test_displayed_chart_is_json_in_the_setup_look(notebook_plotly):
    index = pd.date_range("2026-11-25", periods=60, freq="min", tz="UTC")
    fig = charts.timeseries(pd.Series(range(60), index=index, name="events"), title="t", target=30)
    bundle = fig._repr_mimebundle_({}, {})
    assert set(bundle) == {PLOTLY_MIME}
    layout = bundle[PLOTLY_MIME]["layout"]
    assert layout["template"] == pio.templates[opslib.notebook.TEMPLATE].to_plotly_json()
    assert layout["template"]["layout"]["plot_bgcolor"] == "white"
    assert layout["title"]["text"] == "t"
    assert bundle[PLOTLY_MIME]["data"][0]["x"][0] == index[0].isoformat()
