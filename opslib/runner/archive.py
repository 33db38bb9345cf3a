"""The evidence archive: a local folder or an ``s3://bucket/prefix``, written once.

Layout (both kinds)::

    YYYY/MM/DD/HHMMSSZ-<notebook>-<id>.ipynb     the scrubbed output notebook
    YYYY/MM/DD/HHMMSSZ-<notebook>-<id>.html      its offline HTML rendering
    manifest.jsonl                               local: one JSON line per run, appended
    manifest/YYYY/MM/DD/HHMMSSZ-<id>.json        S3: one object per run (S3 has no append)

A file that exists is never overwritten: :meth:`Archive.write_once` raises :class:`EvidenceError`.
"""
from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

from botocore.exceptions import ClientError

from ..errors import EvidenceError

DEFAULT_ARCHIVE = "runs"
MANIFEST = "manifest.jsonl"


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

    def append_manifest(self, entry: dict) -> None:
        raise NotImplementedError

    def manifest(self) -> Iterator[dict]:
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

    def read(self, rel: str) -> bytes:
        try:
            return (self.root / rel).read_bytes()
        except FileNotFoundError as exc:
            raise EvidenceError(f"{self.root / rel} is missing") from exc

    def append_manifest(self, entry: dict) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        line = json.dumps(entry, sort_keys=True, default=str) + "\n"
        with open(self.root / MANIFEST, "a", encoding="utf-8") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)    # concurrent runs (--all) append whole lines
            fh.write(line)
            fh.flush()
            fcntl.flock(fh, fcntl.LOCK_UN)

    def manifest(self) -> Iterator[dict]:
        path = self.root / MANIFEST
        if not path.is_file():
            return
        with open(path, encoding="utf-8") as fh:
            for number, line in enumerate(fh, 1):
                if line.strip():
                    try:
                        yield json.loads(line)
                    except ValueError as exc:
                        raise EvidenceError(f"{path}:{number} is not a JSON line") from exc


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

    def append_manifest(self, entry: dict) -> None:
        start = datetime.fromisoformat(entry["start"])
        rel = f"manifest/{start:%Y/%m/%d}/{start:%H%M%S}Z-{entry['id']}.json"
        self.write_once(rel, json.dumps(entry, sort_keys=True, default=str).encode())

    def manifest(self) -> Iterator[dict]:
        paginator = self.client.get_paginator("list_objects_v2")
        keys: list[str] = []
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self._key("manifest/")):
            keys.extend(obj["Key"] for obj in page.get("Contents", []))
        for key in sorted(keys):
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            yield json.loads(body)


def parse_s3(target: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` -> (bucket, prefix)."""
    rest = target[len("s3://"):]
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise EvidenceError(f"{target!r} names no bucket; use s3://bucket/prefix")
    return bucket, prefix


def open_archive(target: str | os.PathLike | None = None, *, s3_client: Any = None) -> Archive:
    """The archive at ``target`` (default ``runs/`` in the working directory); ``s3://`` needs ``s3_client``."""
    text = os.fspath(target) if target else DEFAULT_ARCHIVE
    if text.startswith("s3://"):
        if s3_client is None:
            raise EvidenceError(f"{text}: an S3 archive needs an S3 client (from the profile's connection)")
        bucket, prefix = parse_s3(text)
        return S3Archive(s3_client, bucket, prefix)
    return LocalArchive(Path(text))
