"""Who, where and what version: the provenance recorded with every run. Each lookup tolerates failure."""
from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any, Callable

from ..errors import OpsError
from ..operator import Operator, host, local_user  # noqa: F401 (also imported from here)


def _aws_identity(profile: Any, *, connect: Callable[[Any], Any] | None = None) -> dict:
    """The AWS caller identity behind ``profile`` (account, ARN) or ``{"error": ...}``. ``connect`` builds the
    :class:`~opslib.connection.Ops` (``runbook run`` passes the one its preflight opened)."""
    if connect is None:
        from ..connection import connect
    try:
        ops = connect(profile)
    except OpsError as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
    try:
        return ops.caller_identity()
    finally:
        ops.close()


def operator(profile: Any, *, connect: Callable[[Any], Any] | None = None) -> dict:
    """The run's operator as the manifest records it (:meth:`opslib.operator.Operator.to_dict`)."""
    return Operator.from_identity(_aws_identity(profile, connect=connect)).to_dict()


def git_revision(path: str | Path) -> str | None:
    """``git rev-parse HEAD`` of the repository holding ``path`` (with ``-dirty`` if it has changes), or None."""
    folder = Path(path)
    folder = folder if folder.is_dir() else folder.parent
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=10)
        if rev.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "."], cwd=folder, capture_output=True,
                               text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return rev.stdout.strip() + ("-dirty" if dirty.returncode == 0 and dirty.stdout.strip() else "")
