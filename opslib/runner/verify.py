"""``runbook runs verify``: recompute the sha256 of archived files against their manifest entries."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Iterable

from ..errors import EvidenceError
from .archive import Archive


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class FileCheck:
    run_id: str
    kind: str          # ipynb | html
    path: str
    status: str        # ok | changed | missing
    detail: str = ""


def verify_entries(archive: Archive, entries: Iterable[dict]) -> list[FileCheck]:
    """One :class:`FileCheck` per archived file of ``entries``."""
    out = []
    for entry in entries:
        for kind, info in sorted(entry.get("files", {}).items()):
            try:
                data = archive.read(info["rel"])
            except EvidenceError as exc:
                out.append(FileCheck(entry["id"], kind, info["path"], "missing", str(exc)))
                continue
            digest = sha256(data)
            if digest != info["sha256"]:
                out.append(FileCheck(entry["id"], kind, info["path"], "changed",
                                     f"sha256 {digest} != recorded {info['sha256']}"))
            else:
                out.append(FileCheck(entry["id"], kind, info["path"], "ok"))
    return out
