"""Kernels forked from the runner instead of started as a new Python.

A ``runbook run`` kernel imports much of what the runner has already imported: opslib, its profile models,
boto3, SQLAlchemy, nbformat and jsonschema, plotly.io, traitlets, pyzmq, tornado (about half a second of CPU
per run here; in a process that has run notebooks before, pandas and plotly too). A :class:`Zygote` is a child
of the runner forked from its main thread before the run's own threads and sockets exist (the papermill thread,
the kernel's ZeroMQ context); it goes into a session (process group) of its own at once and waits. When the kernel
manager launches the kernel, the zygote becomes it: the run's environment (replacing the inherited one
entirely), working folder and ``ipykernel``'s own start with the connection file jupyter_client wrote. Nothing of
the runner's state is used: every inherited file descriptor above 2 is pointed at ``/dev/null`` (a socket, pipe
or file of the runner stays neither open nor reusable by the kernel), the runner's signal handlers and exit
handlers are dropped, its objects are frozen for the garbage collector (``gc.freeze``: the kernel's collections
neither walk nor copy them), and the kernel ends with ``os._exit`` after its own exit handlers. What a module
decided at import from its environment is decided again: ipykernel's parent handle ($JPY_PARENT_PID) is passed
on its command line, and pandas, imported by a test process as in a terminal, gets a kernel's display width
(:func:`_as_imported_in_a_kernel`; ``runbook run`` itself forks before it imports pandas).

:class:`ForkProvisioner` is jupyter_client's :class:`LocalProvisioner` launching through the zygote; for any
kernel command other than this Python's ``ipykernel_launcher`` (another environment's kernel, another
language), or on a platform without ``fork``, it starts the kernel as a new process as usual, and so does every
run with ``OPSLIB_KERNEL_FORK=0``. The zygote is also a process-like handle (``pid``, ``poll``, ``wait``,
``send_signal``, ``kill``) that jupyter_client and :mod:`.execute` use as they would a ``Popen``.
"""
from __future__ import annotations

import asyncio
import atexit
import gc
import json
import os
import signal
import sys
import time
from typing import Any

from jupyter_client.provisioning import LocalProvisioner
from traitlets import Any as AnyTrait

from ..settings import resolve_kernel_fork

KERNEL_MODULE = "ipykernel_launcher"


def forkable(cmd: list[str]) -> bool:
    """``cmd`` starts this Python's ipykernel (``python -m ipykernel_launcher ...``)."""
    return (len(cmd) >= 3 and cmd[1:3] == ["-m", KERNEL_MODULE]
            and os.path.realpath(cmd[0]) == os.path.realpath(sys.executable))


class Zygote:
    """A forked child of this process waiting to become a kernel (:meth:`launch`) or to exit (:meth:`discard`)."""

    stdin = stdout = stderr = None          # what LocalProvisioner.wait() closes on a Popen

    def __init__(self) -> None:
        read, self._write = os.pipe()
        try:
            self.pid = os.fork()
        except OSError:
            os.close(read)
            os.close(self._write)
            raise
        if self.pid == 0:                    # the child: never returns
            os.close(self._write)
            _become_kernel(read)
        os.close(read)
        self.returncode: int | None = None
        self.launched = False

    @classmethod
    def start(cls, environ=None) -> "Zygote | None":
        """A zygote, or None where kernels are not forked (no ``fork``, ``OPSLIB_KERNEL_FORK=0``, or the fork
        failed, e.g. at the process limit: the kernel is then started as a new process, which may still succeed)."""
        if not hasattr(os, "fork") or not resolve_kernel_fork(environ):
            return None
        try:
            return cls()
        except OSError:
            return None

    def launch(self, cmd: list[str], env: dict, cwd: str) -> None:
        """Become the kernel ``cmd`` (``python -m ipykernel_launcher ARGS``) with ``env`` in ``cwd``."""
        data = json.dumps({"args": cmd[3:], "env": env, "cwd": cwd}).encode()
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self._write, view):]
        finally:
            os.close(self._write)
            self._write = None
        self.launched = True

    def discard(self) -> None:
        """Let a zygote that was not launched exit, and reap it."""
        if self._write is not None:
            os.close(self._write)
            self._write = None
        if not self.launched:
            self.wait()

    def close(self) -> None:
        """At the end of a run: a zygote never launched exits; a kernel still running is killed; either is reaped."""
        if not self.launched:
            self.discard()
        elif self.poll() is None:
            self.kill()
            self.wait()

    # -- what a Popen offers jupyter_client -----------------------------------------------------------
    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:        # reaped elsewhere
                self.returncode = -1
                return self.returncode
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self) -> int:
        while self.poll() is None:
            time.sleep(0.02)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, signum)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def _blank_inherited_fds() -> None:
    """Point every descriptor above 2 at /dev/null: closed to the kernel, and its number stays taken, so a runner
    object closing its descriptor later cannot close one of the kernel's."""
    null = os.open(os.devnull, os.O_RDWR)
    try:
        fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        fds = range(3, 1024)
    for fd in fds:
        if fd > 2 and fd != null:
            try:
                os.fstat(fd)
                os.dup2(null, fd)
            except OSError:
                pass
    os.dup2(null, 0)                         # as jupyter_client's launcher: no stdin for the kernel
    os.close(null)


def _as_imported_in_a_kernel() -> None:
    """What a module decided at import from where it was imported, as a kernel's own import decides it: pandas,
    imported by the runner (a test process), took it for a terminal and set ``display.max_columns`` to 0 (fit the
    terminal), where a kernel's import sets 20."""
    pandas = sys.modules.get("pandas")
    if pandas is not None:
        pandas.set_option("display.max_columns", 20)


def _become_kernel(read: int) -> None:
    """The zygote: in a session of its own at once (a Ctrl-C at the runner's terminal is the runner's to handle, as
    for a launched kernel), with the default signal handlers; it waits for the kernel's spec (EOF: exit)."""
    code = 1
    try:
        gc.freeze()        # the runner's objects: not the kernel's collector's to walk (and copy, page by page)
        os.setsid()
        for signum in (signal.SIGTERM, signal.SIGCHLD, signal.SIGPIPE):
            signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.set_wakeup_fd(-1)
        atexit._clear()                      # the runner's exit handlers are not the kernel's
        chunks = []
        while chunk := os.read(read, 1 << 16):
            chunks.append(chunk)
        os.close(read)
        if not chunks:                       # discarded
            os._exit(0)
        spec = json.loads(b"".join(chunks))
        asyncio.set_event_loop_policy(None)  # a new policy: no event loop of the runner's is reused
        _blank_inherited_fds()
        os.chdir(spec["cwd"])
        os.environ.clear()
        os.environ.update(spec["env"])
        _as_imported_in_a_kernel()
        # ipykernel reads $JPY_PARENT_PID when it is imported, maybe before this environment was set: said again
        args = [*spec["args"], f"--IPKernelApp.parent_handle={spec['env']['JPY_PARENT_PID']}"]
        sys.argv = [KERNEL_MODULE, *args]
        from ipykernel import kernelapp
        kernelapp.launch_new_instance(argv=args)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:                    # noqa: BLE001 - reported on the kernel's stderr, as a kernel would
        import traceback
        traceback.print_exc()
    finally:
        try:
            atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


class ForkProvisioner(LocalProvisioner):
    """jupyter_client's local provisioner, launching through :attr:`zygote` when the command is this Python's
    ipykernel (else as a new process, and the zygote is discarded)."""

    zygote = AnyTrait(None, allow_none=True)

    async def launch_kernel(self, cmd: list[str], **kwargs: Any):
        zygote, self.zygote = self.zygote, None
        if zygote is None or not forkable(cmd) or kwargs.get("stdout") or kwargs.get("stderr"):
            if zygote is not None:
                zygote.discard()
            return await super().launch_kernel(cmd, **kwargs)
        env = dict(kwargs.get("env") or os.environ)
        env["JPY_PARENT_PID"] = str(os.getpid())      # as jupyter_client's launcher: the kernel exits with us
        cwd = str(kwargs.get("cwd") or os.getcwd())   # papermill changes this process's folder (its ``cwd``)
        zygote.launch(cmd, env, cwd)
        self.process, self.pid, self.pgid, self.cwd = zygote, zygote.pid, zygote.pid, cwd
        return self.connection_info
