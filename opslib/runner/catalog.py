"""The notebook catalog: which runbook notebooks exist, what they are for, which are read-only.

Convention for notebook authors (``runbook list`` and ``runbook run --all`` rely on it):

* A notebook lives in ``notebooks/`` (or $OPSLIB_NOTEBOOKS); its short name is the file stem
  (``notebooks/data-quality.ipynb`` -> ``runbook run data-quality``).
* Its first code cell is tagged ``parameters`` and declares ``profile = "sandbox"``; declare
  ``run_id = None`` and ``incident_id = None`` there too to receive them. Annotate a parameter
  (``threshold: int = 10  # help text``) when its default does not show its type.
* Its notebook metadata has an ``opslib`` entry (JupyterLab: Property Inspector > Notebook metadata)::

      "opslib": {
        "read_only": true,                      # changes nothing: run by `runbook run --all`
        "purpose": "Hourly completeness, duplicates and freshness of events.",
        "schedule": "5 * * * *",                # optional, informational (schedules.yaml decides)
        "timeout": 600,                         # optional, seconds per cell
        "needs": ["aws", "$source"],            # what preflight checks (default: none, only the archive;
                                                #   warehouse, database, $PARAM: the database PARAM names)
        "parameters": {"window_hours": {"min": 1}},  # optional: domains, see opslib.runner.domains
        "check": "opslib.sections.incident:check_parameters"   # optional: the notebook's own check of its
                                                # parameters, called before the kernel (see domains)
      }

  A notebook without ``read_only: true`` is never run by ``--all``. Without ``purpose`` the first
  line of its first markdown cell is shown.
* Its first code cell after the parameters calls ``profile = opslib.notebook.setup(profile)`` and
  its findings go through one call, :func:`opslib.findings.record_findings`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from ..errors import ParameterError
from ..settings import resolve_notebooks_dir
from .params import NotebookParameter, notebook_parameters

METADATA_KEY = "opslib"


def notebooks_dir() -> Path:
    """$OPSLIB_NOTEBOOKS, else ``notebooks/`` beside ``parameters/``."""
    return resolve_notebooks_dir()


@dataclass(frozen=True)
class NotebookInfo:
    name: str
    path: Path
    read_only: bool = False
    purpose: str = ""
    schedule: str | None = None
    timeout: float | None = None
    parameters: dict[str, NotebookParameter] = field(default_factory=dict)
    needs: tuple[str, ...] = ()                        # what the preflight checks (opslib.runner.preflight)
    domains: dict = field(default_factory=dict)        # name -> opslib.runner.domains.Domain
    check: str | None = None                           # "module:function", the notebook's own parameter check


def _purpose(nb: nbformat.NotebookNode) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                line = line.strip().lstrip("#").strip()
                if line:
                    return line
    return ""


def notebook_info(path: str | Path) -> NotebookInfo:
    """Read one notebook's metadata and parameters."""
    path = Path(path)
    try:
        nb = nbformat.read(path, as_version=4)
    except (OSError, ValueError) as exc:
        raise ParameterError("notebook", str(path), f"a readable .ipynb file ({exc})") from exc
    meta = nb.metadata.get(METADATA_KEY) or {}
    timeout = meta.get("timeout")
    from .domains import domains_from_metadata
    needs = meta.get("needs")
    parameters = notebook_parameters(path)
    return NotebookInfo(name=path.stem, path=path.resolve(), read_only=meta.get("read_only") is True,
                        purpose=meta.get("purpose") or _purpose(nb), schedule=meta.get("schedule"),
                        timeout=float(timeout) if timeout else None, parameters=parameters,
                        needs=tuple(needs or ()),
                        domains=domains_from_metadata(meta.get("parameters"), parameters), check=meta.get("check"))


def discover(directory: str | Path | None = None) -> list[NotebookInfo]:
    """Every notebook of the catalog folder, by name (checkpoints and ``_private`` files skipped)."""
    folder = Path(directory) if directory else notebooks_dir()
    if not folder.is_dir():
        return []
    return [notebook_info(p) for p in sorted(folder.glob("*.ipynb")) if not p.name.startswith(("_", "."))]


def resolve(notebook: str, directory: str | Path | None = None) -> NotebookInfo:
    """A notebook by path or short name."""
    path = Path(notebook)
    if path.suffix == ".ipynb" or os.sep in notebook:
        if not path.is_file():
            raise ParameterError("notebook", notebook, "an existing .ipynb file or a short name")
        return notebook_info(path)
    folder = Path(directory) if directory else notebooks_dir()
    candidate = folder / f"{notebook}.ipynb"
    if candidate.is_file():
        return notebook_info(candidate)
    names = sorted(p.stem for p in folder.glob("*.ipynb")) if folder.is_dir() else []
    raise ParameterError("notebook", notebook, ", ".join(names) or f"a notebook in {folder} (none found)")
