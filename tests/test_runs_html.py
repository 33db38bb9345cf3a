"""The HTML rendering of a notebook with plotly charts: the chart JSON stays small in the .ipynb,
plotly.js is in the HTML exactly once, and headless Chromium draws the charts with no network."""
from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

import nbformat
import pytest

from runbook_cli import chromium_dom

from opslib.runner.archive import LocalArchive
from opslib.runner.catalog import resolve
from opslib.runner.execute import run_notebook
from opslib.runner.html import PLOTLY_MIME

TOYS = Path(__file__).parent / "notebooks"
PLOTLYJS_MARKER = "plotly.js v"          # the banner at the top of the bundled plotly.min.js
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def chart_run(tmp_path_factory):
    archive = LocalArchive(tmp_path_factory.mktemp("archive"))
    return run_notebook(resolve(str(TOYS / "chart.ipynb")), profile="sandbox", archive=archive,
                        clock=lambda: datetime.now(timezone.utc))


def test_ipynb_keeps_figure_json_without_plotlyjs(chart_run):
    nb = nbformat.read(chart_run.files["ipynb"]["path"], as_version=4)
    figures = [o for c in nb.cells for o in c.get("outputs", []) if PLOTLY_MIME in o.get("data", {})]
    assert len(figures) == 2
    assert all(set(o["data"]) == {PLOTLY_MIME} for o in figures)        # no text/html copy with plotly.js
    text = Path(chart_run.files["ipynb"]["path"]).read_text()
    assert PLOTLYJS_MARKER not in text and chart_run.files["ipynb"]["bytes"] < 200_000


def test_html_has_plotlyjs_once_and_no_network_scripts(chart_run):
    html = Path(chart_run.files["html"]["path"]).read_text()
    assert html.count(PLOTLYJS_MARKER) == 1
    assert html.count("Plotly.newPlot(") == 2
    assert not re.findall(r'<script[^>]+src="https?:', html)           # no require.js / MathJax / CDN
    assert "toy line" in html and "toy bars" in html


def test_chromium_draws_charts_offline(chart_run):
    dom = chromium_dom(chart_run.files["html"]["path"])
    assert dom.count('class="main-svg"') >= 2                          # plotly drew both charts as SVG
    assert 'class="trace bars"' in dom
