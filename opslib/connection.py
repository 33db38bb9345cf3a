"""``connect(profile)``: the one handle notebooks use for AWS clients, SQL engines, the clock and
health URLs. Clients are built here (never at import) with botocore retries and timeouts; the
endpoint override is the only difference between the sandbox and AWS."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urljoin

import boto3
import botocore.session
from botocore.config import Config
from botocore.utils import parse_timestamp

from .config import Profile, expand_env, load_profile
from .errors import ProfileError
from .sandbox.state import SandboxState, read_state

if TYPE_CHECKING:              # SQLAlchemy is imported where an engine is made: `runbook run` itself needs none
    import sqlalchemy as sa

Region = Literal["primary", "dr"] | str
SANDBOX = "sandbox"
SANDBOX_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def utc_timestamp(value: "str | int | float") -> datetime:
    """botocore's timestamp parser for our sessions: every timestamp AWS returns as an aware UTC datetime. Epoch
    numbers and ISO 8601 texts (the common cases) are read by the standard library; anything else goes to botocore's
    own parser. botocore's default returns the machine's local zone through dateutil, about 40 us per value: a day
    of one-minute CloudWatch datapoints for three metrics, 0.15 s of CPU."""
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, timezone.utc)
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        parsed = parse_timestamp(value)
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)


def new_session(**kwargs) -> boto3.Session:
    """A boto3 Session (``kwargs`` as boto3.Session's) whose clients parse timestamps with :func:`utc_timestamp`
    (botocore's ``response_parser_factory`` component, as the AWS CLI sets its own)."""
    core = botocore.session.get_session()
    core.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=utc_timestamp)
    return boto3.Session(botocore_session=core, **kwargs)


@dataclass
class Ops:
    """Everything a runbook needs to talk to one environment."""

    profile: Profile
    sandbox: SandboxState | None = None
    session: boto3.Session | None = None
    _clients: dict = field(default_factory=dict, repr=False)
    _identity: dict | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        if self.session is None:
            if self.sandbox is not None:
                self.session = new_session(region_name=self.profile.aws.primary_region, **SANDBOX_CREDENTIALS)
            else:
                self.session = new_session(profile_name=self.profile.aws.profile_name,
                                           region_name=self.profile.aws.primary_region)

    # -- AWS -------------------------------------------------------------------------------
    @property
    def primary_region(self) -> str:
        return self.profile.aws.primary_region

    @property
    def dr_region(self) -> str | None:
        """The DR region, or None for a single-region pipeline."""
        return self.profile.aws.dr_region

    @property
    def sides(self) -> tuple[str, ...]:
        """``("primary", "dr")``, or ``("primary",)`` for a single-region pipeline (:attr:`Profile.sides`)."""
        return self.profile.sides

    def region(self, region: Region = "primary") -> str:
        """The region name of ``"primary"``, ``"dr"`` or a name (:meth:`Profile.region`)."""
        return self.profile.region(region)

    @property
    def endpoint_url(self) -> str | None:
        if self.sandbox is not None:
            return self.sandbox.aws_endpoint
        return self.profile.aws.endpoint_url or None

    @cached_property
    def _botocore_config(self) -> Config:
        a = self.profile.aws
        return Config(retries={"mode": "adaptive", "max_attempts": a.max_attempts},
                      connect_timeout=a.connect_timeout, read_timeout=a.read_timeout)

    def client(self, service: str, region: Region = "primary") -> Any:
        """A boto3 client for ``service`` in the primary, DR or a named region (cached)."""
        name = self.region(region)
        key = (service, name)
        with self._lock:
            if key not in self._clients:
                self._clients[key] = self.session.client(
                    service, region_name=name, endpoint_url=self.endpoint_url, config=self._botocore_config)
            return self._clients[key]

    def caller_identity(self) -> dict:
        """The AWS identity behind these clients (account, ARN), or ``{}`` when it cannot be read."""
        if self._identity is None:
            try:
                ident = self.client("sts").get_caller_identity()
                self._identity = {"account": ident["Account"], "arn": ident["Arn"]}
            except Exception as exc:  # an operator without sts:GetCallerIdentity still runs diagnostics
                self._identity = {"error": type(exc).__name__}
        return self._identity

    # -- SQL -------------------------------------------------------------------------------
    def _url(self, which: str) -> str:
        db = getattr(self.profile.databases, which)
        url = expand_env(db.url, key=f"databases.{which}.url")
        if url == SANDBOX:
            if self.sandbox is None:
                raise ProfileError(f"databases.{which}.url is 'sandbox' but the profile does not use the sandbox",
                                   key=f"databases.{which}.url")
            url = ("duckdb:///" + self.sandbox.warehouse_path) if which == "warehouse" else self.sandbox.database_url
        if not url:
            raise ProfileError(f"databases.{which}.url is empty; set it in the profile or its environment variable",
                               key=f"databases.{which}.url")
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://"):]
        return url

    @cached_property
    def warehouse(self) -> sa.Engine:
        """Events at scale (DuckDB in the sandbox, Redshift/PostgreSQL in production). Read-only on DuckDB,
        so many scheduled runs can read it at once. Its sessions are in UTC (:func:`utc_sessions`)."""
        import sqlalchemy as sa
        url = self._url("warehouse")
        if url.startswith("duckdb"):
            return utc_sessions(sa.create_engine(url, connect_args={"read_only": True}, poolclass=sa.pool.NullPool))
        return utc_sessions(sa.create_engine(url, pool_pre_ping=True))

    def warehouse_for_writing(self) -> sa.Engine:
        """A writable warehouse engine, for actions (retention, GDPR deletion) only."""
        import sqlalchemy as sa
        url = self._url("warehouse")
        if url.startswith("duckdb"):
            return utc_sessions(sa.create_engine(url, poolclass=sa.pool.NullPool))
        return self.warehouse

    @cached_property
    def database(self) -> sa.Engine:
        """The operational PostgreSQL ``analytics`` database (hot events, error_logs, audit_logs), in UTC."""
        import sqlalchemy as sa
        return utc_sessions(sa.create_engine(self._url("database"), pool_pre_ping=True, pool_size=2, max_overflow=2))

    # -- clock and URLs --------------------------------------------------------------------
    def now(self) -> datetime:
        """The profile's fixed clock, else the sandbox's, else real UTC time."""
        if self.profile.now is not None:
            return self.profile.now
        if self.sandbox is not None:
            return self.sandbox.now_dt
        return datetime.now(timezone.utc)

    def health_url(self, url: str | None) -> str | None:
        """A service's health URL; relative ones are served by the sandbox's health server."""
        if url and url.startswith("/") and self.sandbox is not None:
            return urljoin(self.sandbox.health_url, url)
        return url

    def close(self) -> None:
        for name in ("warehouse", "database"):
            if name in self.__dict__:
                self.__dict__.pop(name).dispose()


#: the statement that puts a session of each dialect in UTC
_UTC_SESSION = {"duckdb": "SET TimeZone = 'UTC'", "postgresql": "SET timezone = 'UTC'", "redshift": "SET timezone = 'UTC'"}
#: DuckDB has time zones (and TIMESTAMPTZ) only with its ICU extension (built into its Python wheels): without it,
#: there is nothing to set
_HAS_ZONES = {"duckdb": "SELECT count(*) FROM duckdb_settings() WHERE name = 'TimeZone'"}


def utc_sessions(engine: "sa.Engine") -> "sa.Engine":
    """``engine``, each of whose connections starts in UTC: the checks bound their windows with naive UTC times
    and truncate to hours, which a TIMESTAMPTZ column would otherwise compare and truncate in the session's zone
    (DuckDB's default is this machine's, PostgreSQL's the server's): a whole window shifted by hours on a
    pipeline whose server or laptop is not in UTC. Set outside a transaction (SQLAlchemy's recipe for session
    settings), so no rollback undoes it."""
    import sqlalchemy as sa
    statement, guard = _UTC_SESSION.get(engine.dialect.name), _HAS_ZONES.get(engine.dialect.name)
    if statement is None:
        return engine

    @sa.event.listens_for(engine, "connect")
    def _utc(dbapi_connection, _record) -> None:
        autocommit = getattr(dbapi_connection, "autocommit", None)
        if autocommit is False:
            dbapi_connection.autocommit = True
        cursor = dbapi_connection.cursor()
        try:
            if guard is not None:
                cursor.execute(guard)
            if guard is None or cursor.fetchone()[0]:
                cursor.execute(statement)
        finally:
            cursor.close()
            if autocommit is False:
                dbapi_connection.autocommit = False
    return engine


def connect(profile: "str | Profile | None" = None, *, session: boto3.Session | None = None,
            sandbox_dir: str | None = None) -> Ops:
    """The handle for ``profile`` (name, path or Profile; default $OPSLIB_PROFILE or ``sandbox``).

    With ``aws.endpoint_url: sandbox`` it finds the running sandbox from its state file."""
    prof = load_profile(profile)
    sandbox = read_state(sandbox_dir) if prof.aws.endpoint_url == SANDBOX else None
    return Ops(prof, sandbox=sandbox, session=session)
