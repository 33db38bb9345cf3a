"""The first call of every runbook notebook::

    import opslib.notebook
    profile = opslib.notebook.setup(profile)

It makes plotly store each figure as its JSON only (MIME ``application/vnd.plotly.v1+json``, a
few KB) instead of the ``notebook`` renderer's copy of plotly.js per output (about 4.6 MB).
JupyterLab draws that MIME type with the jupyterlab-plotly extension shipped with plotly; the run
archive's HTML export (:mod:`opslib.runner.html`) draws it with one inline copy of plotly.js.

It returns the profile the notebook should use: the parameters cell's value, except inside
``runbook lab``, which sets $OPSLIB_LAB_PROFILE so kernels follow the profile JupyterLab was
started with.
"""
from __future__ import annotations

import plotly.io as pio

from .settings import resolve_lab_profile

RENDERER = "plotly_mimetype"
#: the look of every chart (opslib.charts and the sections' own figures set no template of their own): plotly
#: applies its default template once per figure when it is displayed, while ``template=...`` on each figure
#: validates and copies the whole template again (~30 ms per figure, 0.1 s for the first)
TEMPLATE = "plotly_white"


def setup(profile: str | None = None) -> str | None:
    """Configure plotly for compact, offline-renderable outputs in one look; return the profile to use."""
    pio.renderers.default = RENDERER
    pio.templates.default = TEMPLATE
    lab = resolve_lab_profile()
    if lab and profile and lab != profile:
        print(f"runbook lab: using profile {lab!r} (the parameters cell says {profile!r})")
    return lab or profile


def check_parameters(notebook: str, profile: "str | object | None" = None, **values) -> None:
    """Check parameter values against the domains ``notebook``'s metadata declares: the same check
    ``runbook run`` makes before a kernel starts, for cells run by hand in JupyterLab, e.g.
    ``opslib.notebook.check_parameters("data-quality", profile, as_of=as_of, source=source)``.
    Raises :class:`opslib.errors.ParameterError` naming the parameter and what is allowed."""
    from .config import load_profile
    from .runner.catalog import resolve
    from .runner.domains import check_notebook_values
    check_notebook_values(resolve(notebook), values, load_profile(profile) if profile is not None else None)
