"""HTML rendering of an output notebook: code, outputs and plotly charts, drawn offline.

Figures are stored in the .ipynb as ``application/vnd.plotly.v1+json`` only (see
:mod:`opslib.notebook`). Here each one gets an HTML rendering (a div and a ``Plotly.newPlot``
call). The JupyterLab template is used without its network references (require.js, MathJax and
mermaid come from a CDN there; require.js would also capture plotly.js as an AMD module). Code cells are
drawn as the lab template draws them, without passing pygments' output through bleach again (it escapes the
source itself; bleach parsed every cell's markup only to return it unchanged: a tenth of a second per run).

What every page of the archive would repeat, plotly.js (~4.8 MB, only when the notebook has a chart)
and the JupyterLab style sheets (~260 KB), is an :class:`Asset`: stored once per archive as
``assets/<name>-<sha256>.<ext>``, loaded by a relative path (a copied archive folder still opens
offline) and listed with its hash in each run's manifest entry, so ``verify`` checks it. Without an
asset prefix (``runbook runs show ID --html FILE``) the page is self-contained: everything inline.
"""
from __future__ import annotations

import copy
import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Mapping

import jinja2
import markupsafe
import nbformat
from nbconvert import HTMLExporter
from nbconvert.exporters.templateexporter import TemplateExporter
from nbconvert.filters.highlight import Highlight2HTML
from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter
from plotly.io import to_html         # imported here, before a forked kernel (which needs it too) starts
from plotly.offline import get_plotlyjs

PLOTLY_MIME = "application/vnd.plotly.v1+json"
#: the kernel says ``ipython3``; runbook cells hold no IPython magics (tests/test_notebook_sources.py), and pygments' own
#: Python lexer loads without importing IPython's lexers module and compiling its extra rules (~0.2 s per run)
PLAIN_LEXERS = {"ipython3": "python3", "ipython": "python", "ipython2": "python2"}
TEMPLATE = "opslib_run.html.j2"
_TEMPLATE_TEXT = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}
{%- if resources.opslib_plotlyjs -%}
<script type="text/javascript">window.PlotlyConfig = {MathJaxConfig: 'local'};</script>
{{ resources.opslib_plotlyjs }}
{%- endif -%}
{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{% block input %}
<div class="jp-CodeMirrorEditor jp-Editor jp-InputArea-editor" data-type="inline">
     <div class="cm-editor cm-s-jupyter">
{{ cell.source | highlight_code(metadata=cell.metadata) }}
     </div>
</div>
{%- endblock input %}
"""


@dataclass(frozen=True)
class Asset:
    """A file many pages share, named by its content: ``<stem>-<sha256>.<ext>``."""
    stem: str
    ext: str
    data: bytes

    @functools.cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def name(self) -> str:
        return f"{self.stem}-{self.sha256}.{self.ext}"


@functools.lru_cache(maxsize=1)
def plotly_asset() -> Asset:
    return Asset("plotly", "min.js", get_plotlyjs().encode())


def asset_prefix(stem: str) -> str:
    """The relative URL of ``assets/`` from the HTML of the run at ``stem`` (``YYYY/MM/DD/<name>``)."""
    return "../" * stem.count("/") + "assets/"


@functools.lru_cache(maxsize=1)
def _bytecode_cache() -> "jinja2.BytecodeCache | None":
    """Jinja's cache of compiled templates in this user's cache folder (``~/.cache/opslib/jinja2`` on Linux,
    mode 0700; not a temporary folder, so a run leaves nothing in ``$TMPDIR``), keyed by each template's name
    and source checksum: the lab templates (ten files) are compiled by the first run instead of by every run
    (~0.2 s of CPU). None if the folder cannot be made."""
    from platformdirs import user_cache_dir
    folder = Path(user_cache_dir("opslib")) / "jinja2"
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        return jinja2.FileSystemBytecodeCache(str(folder))
    except OSError:
        return None


class _Exporter(HTMLExporter):
    """The lab HTML exporter whose style sheets become :class:`Asset` links when ``opslib_assets`` (a URL
    prefix) is in the resources; the assets used are collected in ``self.used``. It skips nbconvert's last
    pass, which parses the whole page again with BeautifulSoup only to add ``tabindex`` attributes and image
    alt texts (our figures are plotly divs, not images): about a third of the rendering's CPU."""

    def _create_environment(self):
        environment = super()._create_environment()
        environment.bytecode_cache = _bytecode_cache()
        return environment

    def from_notebook_node(self, nb, resources=None, **kw):
        langinfo = nb.metadata.get("language_info", {})
        lexer = langinfo.get("pygments_lexer", langinfo.get("name", None))
        lexer = PLAIN_LEXERS.get(lexer, lexer)
        self.register_filter("highlight_code",
                             self.filters.get("highlight_code", Highlight2HTML(pygments_lexer=lexer, parent=self)))
        resources = self._init_resources(resources)
        self.register_filter("filter_data_type", WidgetsDataTypeFilter(
            notebook_metadata=self._nb_metadata, parent=self, resources=resources))
        return TemplateExporter.from_notebook_node(self, nb, resources, **kw)

    def _init_resources(self, resources):
        resources = super()._init_resources(resources)
        prefix = resources.get("opslib_assets")
        if prefix is None:
            return resources

        def include_css(name):
            env = self.environment
            asset = Asset(PurePosixPath(name).stem, "css", env.loader.get_source(env, name)[0].encode())
            self.used[asset.name] = asset
            return markupsafe.Markup(f'<link rel="stylesheet" type="text/css" href="{prefix}{asset.name}">')

        resources["include_css"] = include_css
        return resources


def _figure_html(figure: Mapping) -> str:
    return to_html(dict(figure), include_plotlyjs=False, full_html=False, validate=False)


def with_chart_html(nb: nbformat.NotebookNode) -> tuple[nbformat.NotebookNode, int]:
    """A copy of ``nb`` where each plotly output also has a ``text/html`` drawing; and the chart count. Only what
    changes is copied (the notebook, its metadata, the cells with a chart and their outputs): the exporter
    copies the whole notebook again anyway, and ``nb`` is left as it was."""
    out = copy.copy(nb)
    out.metadata = copy.copy(nb.metadata)
    cells, charts = [], 0
    for cell in nb.cells:
        outputs = cell.get("outputs") or []
        drawn = [_drawn(o) for o in outputs]
        changed = sum(d is not o for d, o in zip(drawn, outputs))
        if changed:
            cell = copy.copy(cell)
            cell.outputs = drawn
            charts += changed
        cells.append(cell)
    out.cells = cells
    return out, charts


def _drawn(output: Mapping) -> Mapping:
    """A plotly output with its ``text/html`` drawing instead of its ``text/plain`` (others as they are)."""
    data = output.get("data") or {}
    if PLOTLY_MIME not in data:
        return output
    drawn = {k: v for k, v in data.items() if k != "text/plain"}
    drawn["text/html"] = _figure_html(data[PLOTLY_MIME])
    return nbformat.NotebookNode({**output, "data": nbformat.NotebookNode(drawn)})


def render_page(nb: nbformat.NotebookNode, *, title: str | None = None,
                assets: str | None = None) -> tuple[str, list[Asset]]:
    """The HTML page of an executed notebook and the assets it loads from the URL prefix ``assets``
    (see :func:`asset_prefix`); ``assets`` None: one self-contained page, no assets."""
    prepared, charts = with_chart_html(nb)
    if title:
        prepared.metadata["title"] = title
    exporter = _Exporter(template_name="lab", template_file=TEMPLATE,
                         extra_loaders=[jinja2.DictLoader({TEMPLATE: _TEMPLATE_TEXT})])
    exporter.used = {}
    plotlyjs = ""
    if charts and assets is None:
        plotlyjs = f'<script type="text/javascript" charset="utf-8">{get_plotlyjs()}</script>'
    elif charts:
        exporter.used[plotly_asset().name] = plotly_asset()
        plotlyjs = f'<script type="text/javascript" charset="utf-8" src="{assets}{plotly_asset().name}"></script>'
    resources = {"opslib_plotlyjs": markupsafe.Markup(plotlyjs), "opslib_assets": assets}
    body, _ = exporter.from_notebook_node(prepared, resources=resources)
    return body, list(exporter.used.values())


def render_html(nb: nbformat.NotebookNode, *, title: str | None = None) -> str:
    """The self-contained HTML page of an executed notebook (everything inline)."""
    return render_page(nb, title=title)[0]

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
