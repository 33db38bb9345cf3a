"""Preflight: what a notebook will need, checked cheaply before any kernel starts.

``runbook run`` calls :func:`preflight` after the parameters are checked and before the kernel; any
probe that fails is exit 2 with what is missing and what to do, nothing run, nothing archived.
``runbook doctor --profile P`` prints every probe as a table.

What a notebook needs comes from its metadata, ``"opslib": {"needs": ["aws", "warehouse", "$source"]}``:
``aws`` (credentials, caller identity, the endpoint), ``warehouse`` / ``database`` (the profile's URL
resolvable and reachable), ``$NAME`` (the database named by the parameter NAME's value). Without it, nothing
beyond the archive and notify targets (every runbook notebook declares its needs). The archive and the ``--notify`` targets are always checked.

Every probe uses the profile's timeouts (capped at :data:`MAX_PROBE_SECONDS`) and one attempt."""
from __future__ import annotations

import os
import re
import socket
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from ..config import Profile, expand_env
from ..errors import OpsError, ParameterError, ProfileError

MAX_PROBE_SECONDS = 5.0
STATUSES = ("ok", "warn", "fail")
NO_CREDENTIALS = ("no AWS credentials: set AWS_PROFILE (or the profile's aws.profile_name) or run "
                  "`aws sso login`, export AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run on a host with a role")


@dataclass(frozen=True)
class Probe:
    """One thing checked: ``name``, ``status`` (ok/warn/fail), what was found, and what to do if failed."""
    name: str
    status: str
    detail: str
    remedy: str = ""
    seconds: float = 0.0


@dataclass(frozen=True)
class Preflight:
    profile: str
    probes: list[Probe] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def failures(self) -> list[Probe]:
        return [p for p in self.probes if p.status == "fail"]

    def message(self) -> str:
        bad = self.failures
        if not bad:
            return f"preflight on {self.profile}: ok"
        return (f"preflight on {self.profile} failed; nothing was run:\n"
                + "\n".join(f"  {p.name}: {p.detail}" + (f"\n    -> {p.remedy}" if p.remedy else "") for p in bad))

    def table(self) -> str:
        width = max([len(p.name) for p in self.probes] + [5])
        lines = [f"{'STATUS':<6}  {'CHECK':<{width}}  {'SECONDS':>7}  DETAIL"]
        for p in self.probes:
            lines.append(f"{p.status.upper():<6}  {p.name:<{width}}  {p.seconds:7.2f}  {p.detail}"
                         + (f"\n{'':<6}  {'':<{width}}  {'':>7}  -> {p.remedy}" if p.remedy and p.status != "ok" else ""))
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"profile": self.profile, "ok": self.ok, "probes": [p.__dict__ for p in self.probes]}


def _timed(name: str, fn: Callable[[], tuple[str, str, str]], clock: Callable[[], float]) -> Probe:
    start = clock()
    try:
        status, detail, remedy = fn()
    except (ProfileError, ParameterError, OpsError) as exc:
        status, detail, remedy = "fail", str(exc), ""
    return Probe(name, status, detail, remedy, round(clock() - start, 3))


def _probe_timeout(profile: Profile) -> float:
    return min(float(profile.aws.connect_timeout), MAX_PROBE_SECONDS)


# -- AWS ---------------------------------------------------------------------------------------------------
def _aws_probes(profile: Profile, *, connect: Callable[[Profile], Any], clock) -> list[Probe]:
    """Credentials, then the caller identity (STS: the endpoint is reachable and the credentials are good)."""
    from botocore.config import Config

    from ..aws.access import blind_reason
    probes: list[Probe] = []
    holder: dict = {}

    def sandbox_and_session():
        try:
            ops = connect(profile)
        except OpsError as exc:          # SandboxError: not running
            return "fail", str(exc), "start it with `runbook sandbox up`"
        except Exception as exc:         # noqa: BLE001 - botocore ProfileNotFound and kin
            return "fail", f"{type(exc).__name__}: {exc}", "check aws.profile_name and AWS_PROFILE against ~/.aws/config"
        holder["ops"] = ops
        creds = ops.session.get_credentials()
        if creds is None:
            return "fail", NO_CREDENTIALS.split(":")[0], NO_CREDENTIALS.split(": ", 1)[1]
        where = "sandbox" if ops.sandbox is not None else getattr(creds, "method", "found")
        return "ok", f"found ({where})", ""

    probes.append(_timed("aws-credentials", sandbox_and_session, clock))
    if probes[-1].status != "ok":
        return probes

    def identity():
        ops = holder["ops"]
        t = _probe_timeout(profile)
        sts = ops.session.client("sts", region_name=ops.primary_region, endpoint_url=ops.endpoint_url,
                                 config=Config(connect_timeout=t, read_timeout=t, retries={"max_attempts": 1}))
        where = ops.endpoint_url or f"AWS {ops.primary_region}"
        try:
            ident = sts.get_caller_identity()
        except Exception as exc:  # noqa: BLE001 - sorted by blind_reason
            reason = blind_reason(exc)
            if reason == "connectivity":
                return "fail", f"endpoint {where} not reachable: {type(exc).__name__}: {exc}", \
                    "check the network/VPN, or the profile's aws.endpoint_url"
            if reason == "credentials" or (reason == "access" and "Token" in str(exc)):
                return "fail", f"AWS credentials rejected: {type(exc).__name__}: {exc}", \
                    "refresh them (`aws sso login`, new keys) or pick another AWS_PROFILE"
            if reason == "access":
                return "warn", f"GetCallerIdentity refused: {exc}", ""
            return "fail", f"STS GetCallerIdentity at {where}: {type(exc).__name__}: {exc}", ""
        expected = profile.aws.account_id
        if expected and ident.get("Account") != expected:
            return "fail", f"account {ident.get('Account')} ({ident.get('Arn')}), the profile is for {expected}", \
                "use credentials of the profile's account (aws.account_id)"
        if getattr(ops, "_identity", False) is None:     # what Ops.caller_identity() would read again
            ops._identity = {"account": ident["Account"], "arn": ident["Arn"]}
        return "ok", f"{ident.get('Arn')} via {where}", ""

    probes.append(_timed("aws-identity", identity, clock))
    return probes


# -- databases ---------------------------------------------------------------------------------------------
def _database_probe(profile: Profile, which: str, *, sandbox_state: Callable[[], Any], clock) -> Probe:
    from sqlalchemy.engine import make_url

    def run():
        raw = getattr(profile.databases, which).url
        try:
            url = expand_env(raw, key=f"databases.{which}.url")
        except ProfileError as exc:
            return "fail", str(exc), exc.allowed or ""
        if not url:
            return "fail", f"databases.{which}.url is empty", "set it in the profile or its environment variable"
        if url == "sandbox":
            state = sandbox_state()
            url = ("duckdb:///" + state.warehouse_path) if which == "warehouse" else state.database_url
        try:
            parsed = make_url(url.replace("postgresql://", "postgresql+psycopg://", 1))
        except Exception as exc:  # noqa: BLE001 - sqlalchemy's ArgumentError and kin
            return "fail", f"databases.{which}.url is not a SQLAlchemy URL: {exc}", ""
        if parsed.drivername.startswith("duckdb"):
            path = parsed.database
            if path and path != ":memory:" and not os.path.exists(path):
                return "fail", f"DuckDB file {path} does not exist", "check the URL or run `runbook sandbox up`"
            return "ok", f"duckdb {path or ':memory:'}", ""
        if parsed.drivername.startswith("awsathena"):
            return "ok", f"athena {parsed.host} (reached through AWS)", ""
        host = parsed.host or (parsed.query.get("host") if parsed.query else None)
        if not host or str(host).startswith("/"):
            return "ok", f"{parsed.drivername} over a local socket {host or ''}".strip(), ""
        port = parsed.port or {"postgresql": 5432, "redshift": 5439, "mysql": 3306}.get(parsed.get_backend_name(), 5432)
        try:
            socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            return "fail", f"{which} host {host} does not resolve: {exc}", "check the URL's host name, DNS and VPN"
        try:
            with socket.create_connection((host, port), timeout=_probe_timeout(profile)):
                pass
        except OSError as exc:
            return "fail", f"{which} {host}:{port} not reachable: {exc}", \
                "check the network path (VPN, security group) and that the database is up"
        return "ok", f"{parsed.get_backend_name()} {host}:{port} reachable", ""

    return _timed(f"database-{which}", run, clock)


# -- archive -----------------------------------------------------------------------------------------------
def _archive_probe(archive: Any, clock) -> Probe:
    def run():
        probe_name = f".preflight-{uuid.uuid4().hex[:8]}"
        root = getattr(archive, "root", None)
        if root is not None:
            # probe the archive folder, or the nearest folder that exists (nothing is created: a failed
            # preflight leaves no trace)
            folder = root
            while not folder.exists() and folder.parent != folder:
                folder = folder.parent
            try:
                if not folder.is_dir():
                    raise NotADirectoryError(f"{folder} is not a folder")
                path = folder / probe_name
                path.write_bytes(b"preflight")
                path.unlink()
            except OSError as exc:
                return "fail", f"archive {root} is not writable: {exc}", "pick another --archive or fix its permissions"
            return "ok", f"{root} writable" + ("" if folder == root else f" (created at the first run, in {folder})"), ""
        client, bucket = archive.client, archive.bucket
        key = archive._key(probe_name)
        try:
            client.head_bucket(Bucket=bucket)
            client.put_object(Bucket=bucket, Key=key, Body=b"preflight")
            client.delete_object(Bucket=bucket, Key=key)
        except Exception as exc:  # noqa: BLE001 - any refusal means the run could not be archived
            return "fail", f"archive {archive.location} is not writable: {type(exc).__name__}: {exc}", \
                "check the bucket name, its region and s3:PutObject/s3:DeleteObject on the prefix"
        return "ok", f"{archive.location} writable", ""

    return _timed("archive", run, clock)


# -- notify ------------------------------------------------------------------------------------------------
def _notify_probe(profile: Profile, targets: list[str], environ: Mapping[str, str] | None, clock) -> Probe:
    from ..notify import endpoints

    def run():
        if not targets:
            return "ok", "no --notify targets", ""
        try:
            found = endpoints(profile, list(targets), environ)
        except (ParameterError, ProfileError) as exc:
            return "fail", str(exc), "set the variable, or drop the target (schedules: parameters/schedules.yaml notify)"
        return "ok", "configured: " + ", ".join(e.target for e in found), ""

    return _timed("notify", run, clock)


# -- TODO markers ----------------------------------------------------------------------------------------
_TODO_COMMENT = re.compile(r"#\s*TODO\b")


def todo_markers(profile: Profile) -> list[str]:
    """Where the profile still says ``TODO`` (``runbook init`` writes it for what the account cannot tell): every
    value ``TODO`` of the loaded profile (its ``extends`` base included) and every ``# TODO`` comment of its file."""
    found: list[str] = []

    def walk(value: Any, path: str) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{path}.{k}" if path else str(k))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, f"{path}[{i}]")
        elif isinstance(value, str) and value.strip().upper().startswith("TODO"):
            found.append(path)

    walk(profile.model_dump(exclude={"source"}), "")
    if profile.source and os.path.isfile(profile.source):
        with open(profile.source, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
        for n, line in enumerate(lines, 1):
            if not _TODO_COMMENT.search(line):
                continue
            code = line.split("#", 1)[0].strip() if not line.lstrip().startswith("#") else \
                (lines[n].strip() if n < len(lines) else "")
            key = code.removeprefix("- ").split(":", 1)[0].strip() or "?"
            found.append(f"line {n} ({key})")
    return found


def _todo_probe(profile: Profile, clock) -> Probe:
    def run():
        marks = todo_markers(profile)
        if not marks:
            return "ok", "no TODO left in the profile", ""
        shown = ", ".join(marks[:8]) + (f" and {len(marks) - 8} more" if len(marks) > 8 else "")
        return "warn", f"{len(marks)} TODO to fill in: {shown}", \
            f"edit {profile.source or 'the profile'}: replace each TODO with the real value (runbook init could not observe it)"

    return _timed("profile-todo", run, clock)


def needs_of(needs: Iterable[str], values: Mapping[str, Any], defaults: Mapping[str, Any] | None = None) -> list[str]:
    """``["aws", "$source"]`` with ``source="database"`` -> ``["aws", "database"]``."""
    out = []
    for need in needs:
        if need.startswith("$"):
            name = need[1:]
            value = values.get(name, (defaults or {}).get(name))
            if value not in ("warehouse", "database"):
                continue
            need = value
        if need not in out:
            out.append(need)
    return out


def preflight(profile: Profile, *, needs: Iterable[str] = ("aws",), archive: Any = None,
              notify_targets: Iterable[str] = (), environ: Mapping[str, str] | None = None,
              connect: Callable[[Profile], Any] | None = None, clock: Callable[[], float] = time.monotonic) -> Preflight:
    """Run the probes ``needs`` calls for (``aws``, ``warehouse``, ``database``), the archive's and the notify
    targets'. ``connect`` builds the :class:`~opslib.connection.Ops` (tests pass their own)."""
    from ..connection import connect as default_connect
    from ..sandbox.state import read_state
    connect = connect or default_connect
    needs = list(needs)
    probes: list[Probe] = []
    if "aws" in needs:
        probes += _aws_probes(profile, connect=connect, clock=clock)
    for which in ("warehouse", "database"):
        if which in needs:
            probes.append(_database_probe(profile, which, sandbox_state=lambda: read_state(), clock=clock))
    if archive is not None:
        probes.append(_archive_probe(archive, clock))
    probes.append(_notify_probe(profile, list(notify_targets), environ, clock))
    if todo_markers(profile):            # a profile drafted by `runbook init` and not yet completed
        probes.append(_todo_probe(profile, clock))
    return Preflight(profile.name, probes)
