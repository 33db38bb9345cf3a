"""The running sandbox's state file: how notebooks, the CLI and JupyterLab find it without copying
endpoints by hand. ``$OPSLIB_SANDBOX_DIR`` wins, else ``.sandbox/`` beside ``parameters/``."""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from ..errors import SandboxError

from ..settings import SANDBOX_DIR_ENV, resolve_sandbox_dir  # noqa: F401 (SANDBOX_DIR_ENV: also imported from here)

STATE_FILE = "state.json"


def default_dir() -> Path:
    """$OPSLIB_SANDBOX_DIR, else ``.sandbox/`` beside ``parameters/``."""
    return resolve_sandbox_dir()


@dataclass(frozen=True)
class SandboxState:
    dir: str
    aws_endpoint: str
    health_url: str
    control_url: str
    warehouse_path: str
    database_url: str
    now: str
    seed: int
    size: int
    pid: int
    account_id: str = "123456789012"
    sns_cert_origin: str = ""        # where the sandbox serves SNS signing certificates (trusted by `runbook serve`)
    profile: str = "sandbox"          # the profile the sandbox seeded (a name of parameters/ or a file path)

    @property
    def now_dt(self) -> datetime:
        return datetime.fromisoformat(self.now)

    def write(self) -> None:
        path = Path(self.dir) / STATE_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2))
        tmp.replace(path)


def read_state(directory: "str | os.PathLike | None" = None) -> SandboxState:
    """The state of the running sandbox, or a SandboxError saying how to start one."""
    d = Path(directory) if directory else default_dir()
    path = d / STATE_FILE
    if not path.is_file():
        raise SandboxError(f"the sandbox is not running (no {path}); start it with `runbook sandbox up` "
                           f"or use a profile that points at AWS")
    try:
        return SandboxState(**json.loads(path.read_text()))
    except (ValueError, TypeError) as exc:
        raise SandboxError(f"{path} is unreadable ({exc}); run `runbook sandbox down` then `up`") from exc


def clear_state(directory: "str | os.PathLike | None" = None) -> None:
    d = Path(directory) if directory else default_dir()
    (d / STATE_FILE).unlink(missing_ok=True)


def pid_alive(pid: int) -> bool:
    """Whether a process with ``pid`` runs (one of another user's counts). A child of ours that exited is
    reaped here: as a zombie it would still answer ``kill(pid, 0)``."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass                                   # not our child: ask the kernel
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
