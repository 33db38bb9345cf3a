"""Run one notebook headless with papermill and archive the evidence.

:func:`run_notebook` executes into a private temporary folder, reads the findings back, scrubs
credentials, renders the HTML, writes both files once into the archive and appends the manifest
entry, whatever the outcome: a notebook that raised or whose kernel died leaves evidence too, and so
does a run stopped by SIGINT or SIGTERM: the kernel is shut down, what executed so far is archived with
status ``interrupted``, the run's temporary folder (with the kernel's connection file and sockets) is
removed, and the exit code is 128 + the signal (130, 143).
"""
from __future__ import annotations

import contextlib
import signal
import tempfile
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Callable

import nbformat
import papermill
from jupyter_client.manager import AsyncKernelManager
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from papermill.engines import NBClientEngine, papermill_engines
from papermill.exceptions import PapermillExecutionError
from traitlets import Dict
from traitlets.config import Config

from .. import __version__
from ..exitcodes import exit_code as _exit_code
from ..findings import overall_status, read_findings
from ..settings import AUDIT_FOLDER, kernel_environment
from .archive import Archive, LocalArchive, run_stem
from .catalog import NotebookInfo
from .forked_kernel import ForkProvisioner, Zygote
from .html import asset_prefix, render_page
from .manifest import RunEntry
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


def kernel_config(socket_dir: Path, env: dict | None = None) -> Config:
    """The kernel talks over Unix sockets in ``socket_dir`` (private to the run) instead of TCP on loopback:
    nothing else on the host can listen in, and concurrent runs cannot race for the same free port (TCP
    ports are picked, released, then bound by the kernel: two kernels starting together may collide).
    Its connection file (with the HMAC key) is in ``socket_dir`` too, so it goes with the run's temp folder.
    ``env``: the kernel process's environment (default: this process's), see :func:`kernel_environment`."""
    return Config({"KernelManager": {"transport": "ipc", "ip": str(socket_dir / "kernel"),
                                     "connection_file": str(socket_dir / "kernel-connection.json")},
                   "RunKernelManager": {"kernel_env": env},
                   "NotebookClient": {"kernel_manager_class": RunKernelManager}})


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


_KERNELS: dict[str, "RunKernelManager"] = {}       # connection file -> the manager of a run's kernel
_ZYGOTES: dict[str, Zygote] = {}                   # connection file -> the run's child that becomes its kernel


class RunKernelManager(AsyncKernelManager):
    """nbclient's kernel manager, findable by its connection file so that the main thread can stop the
    kernel of a run it interrupts (nbclient runs in a worker thread and cleans up after the kernel dies).
    It starts the kernel with the run's own environment (``kernel_env``, from :func:`kernel_config`)."""

    kernel_env = Dict(default_value=None, allow_none=True,
                      help="environment of the kernel process (None: this process's)").tag(config=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        _KERNELS[self.connection_file] = self

    async def start_kernel(self, **kw):
        if self.kernel_env is not None:
            kw.setdefault("env", dict(self.kernel_env))
        return await super().start_kernel(**kw)

    async def _async_pre_start_kernel(self, **kw):
        """jupyter_client's preparation, which makes the provisioner from the kernel spec unless one is set (as on
        a restart): here, when the run forked a child, the provisioner that launches through it."""
        zygote = _ZYGOTES.pop(self.connection_file, None)
        if zygote is not None and self.provisioner is None:     # the run's forked child becomes its kernel
            self.kernel_id = self.kernel_id or kw.pop("kernel_id", str(uuid.uuid4()))
            self.provisioner = ForkProvisioner(kernel_id=self.kernel_id, kernel_spec=self.kernel_spec, parent=self,
                                               zygote=zygote)
        return await super()._async_pre_start_kernel(**kw)


def _kill_kernel(connection_file: str) -> None:
    km = _KERNELS.get(connection_file)
    process = getattr(getattr(km, "provisioner", None), "process", None)
    if process is not None and process.poll() is None:
        process.kill()


class RunInterrupted(BaseException):
    """SIGINT or SIGTERM arrived while the notebook ran (a BaseException, like KeyboardInterrupt, so that no
    ``except Exception`` on the way swallows it)."""

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(signal.Signals(signum).name)


@contextlib.contextmanager
def stop_signals(state: dict):
    """While inside: the first SIGINT/SIGTERM raises :class:`RunInterrupted` while ``state["armed"]`` (the
    default), else it is only noted in ``state["signum"]``. Outside the main thread (signals cannot be
    handled there) it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        if state.get("signum") is not None:
            return
        state["signum"] = signum
        if state.get("armed", True):
            raise RunInterrupted(signum)

    saved = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, old in saved.items():
            signal.signal(s, old)


def _papermill(info: NotebookInfo, output: Path, parameters: dict, *, timeout: float,
               kernel_name: str, env: dict | None = None) -> tuple[str | None, dict | None]:
    """Run papermill (the kernel with environment ``env``); returns (abnormal status or None, error)."""
    try:
        papermill.execute_notebook(str(info.path), str(output), parameters=parameters, kernel_name=kernel_name,
                                   progress_bar=False, log_output=False, execution_timeout=timeout,
                                   cwd=str(info.path.parent), config=kernel_config(output.parent, env),
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


def _execute(info: NotebookInfo, output: Path, parameters: dict, *, timeout: float, kernel_name: str,
             state: dict, grace: float = 60.0, env: dict | None = None) -> tuple[str | None, dict | None]:
    """papermill in a worker thread (nbclient then leaves the process's signal handlers alone), the main
    thread waiting where SIGINT/SIGTERM reach it (:func:`stop_signals`). On a signal the kernel is killed;
    nbclient sees it die, removes its connection file and sockets, and papermill writes what ran so far."""
    result: dict = {}
    # Not ``worker.is_alive()``: on Python 3.11 a signal that interrupts ``Thread.join`` marks the thread
    # stopped although it runs on (the join's cleanup releases the thread's own lock), so the run would be
    # archived before papermill wrote what ran. The worker says it is done instead.
    done = threading.Event()

    def work():
        try:
            result["value"] = _papermill(info, output, parameters, timeout=timeout, kernel_name=kernel_name,
                                         env=env)
        except BaseException as exc:              # noqa: BLE001 - handed to the main thread
            result["raised"] = exc
        finally:
            done.set()

    worker = threading.Thread(target=work, name=f"papermill-{info.name}", daemon=True)
    connection_file = str(output.parent / "kernel-connection.json")
    zygote = None
    if threading.current_thread() is threading.main_thread():   # forked before the run's threads exist
        zygote = Zygote.start(env)
        if zygote is not None:
            _ZYGOTES[connection_file] = zygote
    try:
        worker.start()
        while not done.wait(0.2):
            pass
    except RunInterrupted as exc:
        state["armed"] = False
        deadline = time.monotonic() + grace
        while not done.is_set() and time.monotonic() < deadline:
            _kill_kernel(connection_file)        # again if it was still starting
            done.wait(0.2)
        return "interrupted", {"ename": "Interrupted", "evalue": f"stopped by {exc}"}
    finally:
        state["armed"] = False                    # archiving is not interrupted; a signal now is noted only
        _KERNELS.pop(connection_file, None)
        if zygote is not None:
            _ZYGOTES.pop(connection_file, None)
            zygote.close()                        # papermill is done: nothing of the run's child stays
    if "raised" in result:
        raise result["raised"]
    if state.get("signum") is not None:
        return "interrupted", {"ename": "Interrupted", "evalue": f"stopped by {signal.Signals(state['signum']).name}"}
    return result["value"]


def _kernel_env(archive: Archive, run_id: str) -> dict:
    """The kernel's environment: its actions audit into the run's archive (``<archive>/audit/``) tagged with
    the run id. Handed to the kernel process only; this process's environment is left alone."""
    audit = archive.root / AUDIT_FOLDER if isinstance(archive, LocalArchive) else None
    return kernel_environment(run_id=run_id, audit_dir=audit)


def run_notebook(info: NotebookInfo, *, profile: str, archive: Archive, clock: Callable[[], datetime],
                 parameters: dict | None = None, incident_id: str | None = None, job: str | None = None,
                 timeout: float | None = None, operator: dict | None = None, git_revision: str | None = None,
                 host: str = "", scrubber: Scrubber | None = None, profile_name: str | None = None,
                 kernel_name: str = "python3", run_id: str | None = None,
                 notify: Callable[[RunEntry], list] | None = None, mode: str = "batch") -> RunEntry:
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
    state: dict = {}
    with stop_signals(state), tempfile.TemporaryDirectory(prefix="opslib-run-") as tmp:
        output = Path(tmp) / f"{info.name}.ipynb"
        abnormal, error = _execute(info, output, values, timeout=timeout, kernel_name=kernel_name, state=state,
                                   env=_kernel_env(archive, run_id))
        end = clock()
        # interrupted before papermill wrote anything: the source notebook stands for what ran (nothing)
        nb = nbformat.read(output if output.is_file() else info.path, as_version=4)
    if abnormal in ("interrupted", "died", "timeout"):
        _mark_cut_off(nb, abnormal)
    return archive_notebook(nb, archive=archive, run_id=run_id, name=info.name, notebook_path=str(info.path),
                            profile=profile_name or profile, parameters=values, start=start, end=end,
                            abnormal=abnormal, error=error, signum=state.get("signum"), incident_id=incident_id,
                            job=job, operator=operator, git_revision=git_revision, host=host, scrubber=scrub,
                            notify=notify, mode=mode)


def _mark_cut_off(nb: nbformat.NotebookNode, status: str) -> None:
    """papermill records a cell its kernel died in as ``completed``; say what happened to it instead."""
    cell = failing_cell(nb)
    if cell is not None:
        meta = nb.cells[cell["index"]].metadata.setdefault("papermill", {})
        if meta.get("status") != "failed":
            meta["status"] = status


def archive_notebook(nb: nbformat.NotebookNode, *, archive: Archive, run_id: str, name: str, notebook_path: str,
                     profile: str, parameters: dict, start: datetime, end: datetime, abnormal: str | None = None,
                     error: dict | None = None, signum: int | None = None, incident_id: str | None = None,
                     job: str | None = None, operator: dict | None = None, git_revision: str | None = None,
                     host: str = "", scrubber: Scrubber | None = None,
                     notify: Callable[[RunEntry], list] | None = None, mode: str = "batch") -> RunEntry:
    """Archive an executed notebook as a run: status from its findings (or ``abnormal``), scrubbed, HTML
    rendered, files written once with their hashes, the manifest entry appended (and returned).
    Headless runs (:func:`run_notebook`) and interactive workspace notebooks (:mod:`.workspace`) both end here."""
    scrub = scrubber or Scrubber()
    checks = read_findings(nb)
    status = abnormal or overall_status(checks)
    bad_cell = failing_cell(nb) if abnormal else None
    exit_code = _exit_code(status, signum)
    nb = scrub.notebook(nb)                   # a scrubbed copy: the caller's notebook is left as it was
    nb.metadata["opslib_run"] = scrub.obj({"id": run_id, "notebook": name, "profile": profile, "mode": mode,
                                           "start": start.isoformat(), "status": status, "incident_id": incident_id})
    ipynb = nbformat.writes(nb).encode()
    stem = run_stem(start, name, run_id)
    html, assets = render_page(nb, title=f"{name} {run_id} ({status})", assets=asset_prefix(stem))
    html = html.encode()
    files, added = {}, 0
    for kind, data in (("ipynb", ipynb), ("html", html)):
        rel = f"{stem}.{kind}"
        files[kind] = {"rel": rel, "path": archive.write_once(rel, data), "sha256": sha256(data), "bytes": len(data)}
        added += len(data)
    for asset in assets:          # shared by the runs of the archive: written by the first run that needs it
        rel, written = archive.write_asset(asset.name, asset.data)
        files[f"asset:{asset.stem}"] = {"rel": rel, "path": archive.url(rel), "sha256": asset.sha256,
                                        "bytes": len(asset.data)}
        added += len(asset.data) if written else 0
    entry = RunEntry(
        id=run_id, notebook=name, notebook_path=notebook_path, profile=profile,
        parameters=scrub.obj(parameters), operator=scrub.obj(operator or {}), host=host, git_revision=git_revision,
        opslib_version=__version__, start=start.isoformat(), end=end.isoformat(),
        duration_seconds=round((end - start).total_seconds(), 3), status=status, exit_code=exit_code,
        findings=[c.to_dict() for c in checks], files=files, archive=archive.location, incident_id=incident_id,
        job=job, failing_cell=scrub.obj(bad_cell), error=scrub.obj(error),
        bytes_added=added, mode=mode)
    if notify is not None:
        entry.notifications = notify(entry)
    entry = RunEntry.from_dict(scrub.obj(entry.to_dict()))
    return RunEntry.from_dict(archive.append_manifest(entry.to_dict()))

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
        if not kind.startswith("asset:"):
            lines.append(f"  {kind:<5} {f['path']}")
    lines.append(f"  archive +{entry['bytes_added']:,} bytes")
    return "\n".join(lines)

