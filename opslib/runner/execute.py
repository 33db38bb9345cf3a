"""Run one notebook headless with papermill and archive the evidence.

:func:`run_notebook` executes into a private temporary folder, reads the findings back, scrubs
credentials, renders the HTML, writes both files once into the archive and appends the manifest
entry, whatever the outcome: a notebook that raised or whose kernel died leaves evidence too.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from datetime import datetime
from pathlib import Path
from typing import Callable

import nbformat
import papermill
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from papermill.engines import NBClientEngine, papermill_engines
from papermill.exceptions import PapermillExecutionError
from traitlets.config import Config

from .. import __version__
from ..findings import overall_status, read_findings
from .archive import Archive, LocalArchive, run_stem
from .catalog import NotebookInfo
from .html import render_html
from .manifest import EXIT_CODES, RunEntry
from .scrub import Scrubber
from .verify import sha256

DEFAULT_TIMEOUT = 1800.0      # seconds per cell when neither --timeout nor the notebook's metadata say


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]


def injected_parameters(info: NotebookInfo, values: dict, *, profile: str, run_id: str,
                        incident_id: str | None, archive: str | None = None) -> dict:
    """The user's validated values plus ``profile``, ``run_id``, ``incident_id`` and ``archive`` (the
    archive's location, so a notebook can read earlier runs) where the notebook declares them."""
    out = dict(values)
    for name, value in (("profile", profile), ("run_id", run_id), ("incident_id", incident_id), ("archive", archive)):
        if name in info.parameters:
            out[name] = value
    return out


def _source_head(cell: dict) -> str:
    source = cell.get("source", "")
    source = "".join(source) if isinstance(source, list) else source
    return source.strip().splitlines()[0][:200] if source.strip() else ""


def failing_cell(nb: dict) -> dict | None:
    """The cell with an error output, else the last cell that started (kernel death)."""
    started = None
    for index, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        if any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
            return {"index": index, "execution_count": cell.get("execution_count"), "source": _source_head(cell)}
        if (cell.get("metadata", {}).get("papermill") or {}).get("start_time"):
            started = (index, cell)
    if started is None:
        return None
    index, cell = started
    return {"index": index, "execution_count": cell.get("execution_count"), "source": _source_head(cell)}


def kernel_config(socket_dir: Path) -> Config:
    """The kernel talks over Unix sockets in ``socket_dir`` (private to the run) instead of TCP on loopback:
    nothing else on the host can listen in, and concurrent runs cannot race for the same free port (TCP
    ports are picked, released, then bound by the kernel: two kernels starting together may collide)."""
    return Config({"KernelManager": {"transport": "ipc", "ip": str(socket_dir / "kernel")}})


class FinalSaveEngine(NBClientEngine):
    """papermill's nbclient engine without its saves at every cell start and end (each one serialises
    the whole notebook, outputs and figure JSON included: about 40 per runbook, a second of CPU). The
    output is a private temporary file read once at the end; papermill still writes it when the run
    starts and, in a ``finally``, when it ends, so a failed cell, a dead kernel or a timeout are saved."""

    @classmethod
    def execute_managed_notebook(cls, nb_man, kernel_name, **kwargs):
        path, nb_man.output_path = nb_man.output_path, None
        try:
            return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)
        finally:
            nb_man.output_path = path


ENGINE = "opslib-final-save"
papermill_engines.register(ENGINE, FinalSaveEngine)


def _execute(info: NotebookInfo, output: Path, parameters: dict, *, timeout: float,
             kernel_name: str) -> tuple[str | None, dict | None]:
    """Run papermill; returns (abnormal status or None, error)."""
    try:
        papermill.execute_notebook(str(info.path), str(output), parameters=parameters, kernel_name=kernel_name,
                                   progress_bar=False, log_output=False, execution_timeout=timeout,
                                   cwd=str(info.path.parent), config=kernel_config(output.parent),
                                   engine_name=ENGINE)
    except PapermillExecutionError as exc:
        return "error", {"ename": exc.ename, "evalue": exc.evalue}
    except DeadKernelError as exc:
        return "died", {"ename": "DeadKernelError", "evalue": str(exc) or "the kernel died"}
    except (CellTimeoutError, TimeoutError) as exc:
        return "timeout", {"ename": type(exc).__name__, "evalue": f"a cell ran longer than {timeout:g}s"}
    except RuntimeError as exc:       # jupyter_client: "Kernel didn't respond in 60 seconds"
        if "kernel" not in str(exc).lower():
            raise
        return "died", {"ename": "KernelStartError", "evalue": str(exc)}
    return None, None


@contextlib.contextmanager
def _audit_environment(archive: Archive, run_id: str):
    """The kernel's actions audit into the run's archive (``<archive>/audit/``) tagged with the run id."""
    from ..environment import AUDIT_DIR_ENV, RUN_ID_ENV
    saved = {k: os.environ.get(k) for k in (AUDIT_DIR_ENV, RUN_ID_ENV)}
    os.environ[RUN_ID_ENV] = run_id
    if isinstance(archive, LocalArchive):
        os.environ[AUDIT_DIR_ENV] = str(archive.root / "audit")
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_notebook(info: NotebookInfo, *, profile: str, archive: Archive, clock: Callable[[], datetime],
                 parameters: dict | None = None, incident_id: str | None = None, job: str | None = None,
                 timeout: float | None = None, operator: dict | None = None, git_revision: str | None = None,
                 host: str = "", scrubber: Scrubber | None = None, profile_name: str | None = None,
                 kernel_name: str = "python3", run_id: str | None = None,
                 notify: Callable[[RunEntry], list] | None = None) -> RunEntry:
    """Execute ``info`` with already validated ``parameters``; archive it and append its manifest entry.

    ``notify`` is called with the finished entry; what it returns is recorded as ``notifications``.
    ``profile`` is injected as given (a name or a file path); ``profile_name`` is what the manifest
    records (default: ``profile``). ``clock`` gives the UTC start and end times."""
    scrub = scrubber or Scrubber()
    run_id = run_id or new_run_id()
    timeout = float(timeout or info.timeout or DEFAULT_TIMEOUT)
    values = injected_parameters(info, parameters or {}, profile=profile, run_id=run_id, incident_id=incident_id,
                                 archive=archive.location)
    start = clock()
    with tempfile.TemporaryDirectory(prefix="opslib-run-") as tmp, _audit_environment(archive, run_id):
        output = Path(tmp) / f"{info.name}.ipynb"
        abnormal, error = _execute(info, output, values, timeout=timeout, kernel_name=kernel_name)
        end = clock()
        nb = nbformat.read(output, as_version=4)
    checks = read_findings(nb)
    status = abnormal or overall_status(checks)
    bad_cell = failing_cell(nb) if abnormal else None
    nb.metadata["opslib_run"] = {"id": run_id, "notebook": info.name, "profile": profile_name or profile,
                                 "start": start.isoformat(), "status": status, "incident_id": incident_id}
    nb = scrub.notebook(nb)
    ipynb = nbformat.writes(nb).encode()
    html = render_html(nb, title=f"{info.name} {run_id} ({status})").encode()
    stem = run_stem(start, info.name, run_id)
    files = {}
    for kind, data in (("ipynb", ipynb), ("html", html)):
        rel = f"{stem}.{kind}"
        files[kind] = {"rel": rel, "path": archive.write_once(rel, data), "sha256": sha256(data), "bytes": len(data)}
    entry = RunEntry(
        id=run_id, notebook=info.name, notebook_path=str(info.path), profile=profile_name or profile,
        parameters=scrub.obj(values), operator=scrub.obj(operator or {}), host=host, git_revision=git_revision,
        opslib_version=__version__, start=start.isoformat(), end=end.isoformat(),
        duration_seconds=round((end - start).total_seconds(), 3), status=status, exit_code=EXIT_CODES[status],
        findings=[c.to_dict() for c in checks], files=files, archive=archive.location, incident_id=incident_id,
        job=job, failing_cell=scrub.obj(bad_cell), error=scrub.obj(error),
        bytes_added=sum(f["bytes"] for f in files.values()))
    if notify is not None:
        entry.notifications = notify(entry)
    entry = RunEntry.from_dict(scrub.obj(entry.to_dict()))
    archive.append_manifest(entry.to_dict())
    return entry


def summary(entry: dict) -> str:
    """The terminal lines for a finished run."""
    lines = [f"{entry['notebook']}: {entry['status']} (exit {entry['exit_code']}) in {entry['duration_seconds']:.1f}s"
             f"  run {entry['id']}"]
    if entry.get("error"):
        cell = entry.get("failing_cell") or {}
        lines.append(f"  failed in cell {cell.get('index')} [{cell.get('execution_count')}] {cell.get('source', '')!r}: "
                     f"{entry['error']['ename']}: {entry['error']['evalue']}")
    for c in entry.get("findings", []):
        lines.append(f"  {c['status'].upper():<4} {c['name']}: {c['detail']}")
    for kind, f in entry["files"].items():
        lines.append(f"  {kind:<5} {f['path']}")
    lines.append(f"  archive +{entry['bytes_added']:,} bytes")
    return "\n".join(lines)

