"""A snapshot of the freshly seeded sandbox, restored by ``Sandbox.reset`` instead of seeding again.

Seeding talks to moto over HTTP (about a thousand boto3 calls), builds the warehouse and loads
PostgreSQL: 5-9 s. Restoring the snapshot is a fraction of that:

* AWS: every moto backend in use (``BackendDict._instances``), pickled once right after seeding and
  unpickled into the same ``BackendDict`` objects on restore (moto's own reset only empties them).
  One pickle for all services keeps the references between backends (a target group's EC2
  instances, an ECS service's load balancer). The ``BackendDict``/``AccountSpecificBackend``
  containers themselves are pickled by reference: they stay the objects moto's server uses.
* Warehouse: a copy of the DuckDB file, copied back (and its WAL removed).
* PostgreSQL: on the embedded server, a template database ``analytics_seed`` made from the seeded
  ``analytics``; restore drops ``analytics`` (closing its sessions) and creates it from the
  template, then ANALYZE and a pg_stat_statements reset. On an external server (``ANALYTICS_DB_URL``)
  the database is seeded again: the sandbox does not create databases on someone else's server.
* Files the seeders write in the sandbox folder (``certs/``) are kept as bytes and written back.
"""
from __future__ import annotations

import io
import logging
import os
import pickle
import shutil
import time
import weakref
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from cryptography import x509
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes

from ..errors import SandboxError

log = logging.getLogger("opslib.sandbox.snapshot")

TEMPLATE_SUFFIX = "_seed"
_PRIVATE_KEYS = PrivateKeyTypes.__args__      # type: ignore[attr-defined]
_PUBLIC_KEYS = PublicKeyTypes.__args__        # type: ignore[attr-defined]
FILE_FOLDERS = ("certs",)


@dataclass
class Snapshot:
    moto: bytes                              # pickled backends, see _MotoPickler
    containers: list                         # the BackendDict objects (and their accounts) pickled by reference
    warehouse: Path                          # copy of the warehouse file
    files: dict[str, bytes] = field(default_factory=dict)   # relative path -> content
    template: str | None = None              # template database on the embedded server
    seconds: float = 0.0
    cpu_seconds: float = 0.0                 # process CPU while taking it (every thread of the process)

    @property
    def bytes(self) -> int:
        return len(self.moto)


class _MotoPickler(pickle.Pickler):
    """Pickles backends, with moto's containers as references into ``containers``.

    Everything special is handled in ``reducer_override``, which pickle calls only for instances of
    classes (not for the str/int/list/dict that make up most of the state), unlike ``persistent_id``,
    which it calls for every object."""

    def __init__(self, buf: io.BytesIO, containers: list):
        super().__init__(buf, protocol=pickle.HIGHEST_PROTOCOL)
        self.ids = {id(c): i for i, c in enumerate(containers)}

    def reducer_override(self, obj: Any) -> Any:
        """moto's containers by reference; and what moto keeps that pickle cannot: Lambda's
        WeakValueDictionary of ARNs, ``defaultdict(lambda: {})``, the cryptography keys and
        certificates of ACM and Cognito (kept as PEM/DER)."""
        i = self.ids.get(id(obj))
        if i is not None:
            return _container, (i,)
        if isinstance(obj, weakref.WeakValueDictionary):
            return _weak_values, (dict(obj.items()),)
        if isinstance(obj, defaultdict) and getattr(obj.default_factory, "__name__", "") == "<lambda>":
            empty = obj.default_factory()           # moto's `defaultdict(lambda: {})` and the like
            if type(empty) in (dict, list, set, int) and not empty:
                return _defaultdict, (type(empty), dict(obj))
        if isinstance(obj, _PRIVATE_KEYS):
            return _private_key, (obj.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8,
                                                    ser.NoEncryption()), None)
        if isinstance(obj, _PUBLIC_KEYS):
            return _public_key, (obj.public_bytes(ser.Encoding.PEM, ser.PublicFormat.SubjectPublicKeyInfo),)
        if isinstance(obj, x509.Certificate):
            return _certificate, (obj.public_bytes(ser.Encoding.DER),)
        return NotImplemented


_LOADING: list = []                  # the containers of the snapshot being restored (under the sandbox lock)


def _container(i: int) -> Any:
    return _LOADING[i]


def _load(data: bytes, containers: list) -> Any:
    _LOADING[:] = containers
    try:
        return pickle.loads(data)
    finally:
        _LOADING.clear()


def _certificate(der: bytes) -> Any:
    return x509.load_der_x509_certificate(der)


def _private_key(pem: bytes, password: None) -> Any:
    return ser.load_pem_private_key(pem, password)


def _public_key(pem: bytes) -> Any:
    return ser.load_pem_public_key(pem)


def _defaultdict(factory: type, items: dict) -> defaultdict:
    return defaultdict(factory, items)


def _weak_values(items: dict) -> weakref.WeakValueDictionary:
    return weakref.WeakValueDictionary(items)


def _backend_dicts() -> list:
    from moto.core.base_backend import BackendDict
    return list(BackendDict._instances)


def _take_moto() -> tuple[bytes, list]:
    dicts = _backend_dicts()
    containers: list = list(dicts)
    for bd in dicts:
        containers.extend(bd.values())
    state = [{account: dict(asb) for account, asb in bd.items()} for bd in dicts]
    buf = io.BytesIO()
    try:
        _MotoPickler(buf, containers).dump(state)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        raise SandboxError(f"could not snapshot moto's backends: {exc}") from exc
    return buf.getvalue(), containers


def clear_account(account_id: str) -> None:
    """Drop what this process's moto backends hold in ``account_id``: another moto server of the same process (a
    test's) that wrote there before a sandbox started would otherwise be seeded around and kept by its snapshot.
    moto makes the account's containers again, empty, on the next request."""
    from moto.core.base_backend import BackendDict, backend_lock
    with backend_lock:
        for bd in list(BackendDict._instances):
            if account_id in bd:
                del bd[account_id]


def _restore_moto(snap: Snapshot) -> None:
    from moto.core.base_backend import BackendDict, backend_lock
    from moto.core.model_instances import reset_model_data
    state = _load(snap.moto, snap.containers)
    dicts = snap.containers[:len(state)]
    with backend_lock:
        for bd in list(BackendDict._instances):          # services first used after the snapshot: empty again
            if not any(bd is d for d in dicts):
                for asb in bd.values():
                    asb.reset()
                bd.clear()
                BackendDict._instances.remove(bd)
        for bd, accounts in zip(dicts, state):
            for account in [a for a in bd if a not in accounts]:
                del bd[account]
            for account, regions in accounts.items():
                asb = next(c for c in snap.containers[len(state):] if c.account_id == account
                           and c.service_name == bd.service_name)
                dict.clear(asb)
                dict.update(asb, regions)
                # always put ours back: after a BackendDict.reset() (moto's own, or a mock_aws() ending in
                # this process) moto creates a fresh, empty account container on the next request
                dict.__setitem__(bd, account, asb)
            if not any(bd is d for d in BackendDict._instances):
                BackendDict._instances.append(bd)
    reset_model_data()
    from . import moto_gaps
    for accounts in state:
        for regions in accounts.values():
            for backend in regions.values():
                if "_opslib_index" in getattr(backend, "__dict__", {}):
                    moto_gaps.after_restore(backend)


def _files(sb) -> dict[str, bytes]:
    out = {}
    for name in FILE_FOLDERS:
        folder = sb.config.dir / name
        if folder.is_dir():
            for path in folder.rglob("*"):
                if path.is_file():
                    out[str(path.relative_to(sb.config.dir))] = path.read_bytes()
    return out


def _restore_files(sb, files: dict[str, bytes]) -> None:
    for name in FILE_FOLDERS:
        shutil.rmtree(sb.config.dir / name, ignore_errors=True)
    for rel, data in files.items():
        path = sb.config.dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def _admin(sb) -> sa.Engine:
    url = sa.make_url(sb.pg.url).set(database="postgres")
    return sa.create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")


def _take_template(sb) -> str | None:
    pg = getattr(sb, "pg", None)
    if pg is None or not pg.embedded:
        return None
    name = sa.make_url(pg.url).database
    template = name + TEMPLATE_SUFFIX
    admin = _admin(sb)
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{template}"')
            conn.exec_driver_sql(f'CREATE DATABASE "{template}" TEMPLATE "{name}"')
    finally:
        admin.dispose()
    return template


def _restore_database(sb, template: str | None) -> None:
    from . import sql
    if template is None:
        if getattr(sb, "pg", None) is not None:
            sql.seed_database(sb)
        return
    sql.release_connections(sb)
    name = sa.make_url(sb.pg.url).database
    admin = _admin(sb)
    try:
        if sql.has_pg_stat_statements(sb.pg.engine):   # forget the old database's statements (its oid goes)
            with sb.pg.engine.connect() as conn:
                conn.exec_driver_sql("SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database "
                                     "WHERE datname = current_database()), 0)")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    except sa.exc.SQLAlchemyError as exc:
        raise SandboxError(f"could not restore the analytics database from {template}: {exc}") from exc
    finally:
        admin.dispose()
    sb.pg.engine.dispose()
    with sb.pg.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE")
    sql._setup_pg_stat_statements(sb)


def take(sb) -> Snapshot:
    """Snapshot the sandbox as it is now (call right after seeding, with the scheduler settled)."""
    t0, c0 = time.monotonic(), time.process_time()
    moto, containers = _take_moto()
    copy = sb.config.dir / ".snapshot-warehouse.duckdb"
    shutil.copyfile(sb.warehouse_path, copy)
    snap = Snapshot(moto=moto, containers=containers, warehouse=copy, files=_files(sb), template=_take_template(sb))
    snap.seconds, snap.cpu_seconds = time.monotonic() - t0, time.process_time() - c0
    log.info("snapshot taken in %.2fs, %.2f CPU s (%d bytes of moto state)", snap.seconds, snap.cpu_seconds,
             snap.bytes)
    return snap


def restore(sb, snap: Snapshot) -> None:
    """Put the sandbox back to ``snap``: moto's backends, the warehouse, the database, the files."""
    _restore_moto(snap)
    wal = Path(str(sb.warehouse_path) + ".wal")
    if wal.exists():
        wal.unlink()
    tmp = sb.warehouse_path.with_name(".restore-warehouse.duckdb")
    shutil.copyfile(snap.warehouse, tmp)
    os.replace(tmp, sb.warehouse_path)
    _restore_files(sb, snap.files)
    _restore_database(sb, snap.template)


def discard(sb, snap: Snapshot | None) -> None:
    """Delete what :func:`take` left on disk and on the server (the template database)."""
    if snap is None:
        return
    snap.warehouse.unlink(missing_ok=True)
    if snap.template and getattr(sb, "pg", None) is not None:
        admin = _admin(sb)
        try:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{snap.template}"')
        except sa.exc.SQLAlchemyError as exc:
            log.warning("could not drop the template database %s: %s", snap.template, exc)
        finally:
            admin.dispose()
