"""HTML rendering of an output notebook: code, outputs and plotly charts, drawn offline.

Figures are stored in the .ipynb as ``application/vnd.plotly.v1+json`` only (see
:mod:`opslib.notebook`). Here each one gets an HTML rendering (a div and a ``Plotly.newPlot``
call), and plotly.js is inlined once in the page head, only when the notebook has a chart. The
JupyterLab template is used without its network references (require.js, MathJax and mermaid come
from a CDN there; require.js would also capture plotly.js as an AMD module).
"""
from __future__ import annotations

import copy
from typing import Mapping

import jinja2
import nbformat
import plotly.io as pio
from nbconvert import HTMLExporter
from nbconvert.exporters.templateexporter import TemplateExporter
from nbconvert.filters.highlight import Highlight2HTML
from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter
from plotly.offline import get_plotlyjs

PLOTLY_MIME = "application/vnd.plotly.v1+json"
TEMPLATE = "opslib_run.html.j2"
_TEMPLATE_TEXT = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}
{%- if resources.opslib_plotlyjs -%}
<script type="text/javascript">window.PlotlyConfig = {MathJaxConfig: 'local'};</script>
<script type="text/javascript" charset="utf-8">{{ resources.opslib_plotlyjs }}</script>
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


class _RunHTMLExporter(HTMLExporter):
    """nbconvert's HTML exporter without its last pass, which parses the whole page again with
    BeautifulSoup only to add ``tabindex`` attributes and image alt texts (our figures are plotly divs,
    not images): about a third of the rendering's CPU for a runbook with charts."""

    def from_notebook_node(self, nb, resources=None, **kw):
        langinfo = nb.metadata.get("language_info", {})
        lexer = langinfo.get("pygments_lexer", langinfo.get("name", None))
        self.register_filter("highlight_code",
                             self.filters.get("highlight_code", Highlight2HTML(pygments_lexer=lexer, parent=self)))
        resources = self._init_resources(resources)
        self.register_filter("filter_data_type", WidgetsDataTypeFilter(
            notebook_metadata=self._nb_metadata, parent=self, resources=resources))
        return TemplateExporter.from_notebook_node(self, nb, resources, **kw)


def render_html(nb: nbformat.NotebookNode, *, title: str | None = None) -> str:
    """The self-contained HTML page of an executed notebook."""
    prepared, charts = with_chart_html(nb)
    if title:
        prepared.metadata["title"] = title
    exporter = _RunHTMLExporter(template_name="lab", template_file=TEMPLATE,
                                extra_loaders=[jinja2.DictLoader({TEMPLATE: _TEMPLATE_TEXT})])
    resources = {"opslib_plotlyjs": get_plotlyjs() if charts else ""}
    body, _ = exporter.from_notebook_node(prepared, resources=resources)
    return body
