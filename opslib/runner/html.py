"""HTML rendering of an output notebook: code, outputs and plotly charts, drawn offline.

Figures are stored in the .ipynb as ``application/vnd.plotly.v1+json`` only (see
:mod:`opslib.notebook`). Here each one gets an HTML rendering (a div and a ``Plotly.newPlot``
call). plotly.js (~4.8 MB) is loaded once in the page head, only when the notebook has a chart: in the
archive from ``assets/plotly-<sha256>.min.js`` by a relative path (stored once per archive, content
addressed, listed with its hash in the manifest: a copied archive folder still opens offline), or
inlined for a stand-alone page (``runbook runs show ID --html FILE``). The
JupyterLab template is used without its network references (require.js, MathJax and mermaid come
from a CDN there; require.js would also capture plotly.js as an AMD module).
"""
from __future__ import annotations

import copy
import functools
import hashlib
from dataclasses import dataclass
from typing import Mapping

import jinja2
import nbformat
import plotly.io as pio
from nbconvert import HTMLExporter
from plotly.offline import get_plotlyjs

PLOTLY_MIME = "application/vnd.plotly.v1+json"
TEMPLATE = "opslib_run.html.j2"
_TEMPLATE_TEXT = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}
{%- if resources.opslib_plotlyjs or resources.opslib_plotlyjs_src -%}
<script type="text/javascript">window.PlotlyConfig = {MathJaxConfig: 'local'};</script>
{%- if resources.opslib_plotlyjs_src %}
<script type="text/javascript" charset="utf-8" src="{{ resources.opslib_plotlyjs_src }}"></script>
{%- else %}
<script type="text/javascript" charset="utf-8">{{ resources.opslib_plotlyjs }}</script>
{%- endif -%}
{%- endif -%}
{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""


def _figure_html(figure: Mapping) -> str:
    return pio.to_html(dict(figure), include_plotlyjs=False, full_html=False, validate=False)


def with_chart_html(nb: nbformat.NotebookNode) -> tuple[nbformat.NotebookNode, int]:
    """A copy of ``nb`` where each plotly output also has a ``text/html`` drawing; and the chart count."""
    out = copy.deepcopy(nb)
    charts = 0
    for cell in out.cells:
        for output in cell.get("outputs", []) or []:
            data = output.get("data") or {}
            if PLOTLY_MIME in data:
                data["text/html"] = _figure_html(data[PLOTLY_MIME])
                data.pop("text/plain", None)
                charts += 1
    return out, charts


@dataclass(frozen=True)
class PlotlyAsset:
    """plotly.js as an archive asset, named by its sha256."""
    data: bytes
    sha256: str

    @property
    def name(self) -> str:
        return f"plotly-{self.sha256}.min.js"

    def src_from(self, stem: str) -> str:
        """The relative URL of the asset from the HTML of the run at ``stem`` (``YYYY/MM/DD/<name>``)."""
        return "../" * stem.count("/") + f"assets/{self.name}"

    def used_by(self, html: bytes) -> bool:
        return self.name.encode() in html


@functools.lru_cache(maxsize=1)
def plotly_asset() -> PlotlyAsset:
    data = get_plotlyjs().encode()
    return PlotlyAsset(data, hashlib.sha256(data).hexdigest())


def render_html(nb: nbformat.NotebookNode, *, title: str | None = None, plotlyjs_src: str | None = None) -> str:
    """The HTML page of an executed notebook: plotly.js loaded from ``plotlyjs_src`` (a relative URL)
    when given, else inlined (a self-contained page)."""
    prepared, charts = with_chart_html(nb)
    if title:
        prepared.metadata["title"] = title
    exporter = HTMLExporter(template_name="lab", template_file=TEMPLATE,
                            extra_loaders=[jinja2.DictLoader({TEMPLATE: _TEMPLATE_TEXT})])
    resources = {"opslib_plotlyjs": get_plotlyjs() if charts and not plotlyjs_src else "",
                 "opslib_plotlyjs_src": plotlyjs_src if charts else ""}
    body, _ = exporter.from_notebook_node(prepared, resources=resources)
    return body


def standalone_html(archive, entry: dict) -> str:
    """A self-contained page (plotly.js inline) of a run's archived notebook, checked against its sha256
    first: for a run archived without HTML, or to send one page to someone."""
    from ..errors import EvidenceError
    info = entry["files"]["ipynb"]
    data = archive.read(info["rel"])
    if hashlib.sha256(data).hexdigest() != info["sha256"]:
        raise EvidenceError(f"{info['path']} does not match its recorded sha256; not rendering it")
    nb = nbformat.reads(data.decode(), as_version=4)
    return render_html(nb, title=f"{entry['notebook']} {entry['id']} ({entry['status']})")
