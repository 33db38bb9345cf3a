"""Exposed-credential scan: access key ids and secret keys in Lambda environment variables, ECS task
definition environments and the objects of S3 buckets (under a size limit), matched against the
account's IAM keys. The runbook's ``git secrets --scan`` covers a repository; this covers where a
deployed key actually leaks. Secret values are never returned: only masked."""
from __future__ import annotations

import gzip
import io
import re
import zipfile
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import pandas as pd
from botocore.exceptions import ClientError

from ...aws import ecs as ecs_reads
from ...aws import s3 as s3_reads
from ...aws.iam import access_keys as iam_keys
from ...errors import ParameterError
from ...findings import Check

KEY_ID = re.compile(r"(?<![A-Z0-9])((?:AKIA|ASIA)[A-Z0-9]{16})(?![A-Z0-9])")
SECRET_KEY = re.compile(r"(?i)(?:aws_?secret_?access_?key|secretaccesskey)[\"']?\s*[:=]\s*[\"']?"
                        r"([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])")
SECRET_NAME = re.compile(r"(?i)(password|passwd|secret|token|private_?key)")
COLUMNS = ["where", "location", "kind", "value", "access_key_id"]


@dataclass
class Exposures:
    """What the scan found (``frame``: one row per finding) and what it covered."""
    frame: pd.DataFrame
    scanned: dict = field(default_factory=dict)      # where -> how many items were read
    skipped: list = field(default_factory=list)      # objects not read (too large, unreadable), with why

    def account_keys(self) -> list[str]:
        """Exposed key ids that belong to this account and are still active."""
        f = self.frame
        if f.empty or "status" not in f:
            return []
        return sorted(f.loc[(f["status"] == "Active") & (f["access_key_id"] != ""), "access_key_id"].unique())


def _mask(secret: str) -> str:
    return f"{secret[:4]}…({len(secret)} chars)"


def find(text: str) -> list[tuple[str, str, str]]:
    """(kind, shown value, key id) of every credential in ``text``; secret keys masked."""
    hits = [("access key id", k, k) for k in dict.fromkeys(KEY_ID.findall(text))]
    hits += [("secret access key", _mask(s), "") for s in dict.fromkeys(SECRET_KEY.findall(text))]
    return hits


def _variables(where: str, location: str, variables: dict) -> list[dict]:
    rows = []
    for name, value in variables.items():
        value = str(value)
        hits = find(f"{name}={value}")
        for kind, shown, key in hits:
            rows.append({"where": where, "location": f"{location} {name}", "kind": kind, "value": shown,
                         "access_key_id": key})
        if not hits and SECRET_NAME.search(name) and value and not value.startswith("arn:"):
            rows.append({"where": where, "location": f"{location} {name}", "kind": "plaintext secret variable",
                         "value": _mask(value), "access_key_id": ""})
    return rows


def _scan_lambda(lam: Any, region: str) -> tuple[list[dict], int]:
    rows, n = [], 0
    for page in lam.get_paginator("list_functions").paginate():
        for fn in page["Functions"]:
            n += 1
            env = (fn.get("Environment") or {}).get("Variables") or {}
            rows += _variables("lambda", f"{region} {fn['FunctionName']}", env)
    return rows, n


def _scan_task_definitions(ecs: Any, region: str) -> tuple[list[dict], int]:
    """The latest revision of every active task definition family (what a service would deploy next)."""
    rows, n = [], 0
    for family in ecs_reads.task_definition_families(ecs, "ACTIVE"):
        td = ecs_reads.describe_task_definition(ecs, family)
        n += 1
        for c in td.get("containerDefinitions", []):
            env = {e["name"]: e.get("value", "") for e in c.get("environment", [])}
            rows += _variables("ecs task definition", f"{region} {family}:{td['revision']} {c['name']}", env)
    return rows, n


def _texts(key: str, body: bytes, max_bytes: int) -> Iterable[tuple[str, str]]:
    """(name, text) of an object: zip members and gzip content (recognized by their magic bytes) unpacked,
    at most ``max_bytes`` each."""
    if body[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(body)) as z:
            for info in z.infolist():
                if info.file_size <= max_bytes:
                    yield f"{key}!{info.filename}", z.read(info).decode("utf-8", "replace")
        return
    if body[:2] == b"\x1f\x8b":                  # by content: a ".gz" name may hold plain text
        with gzip.GzipFile(fileobj=io.BytesIO(body)) as g:
            body = g.read(max_bytes)
    yield key, body.decode("utf-8", "replace")


def _scan_bucket(s3: Any, bucket: str, *, max_bytes: int, max_objects: int) -> tuple[list[dict], int, list[str]]:
    rows, skipped, n = [], [], 0
    for obj in s3_reads.objects(s3, bucket):
        if n >= max_objects:
            skipped.append(f"s3://{bucket}/: more than {max_objects} objects, the rest not read")
            return rows, n, skipped
        if obj["Size"] > max_bytes:
            skipped.append(f"s3://{bucket}/{obj['Key']}: {obj['Size']} bytes > {max_bytes}")
            continue
        n += 1
        body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
        try:
            texts = list(_texts(obj["Key"], body, max_bytes))
        except (OSError, zipfile.BadZipFile, EOFError) as exc:
            skipped.append(f"s3://{bucket}/{obj['Key']}: unreadable ({exc})")
            continue
        for name, text in texts:
            for kind, shown, key in find(text):
                rows.append({"where": "s3", "location": f"s3://{bucket}/{name}", "kind": kind, "value": shown,
                             "access_key_id": key})
    return rows, n, skipped


def _default_buckets(profile: Any) -> list[str]:
    """Every bucket of the profile except the CloudTrail logs (which record each caller's key id by design)."""
    s = profile.s3
    names = [s.lambda_artifacts_bucket, s.backups_bucket, s.access_logs_bucket, s.events_bucket, s.archive_bucket]
    return list(dict.fromkeys(n for n in names if n != s.cloudtrail_bucket))


def check_limits(max_bytes: Any, max_objects: Any) -> None:
    for name, value in (("max_object_bytes", max_bytes), ("max_objects", max_objects)):
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ParameterError(name, value, "a positive integer")


def scan(ops: Any, *, buckets: Sequence[str] | None = None, max_bytes: int = 1_000_000, max_objects: int = 500,
         regions: Sequence[str] | None = None, keys: pd.DataFrame | None = None) -> Exposures:
    """Scan Lambda environments, ECS task definitions (in ``regions``, default every region of the pipeline) and
    the buckets; each key id found is matched to its IAM user and status (``owner``/``status``; empty when it is
    not this account's)."""
    check_limits(max_bytes, max_objects)
    buckets = _default_buckets(ops.profile) if buckets is None else list(buckets)
    if isinstance(buckets, str) or not all(isinstance(b, str) and b for b in buckets):
        raise ParameterError("scan_buckets", buckets, "None (the profile's buckets) or a list of bucket names")
    regions = ops.sides if regions is None else regions
    rows: list[dict] = []
    scanned: dict = {}
    skipped: list = []
    for r in regions:
        found, n = _scan_lambda(ops.client("lambda", r), ops.region(r))
        rows += found
        scanned[f"lambda functions ({ops.region(r)})"] = n
        found, n = _scan_task_definitions(ops.client("ecs", r), ops.region(r))
        rows += found
        scanned[f"ecs task definitions ({ops.region(r)})"] = n
    s3 = ops.client("s3")
    for bucket in buckets:
        try:
            found, n, skip = _scan_bucket(s3, bucket, max_bytes=max_bytes, max_objects=max_objects)
        except ClientError as exc:
            skipped.append(f"s3://{bucket}: {exc.response['Error']['Code']}")
            continue
        rows += found
        skipped += skip
        scanned[f"s3://{bucket} objects"] = n
    frame = pd.DataFrame(rows, columns=COLUMNS)
    keys = iam_keys(ops.client("iam")) if keys is None else keys
    owners = keys.set_index("access_key_id")
    frame["owner"] = [owners["user"].get(k, "") if k else "" for k in frame["access_key_id"]]
    frame["status"] = [owners["status"].get(k, "not this account's") if k else "" for k in frame["access_key_id"]]
    return Exposures(frame, scanned, skipped)


def exposure_check(exp: Exposures) -> Check:
    f = exp.frame
    figures = {"found": len(f), "scanned": exp.scanned, "skipped": len(exp.skipped),
               "active_keys": exp.account_keys()}
    if f.empty:
        return Check.ok("exposed-credentials", f"no credentials in {sum(exp.scanned.values())} functions, task "
                        f"definitions and objects ({len(exp.skipped)} objects skipped)", **figures)
    live = exp.account_keys()
    secrets = f[f["kind"] == "secret access key"]
    where = "; ".join(f"{k} ({f.loc[f['access_key_id'] == k, 'owner'].iloc[0]}) in "
                      + ", ".join(f.loc[f["access_key_id"] == k, "location"]) for k in live)
    if live or not secrets.empty:
        detail = (f"active access key(s) exposed: {where}" if live else "") + \
                 (f"; {len(secrets)} secret access key(s) in " + ", ".join(secrets["location"]) if len(secrets) else "")
        return Check.fail("exposed-credentials", detail.strip("; "), **figures)
    return Check.warn("exposed-credentials", f"{len(f)} credential-like value(s): " + ", ".join(
        f"{r.kind} at {r.location}" for r in f.itertuples()), **figures)
