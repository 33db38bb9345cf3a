"""The evidence archive: a local folder or an ``s3://bucket/prefix``, written once.

Layout (both kinds)::

    YYYY/MM/DD/HHMMSSZ-<notebook>-<id>.ipynb     the scrubbed output notebook
    YYYY/MM/DD/HHMMSSZ-<notebook>-<id>.html      its offline HTML rendering (loads plotly.js from assets/)
    assets/plotly-<sha256>.min.js                plotly.js, once per archive, named by its content hash
    manifest.jsonl                               local: one JSON line per run, appended under a file lock
    manifest/<seq, 12 digits>.json               S3: one object per run (S3 has no append), written with
                                                 If-None-Match so two runs cannot take the same place
    audit/audit.jsonl                            the audit log of actions (not part of the manifest)

A file that exists is never overwritten: :meth:`Archive.write_once` raises :class:`EvidenceError`.

The manifest is a hash chain (as CloudTrail's digest files chain log files): each entry carries ``seq``
(1, 2, ...) and ``prev``, the sha256 of the previous entry's stored bytes (:data:`GENESIS` for the first),
set while the manifest is locked. The sha256 of the last entry is the chain head. See :mod:`.verify`.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

from botocore.exceptions import ClientError

from ..aws import s3 as s3_reads
from ..errors import EvidenceError
from ..settings import ARCHIVE_ENV, DEFAULT_ARCHIVE, resolve_archive  # noqa: F401 (also imported from here)

MANIFEST = "manifest.jsonl"
MANIFEST_LOCK = "manifest.lock"
S3_MANIFEST = "manifest/"
GENESIS = "0" * 64
#: folders of an archive that are not run evidence listed in the manifest
NOT_EVIDENCE = ("audit/", "workspaces/")


def default_archive() -> str:
    """``$OPSLIB_ARCHIVE``, else ``runs/`` beside ``parameters/``: the one default of the CLI, the audit
    log, the incident timeline and the post-mortem (:func:`opslib.settings.resolve_archive`)."""
    return resolve_archive()


def _entry_bytes(entry: dict) -> bytes:
    """How an entry is stored (one line of ``manifest.jsonl``, one S3 object): the bytes its hash covers."""
    return json.dumps(entry, sort_keys=True, default=str).encode()


def chain_hash(raw: bytes) -> str:
    return hashlib.sha256(raw.rstrip(b"\n")).hexdigest()


@dataclass(frozen=True)
class StoredEntry:
    """A manifest entry as stored: where (``line N`` or an S3 key), its raw bytes and the parsed entry
    (None when the bytes are not a JSON object)."""
    place: str
    raw: bytes
    entry: dict | None
    error: str = ""

    @property
    def hash(self) -> str:
        return chain_hash(self.raw)


def run_stem(start: datetime, notebook: str, run_id: str) -> str:
    """``YYYY/MM/DD/HHMMSSZ-<notebook>-<id>`` for a run started at ``start`` (UTC)."""
    return f"{start:%Y/%m/%d}/{start:%H%M%S}Z-{notebook}-{run_id}"


class Archive:
    """Where run files and manifest entries go. Paths are relative, with ``/``."""

    location: str

    def write_once(self, rel: str, data: bytes) -> str:
        raise NotImplementedError

    def read(self, rel: str) -> bytes:
        raise NotImplementedError

    def write_asset(self, name: str, data: bytes) -> tuple[str, bool]:
        """Write ``assets/<name>`` unless it exists (content-addressed names: same name, same bytes).
        Returns (relative path, whether it was written now)."""
        rel = f"assets/{name}"
        try:
            self.write_once(rel, data)
            return rel, True
        except EvidenceError:
            if hashlib.sha256(self.read(rel)).hexdigest() != hashlib.sha256(data).hexdigest():
                raise EvidenceError(f"{self.url(rel)} exists with other content than its name says")
            return rel, False

    def append_manifest(self, entry: dict) -> dict:
        """Append ``entry`` with ``seq`` and ``prev`` set (atomically); returns the entry as stored."""
        raise NotImplementedError

    def stored_entries(self) -> list[StoredEntry]:
        """The manifest's entries in chain order, raw."""
        raise NotImplementedError

    def manifest(self) -> Iterator[dict]:
        for stored in self.stored_entries():
            if stored.entry is None:
                raise EvidenceError(f"{self.location}: manifest {stored.place} is not a JSON object: {stored.error}")
            yield stored.entry

    def exists(self) -> bool:
        raise NotImplementedError

    def has_manifest(self) -> bool:
        raise NotImplementedError

    def files(self) -> list[str]:
        """Every evidence file in the archive (relative paths), the manifest and the audit log left out."""
        raise NotImplementedError

    def url(self, rel: str) -> str:
        return f"{self.location.rstrip('/')}/{rel}"


@dataclass
class LocalArchive(Archive):
    root: Path

    def __post_init__(self) -> None:
        self.root = Path(self.root).resolve()
        self.location = str(self.root)

    def write_once(self, rel: str, data: bytes) -> str:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with open(path, "xb") as fh:      # O_EXCL: fails if the file exists
                fh.write(data)
        except FileExistsError as exc:
            raise EvidenceError(f"{path} already exists; archive files are written once") from exc
        os.chmod(path, 0o444)
        return str(path)

    def write_asset(self, name: str, data: bytes) -> tuple[str, bool]:
        # written aside and linked into place: a concurrent run never sees half an asset
        rel = f"assets/{name}"
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".partial-")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                os.chmod(tmp, 0o444)
                try:
                    os.link(tmp, path)        # fails if it exists: never overwritten
                    return rel, True
                except FileExistsError:
                    pass
            finally:
                os.unlink(tmp)
        if hashlib.sha256(path.read_bytes()).hexdigest() != hashlib.sha256(data).hexdigest():
            raise EvidenceError(f"{path} exists with other content than its name says")
        return rel, False

    def read(self, rel: str) -> bytes:
        try:
            return (self.root / rel).read_bytes()
        except FileNotFoundError as exc:
            raise EvidenceError(f"{self.root / rel} is missing") from exc

    def append_manifest(self, entry: dict) -> dict:
        self.root.mkdir(parents=True, exist_ok=True)
        # the lock is a file of its own, so reading the last entry, linking to it and appending is one step
        # for concurrent runs (--all, several hosts on one NFS folder with working flock)
        with open(self.root / MANIFEST_LOCK, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                last = self._last_entry()
                seq = 1
                if last is not None:
                    seq = (last.entry or {}).get("seq") or len(self.stored_entries())
                    seq += 1
                entry = {**entry, "seq": seq, "prev": last.hash if last else GENESIS}
                with open(self.root / MANIFEST, "ab") as fh:
                    fh.write(_entry_bytes(entry) + b"\n")
                    fh.flush()
                    os.fsync(fh.fileno())
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        return entry

    def _last_entry(self, chunk: int = 65536) -> StoredEntry | None:
        """The last non-empty line, read from the end (the manifest grows by a line per run)."""
        path = self.root / MANIFEST
        if not path.is_file():
            return None
        with open(path, "rb") as fh:
            end = fh.seek(0, os.SEEK_END)
            tail = b""
            pos = end
            while pos > 0:
                step = min(chunk, pos)
                pos -= step
                fh.seek(pos)
                tail = fh.read(step) + tail
                lines = [x for x in tail.split(b"\n") if x.strip()]
                if len(lines) >= 2 or (pos == 0 and lines):
                    return _parse("last line", lines[-1])
        return None

    def stored_entries(self) -> list[StoredEntry]:
        path = self.root / MANIFEST
        if not path.is_file():
            return []
        out = []
        for number, line in enumerate(path.read_bytes().split(b"\n"), 1):
            if not line.strip():
                continue
            out.append(_parse(f"line {number}", line))
        return out

    def exists(self) -> bool:
        return self.root.is_dir()

    def has_manifest(self) -> bool:
        return (self.root / MANIFEST).is_file()

    def files(self) -> list[str]:
        out = []
        for path in sorted(self.root.rglob("*")):
            rel = path.relative_to(self.root).as_posix()
            if path.is_file() and rel not in (MANIFEST, MANIFEST_LOCK) and not rel.startswith(NOT_EVIDENCE):
                out.append(rel)
        return out


@dataclass
class S3Archive(Archive):
    client: Any
    bucket: str
    prefix: str = ""

    def __post_init__(self) -> None:
        self.prefix = self.prefix.strip("/")
        self.location = f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    def _key(self, rel: str) -> str:
        return f"{self.prefix}/{rel}" if self.prefix else rel

    def _exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise EvidenceError(f"cannot read s3://{self.bucket}/{key}: {exc}") from exc

    def write_once(self, rel: str, data: bytes) -> str:
        key = self._key(rel)
        if self._exists(key):
            raise EvidenceError(f"s3://{self.bucket}/{key} already exists; archive files are written once")
        try:   # IfNoneMatch makes S3 itself refuse an overwrite that races the check above
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data, IfNoneMatch="*")
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code in ("PreconditionFailed", "ConditionalRequestConflict"):
                raise EvidenceError(f"s3://{self.bucket}/{key} already exists; archive files are written once") from exc
            raise EvidenceError(f"cannot write s3://{self.bucket}/{key}: {exc}") from exc
        return f"s3://{self.bucket}/{key}"

    def read(self, rel: str) -> bytes:
        key = self._key(rel)
        try:
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as exc:
            raise EvidenceError(f"s3://{self.bucket}/{key} is missing or unreadable: "
                                f"{exc.response.get('Error', {}).get('Code')}") from exc

    def _keys(self, rel_prefix: str = "") -> list[str]:
        prefix = self._key(rel_prefix) if rel_prefix else (f"{self.prefix}/" if self.prefix else "")
        try:
            keys = [obj["Key"] for obj in s3_reads.objects(self.client, self.bucket, prefix)]
        except ClientError as exc:
            raise EvidenceError(f"cannot list {self.location}: {exc.response.get('Error', {}).get('Code')}") from exc
        return sorted(keys)

    def _rel(self, key: str) -> str:
        return key[len(self.prefix) + 1:] if self.prefix else key

    def append_manifest(self, entry: dict, *, attempts: int = 20) -> dict:
        # the lock is S3's own: If-None-Match on the next sequence number's key; a run that loses the race
        # reads the new head and takes the next place
        for _ in range(attempts):
            stored = self.stored_entries()
            last = stored[-1] if stored else None
            seq = ((last.entry or {}).get("seq", len(stored)) if last else 0) + 1
            entry = {**entry, "seq": seq, "prev": last.hash if last else GENESIS}
            try:
                self.write_once(f"{S3_MANIFEST}{seq:012d}.json", _entry_bytes(entry))
                return entry
            except EvidenceError as exc:
                if "already exists" not in str(exc):
                    raise
        raise EvidenceError(f"{self.location}: could not append to the manifest after {attempts} attempts")

    def stored_entries(self) -> list[StoredEntry]:
        out = []
        for key in self._keys(S3_MANIFEST):
            raw = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            out.append(_parse(self._rel(key), raw))
        return out

    def exists(self) -> bool:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError:
            return False
        return bool(self._keys()) or not self.prefix

    def has_manifest(self) -> bool:
        return bool(self._keys(S3_MANIFEST))

    def files(self) -> list[str]:
        return [rel for rel in map(self._rel, self._keys())
                if not rel.startswith(S3_MANIFEST) and not rel.startswith(NOT_EVIDENCE)]


def _parse(place: str, raw: bytes) -> StoredEntry:
    try:
        entry = json.loads(raw)
    except ValueError as exc:
        return StoredEntry(place, raw, None, str(exc))
    if not isinstance(entry, dict):
        return StoredEntry(place, raw, None, "not an object")
    return StoredEntry(place, raw, entry)


def _parse_s3(target: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` -> (bucket, prefix)."""
    rest = target[len("s3://"):]
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise EvidenceError(f"{target!r} names no bucket; use s3://bucket/prefix")
    return bucket, prefix


def open_archive(target: str | os.PathLike | None = None, *, s3_client: Any = None) -> Archive:
    """The archive at ``target`` (default :func:`default_archive`); ``s3://`` needs ``s3_client``."""
    text = os.fspath(target) if target else default_archive()
    if text.startswith("s3://"):
        if s3_client is None:
            raise EvidenceError(f"{text}: an S3 archive needs an S3 client (from the profile's connection)")
        bucket, prefix = _parse_s3(text)
        return S3Archive(s3_client, bucket, prefix)
    return LocalArchive(Path(text))


def archive_for(target: str | os.PathLike | None, profile: str) -> Archive:
    """:func:`open_archive` for the CLI: an ``s3://`` target (given or the default) is read with an S3
    client from ``profile``'s connection."""
    text = os.fspath(target) if target else default_archive()
    if text.startswith("s3://"):
        from ..connection import connect
        return open_archive(text, s3_client=connect(profile).client("s3"))
    return open_archive(text)
