"""Incident workspaces: what an on-call engineer runs by hand in JupyterLab is evidence too.

``runbook lab --incident ID`` opens JupyterLab on copies of the runbook notebooks in
``<archive>/workspaces/<ID>/`` (never on the tracked notebooks), each with papermill's injected
parameters cell setting ``profile``, ``incident_id`` and ``archive``. :func:`archive_workspace` (called by
``runbook incident archive ID`` and when ``runbook lab`` stops) archives every workspace notebook that was
executed and changed since it was last archived as a run of its own: ``mode: interactive``, the operator
recorded, scrubbed, hashed, HTML rendered, status from its findings (``error`` if a cell raised), so the
incident timeline and post-mortem show it beside the scheduled runs.

Folder archives only (the workspace is a folder JupyterLab serves); with an ``s3://`` archive the
workspace is ``runs/workspaces/<ID>/`` beside ``parameters/`` and its runs go to the S3 archive.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable

import nbformat
from papermill.iorw import load_notebook_node
from papermill.parameterize import parameterize_notebook

from ..errors import ParameterError
from ..settings import DEFAULT_ARCHIVE
from .archive import Archive, LocalArchive
from .catalog import NotebookInfo
from .manifest import RunEntry
from .scrub import Scrubber

STATE_FILE = ".archived.json"          # notebook name -> sha256 of its content when last archived
WORKSPACE_META = "opslib_workspace"
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def workspace_dir(archive: Archive, name: str) -> Path:
    if not _ID.match(name or ""):
        raise ParameterError("--incident", name, "an id of letters, digits, '.', '_' or '-' (e.g. INC-7)")
    if isinstance(archive, LocalArchive):
        return archive.root / "workspaces" / name
    from ..settings import project_root
    return project_root() / DEFAULT_ARCHIVE / "workspaces" / name


@dataclass(frozen=True)
class Prepared:
    folder: Path
    created: list[str]          # notebooks copied now
    kept: list[str]             # notebooks already there (earlier sessions' work is kept)


def prepare_workspace(folder: Path, notebooks: list[NotebookInfo], *, profile: str, incident_id: str | None,
                      archive: str) -> Prepared:
    """Copy ``notebooks`` into ``folder`` (only those not there yet) with their parameters pre-filled."""
    folder.mkdir(parents=True, exist_ok=True)
    created, kept = [], []
    for info in notebooks:
        target = folder / f"{info.name}.ipynb"
        if target.exists():
            kept.append(target.name)
            continue
        nb = load_notebook_node(str(info.path))      # papermill's reader: every cell gets metadata.tags
        values = {k: v for k, v in (("profile", profile), ("incident_id", incident_id), ("archive", archive))
                  if k in info.parameters}
        nb = parameterize_notebook(nb, values, kernel_name="python3")
        nb.metadata[WORKSPACE_META] = {"source": str(info.path), "source_sha256": _digest(info.path.read_bytes()),
                                       "incident_id": incident_id, "profile": profile, "parameters": values}
        nbformat.write(nb, target)
        created.append(target.name)
    return Prepared(folder, created, kept)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def executed(nb: nbformat.NotebookNode) -> bool:
    return any(c.cell_type == "code" and c.get("execution_count") for c in nb.cells)


def _raised(nb: nbformat.NotebookNode) -> dict | None:
    for cell in nb.cells:
        for out in cell.get("outputs", []) or []:
            if out.get("output_type") == "error":
                return {"ename": out.get("ename"), "evalue": out.get("evalue")}
    return None


def archive_workspace(folder: Path, archive: Archive, *, clock: Callable[[], datetime], operator: dict,
                      host: str = "", git_revision: str | None = None, scrubber: Scrubber | None = None,
                      new_id: Callable[[], str]) -> list[RunEntry]:
    """Archive every executed notebook of ``folder`` changed since it was last archived; returns the entries."""
    from .execute import archive_notebook
    state_path = folder / STATE_FILE
    state = json.loads(state_path.read_text()) if state_path.is_file() else {}
    out = []
    for path in sorted(folder.glob("*.ipynb")):
        raw = path.read_bytes()
        digest = _digest(raw)
        if state.get(path.name) == digest:
            continue
        nb = nbformat.reads(raw.decode(), as_version=4)
        if not executed(nb):
            continue
        meta = nb.metadata.get(WORKSPACE_META, {})
        modified = datetime.fromtimestamp(path.stat().st_mtime, tz=clock().tzinfo)
        started = min(_started(nb) or modified, modified)
        error = _raised(nb)
        entry = archive_notebook(
            nb, archive=archive, run_id=new_id(), name=path.stem, notebook_path=str(path),
            profile=meta.get("profile", ""), parameters=meta.get("parameters", {}),
            start=started, end=modified, abnormal="error" if error else None, error=error,
            incident_id=meta.get("incident_id"), operator=operator, git_revision=git_revision, host=host,
            scrubber=scrubber, mode="interactive")
        state[path.name] = digest
        state_path.write_text(json.dumps(state, indent=1, sort_keys=True))
        out.append(entry)
    return out


def _started(nb: nbformat.NotebookNode) -> datetime | None:
    """The first cell execution's start (JupyterLab records ``execution.iopub.execute_input`` when
    ``record_timing`` is on); None when the notebook does not say."""
    times = []
    for cell in nb.cells:
        stamp = (cell.get("metadata", {}).get("execution") or {}).get("iopub.execute_input")
        if stamp:
            try:
                times.append(datetime.fromisoformat(stamp.replace("Z", "+00:00")))
            except ValueError:
                continue
    return min(times) if times else None
