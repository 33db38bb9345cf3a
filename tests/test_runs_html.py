"""The HTML rendering of a notebook with plotly charts: the chart JSON stays small in the .ipynb,
plotly.js is stored once per archive as a content-addressed asset the HTML loads by relative path, and
headless Chromium draws the charts with no network, also after the archive folder was copied elsewhere."""
from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
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
def archive(tmp_path_factory):
    return LocalArchive(tmp_path_factory.mktemp("archive"))


@pytest.fixture(scope="module")
def chart_run(archive):
    return run_notebook(resolve(str(TOYS / "chart.ipynb")), profile="sandbox", archive=archive,
                        clock=lambda: datetime.now(timezone.utc))


@pytest.fixture(scope="module")
def second_chart_run(archive, chart_run):
    return run_notebook(resolve(str(TOYS / "chart.ipynb")), profile="sandbox", archive=archive,
                        clock=lambda: datetime.now(timezone.utc))


def test_ipynb_keeps_figure_json_without_plotlyjs(chart_run):
    nb = nbformat.read(chart_run.files["ipynb"]["path"], as_version=4)
    figures = [o for c in nb.cells for o in c.get("outputs", []) if PLOTLY_MIME in o.get("data", {})]
    assert len(figures) == 2
    assert all(set(o["data"]) == {PLOTLY_MIME} for o in figures)        # no text/html copy with plotly.js
    text = Path(chart_run.files["ipynb"]["path"]).read_text()
    assert PLOTLYJS_MARKER not in text and chart_run.files["ipynb"]["bytes"] < 200_000


def test_html_loads_plotlyjs_from_the_archive_asset_and_no_network(chart_run, archive):
    html = Path(chart_run.files["html"]["path"]).read_text()
    asset = chart_run.files["asset:plotly"]
    assert PLOTLYJS_MARKER not in html                                 # not inlined...
    assert f'src="../../../{asset["rel"]}"' in html                    # ...loaded by relative path
    data = (archive.root / asset["rel"]).read_bytes()
    assert PLOTLYJS_MARKER in data.decode()[:200]
    assert asset["rel"] == f"assets/plotly-{hashlib.sha256(data).hexdigest()}.min.js" == asset["rel"]
    assert hashlib.sha256(data).hexdigest() == asset["sha256"]
    assert html.count("Plotly.newPlot(") == 2
    assert not re.findall(r'<(?:script|link)[^>]+(?:src|href)="https?:', html)   # no require.js / MathJax / CDN
    assert "toy line" in html and "toy bars" in html
    assert chart_run.bytes_added > 4_000_000                           # the first run stores plotly.js ...


def test_later_runs_add_only_their_own_files(second_chart_run, chart_run):
    assert second_chart_run.files["asset:plotly"] == chart_run.files["asset:plotly"]
    own = second_chart_run.files["ipynb"]["bytes"] + second_chart_run.files["html"]["bytes"]
    assert second_chart_run.bytes_added == own < 300_000               # ... later ones only their notebook + HTML


def test_chromium_draws_charts_offline_from_a_copied_archive(chart_run, second_chart_run, archive, tmp_path):
    copy = tmp_path / "elsewhere" / "evidence"
    shutil.copytree(archive.root, copy)
    for run in (chart_run, second_chart_run):
        dom = chromium_dom(copy / run.files["html"]["rel"])
        assert dom.count('class="main-svg"') >= 2                      # plotly drew both charts as SVG
        assert 'class="trace bars"' in dom
    verify = subprocess.run([sys.executable, "-c", "from opslib.cli import run; run()", "runs", "verify",
                             "--archive", str(copy)], capture_output=True, text=True, timeout=120)
    assert verify.returncode == 0 and "0 problems" in verify.stdout, verify.stdout


def test_runs_show_html_renders_a_self_contained_page(chart_run, archive, tmp_path):
    out = tmp_path / "page.html"
    proc = subprocess.run([sys.executable, "-c", "from opslib.cli import run; run()", "runs", "show", chart_run.id,
                           "--html", str(out), "--archive", str(archive.root)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    html = out.read_text()
    assert html.count(PLOTLYJS_MARKER) == 1 and "assets/" not in html
    dom = chromium_dom(out)
    assert dom.count('class="main-svg"') >= 2
