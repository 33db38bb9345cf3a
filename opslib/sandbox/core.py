"""The embedded sandbox: a moto server on a loopback port seeded with the runbook's resources in
both regions, a DuckDB warehouse, a PostgreSQL ``analytics`` database, a health server, and an ECS
scheduler; fault scenarios inject symptoms and ``reset`` rebuilds the healthy pipeline.

In-process form (tests, one-off runs)::

    with Sandbox.start(SandboxConfig(dir=tmp)) as sb:
        ops = connect("sandbox", sandbox_dir=tmp)

``runbook sandbox up`` runs the same object in a background process (:mod:`.daemon`).
"""
from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from ..config import Profile, load_profile
from ..errors import SandboxError
from .state import SandboxState, clear_state

log = logging.getLogger("opslib.sandbox")
logging.getLogger("werkzeug").setLevel(logging.ERROR)   # moto's server logs every request otherwise

DEFAULT_SEED = 42
MOTO_DEFAULT_ACCOUNT = "123456789012"
DEFAULT_EVENTS = 200_000


def default_now() -> datetime:
    """The sandbox's frozen clock when none is given: the current UTC hour."""
    return datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)


@dataclass
class SandboxConfig:
    dir: Path
    seed: int = DEFAULT_SEED
    now: datetime | None = None
    events: int = DEFAULT_EVENTS
    profile: "str | os.PathLike" = "sandbox"   # a profile name of parameters/ or a path to a profile file
    database_url: str | None = None   # None: the profile's (embedded PostgreSQL unless ANALYTICS_DB_URL is set)

    def __post_init__(self) -> None:
        self.dir = Path(self.dir).resolve()
        text = os.fspath(self.profile)
        if text.endswith((".yaml", ".yml")) or os.sep in text:
            self.profile = str(Path(text).resolve())    # the daemon and notebooks may run elsewhere
        else:
            self.profile = text
        if self.now is None:
            self.now = default_now()
        elif self.now.tzinfo is None:
            self.now = self.now.replace(tzinfo=timezone.utc)


@dataclass
class Faults:
    """The fault scenarios active now; the scheduler, health server and seeders read it."""
    active: dict[str, dict] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __contains__(self, name: str) -> bool:
        return name in self.active

    def add(self, name: str, **details: Any) -> None:
        with self.lock:
            self.active[name] = details

    def clear(self) -> None:
        with self.lock:
            self.active.clear()


class Sandbox:
    """One running sandbox. Use :meth:`start`; stop with :meth:`stop` or a ``with`` block."""

    def __init__(self, config: SandboxConfig):
        self.config = config
        self.profile: Profile = load_profile(config.profile)
        self.account_id = self.profile.aws.account_id or MOTO_DEFAULT_ACCOUNT
        self.faults = Faults()
        self.lock = threading.RLock()
        self._moto = None
        self.health = None
        self.sns_certs = None
        self.scheduler = None
        self.control = None
        self.pg = None
        self.database_url = ""
        self.endpoint = ""
        self._clients: dict = {}
        self._account_env: str | None = None
        self.snapshot = None                 # snapshot.Snapshot of the seeded state, restored by reset()

    # -- lifecycle ---------------------------------------------------------------------------
    @classmethod
    def start(cls, config: SandboxConfig) -> "Sandbox":
        sb = cls(config)
        sb._start()
        return sb

    def start_aws(self) -> None:
        """moto's server on a free loopback port, patched by :mod:`.moto_gaps`, answering in the profile's
        account; sets ``endpoint``. The first step of :meth:`start`; alone, for a moto seeded by other means
        (the action tests' server, benchmarks). :meth:`stop_aws` undoes it."""
        from moto.server import ThreadedMotoServer
        from . import moto_gaps

        os.environ.setdefault("MOTO_ALLOW_NONEXISTENT_REGION", "true")
        # every request lands in the profile's account (moto's backends are per process: one sandbox a process).
        # moto's own default account needs no override, and the override outranks the x-moto-account-id header
        # that other moto servers of the same process (tests) use to keep their data apart.
        if self.account_id != MOTO_DEFAULT_ACCOUNT:
            self._account_env = os.environ.get("MOTO_ACCOUNT_ID")
            os.environ["MOTO_ACCOUNT_ID"] = self.account_id
        moto_gaps.install()
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._moto.start()
        host, port = self._moto.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"

    def stop_aws(self) -> None:
        if self._moto:
            self._moto.stop()
            self._moto = None
        if self.account_id != MOTO_DEFAULT_ACCOUNT:          # the process's moto as it was before us
            if self._account_env is None:
                os.environ.pop("MOTO_ACCOUNT_ID", None)
            else:
                os.environ["MOTO_ACCOUNT_ID"] = self._account_env

    def _start(self) -> None:
        from . import ecs_scheduler, health, snapshot, sns_signing

        t0 = time.monotonic()
        self.config.dir.mkdir(parents=True, exist_ok=True)
        self.start_aws()
        snapshot.clear_account(self.account_id)      # seeded, and snapshotted, from nothing of this process's
        self.health = health.HealthServer(self)
        self.health.start()
        self.sns_certs = sns_signing.CertServer().start()     # moto's SNS signing certificates, on loopback
        sns_signing.install(self.sns_certs)
        self.scheduler = ecs_scheduler.EcsScheduler(self)
        self._seed(start_database=True)
        self._take_snapshot()
        self.scheduler.start()
        log.info("sandbox up in %.1fs at %s", time.monotonic() - t0, self.endpoint)

    def _seed(self, start_database: bool = False) -> None:
        """Seed AWS and, at the same time (DuckDB and PostgreSQL work outside the GIL), the SQL side."""
        from . import metric_history, seed_aws, sql

        def seed_sql() -> None:
            if start_database:
                self.database_url = sql.start_database(self)
            sql.seed(self)

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sandbox-sql") as pool:
            sql_done = pool.submit(seed_sql)
            seed_aws.seed(self)
            metric_history.seed(self)
            self.scheduler.settle()
            sql_done.result()

    def state(self, control_url: str = "", pid: int | None = None) -> SandboxState:
        return SandboxState(
            dir=str(self.config.dir), aws_endpoint=self.endpoint, health_url=self.health.url,
            control_url=control_url, warehouse_path=str(self.warehouse_path), database_url=self.database_url,
            now=self.now.isoformat(), seed=self.config.seed, size=self.config.events, pid=pid or os.getpid(),
            account_id=self.account_id, sns_cert_origin=self.sns_certs.origin if self.sns_certs else "",
            profile=self.config.profile)

    def write_state(self, control_url: str = "") -> SandboxState:
        st = self.state(control_url)
        st.write()
        return st

    def stop(self) -> None:
        if self.scheduler:
            self.scheduler.stop()
        if self.health:
            self.health.stop()
        if self.sns_certs:
            from . import sns_signing
            sns_signing.uninstall(self.sns_certs)
            self.sns_certs.stop()
            self.sns_certs = None
        self.stop_aws()
        from . import snapshot, sql
        snapshot.discard(self, self.snapshot)
        self.snapshot = None
        sql.stop_database(self)
        clear_state(self.config.dir)

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- faults ------------------------------------------------------------------------------
    def inject(self, scenario: str) -> dict:
        from .faults import inject
        with self.lock:
            return inject(self, scenario)

    def _take_snapshot(self) -> None:
        from . import snapshot
        try:
            self.snapshot = snapshot.take(self)
        except SandboxError as exc:          # a backend that cannot be pickled: reset seeds again
            log.warning("no snapshot, reset will seed again: %s", exc)
            self.snapshot = None

    def reset(self, reseed: bool = False) -> None:
        """Back to the healthy, freshly seeded pipeline (same seed and clock): the snapshot taken after
        seeding is restored; ``reseed=True`` (or no snapshot) seeds everything again instead."""
        from moto.core.base_backend import BackendDict
        from moto.core.model_instances import reset_model_data
        from . import snapshot
        with self.lock:
            self.scheduler.pause()
            self.faults.clear()
            if self.snapshot is not None and not reseed:
                snapshot.restore(self, self.snapshot)
            else:
                BackendDict.reset()
                reset_model_data()
                self._clients.clear()
                self._seed()
                if self.snapshot is not None:
                    self._take_snapshot()
            self.scheduler.settle()
            self.scheduler.resume()

    def status(self) -> dict:
        return {"endpoint": self.endpoint, "health_url": self.health.url if self.health else None,
                "now": self.now.isoformat(), "seed": self.config.seed, "events": self.config.events,
                "profile": self.config.profile, "faults": sorted(self.faults.active), "warehouse": str(self.warehouse_path),
                "database": _redact(self.database_url)}

    # -- helpers for seeders, scheduler and faults -----------------------------------------
    @property
    def now(self) -> datetime:
        return self.config.now

    @property
    def warehouse_path(self) -> Path:
        return self.config.dir / "warehouse.duckdb"

    def region(self, which: str = "primary") -> str:
        return self.profile.region(which)

    def client(self, service: str, region: str = "primary") -> Any:
        """A boto3 client talking HTTP to this sandbox's moto server."""
        key = (service, self.region(region))
        if key not in self._clients:
            self._clients[key] = boto3.client(
                service, region_name=key[1], endpoint_url=self.endpoint,
                aws_access_key_id="testing", aws_secret_access_key="testing",
                config=Config(retries={"mode": "standard", "max_attempts": 2}))
        return self._clients[key]

    def backend(self, service: str, region: str = "primary") -> Any:
        """moto's in-process backend for ``service`` (for what the public API cannot seed)."""
        from moto.backends import get_backend
        return get_backend(service)[self.account_id][self.region(region)]


def _redact(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url
