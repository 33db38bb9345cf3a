"""How each kind of change is read back and applied.

Every planner module registers its kinds here at import: ``read(ops, change)`` returns the live value
of the change's attribute (the same shape as ``Change.current``/``Change.new``); ``execute(ops, change)``
makes the call (default: the boto3 call named by the change). Records are re-read through this
registry, so an undo can be planned from an audit record alone."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from ..errors import ActionError

if TYPE_CHECKING:
    from ..connection import Ops
    from .plan import Change

Reader = Callable[["Ops", "Change"], Any]
Executor = Callable[["Ops", "Change"], Any]


@dataclass(frozen=True)
class Kind:
    name: str
    read: Reader
    execute: Executor | None = None


KINDS: dict[str, Kind] = {}


def register(name: str, *, read: Reader, execute: Executor | None = None) -> None:
    KINDS[name] = Kind(name, read, execute)


def kind(name: str) -> Kind:
    if name not in KINDS:
        from . import _load_all  # records may name kinds whose module is not imported yet
        _load_all()
    try:
        return KINDS[name]
    except KeyError as exc:
        raise ActionError(f"unknown kind of change {name!r}; known: {', '.join(sorted(KINDS))}") from exc


def call_boto3(ops: "Ops", change: "Change") -> Any:
    """The default executor: the boto3 call the change names, in its region."""
    client = ops.client(change.service, change.region or "primary")
    return getattr(client, change.operation)(**change.params)


def read(ops: "Ops", change: "Change") -> Any:
    return kind(change.kind).read(ops, change)


def execute(ops: "Ops", change: "Change") -> Any:
    k = kind(change.kind)
    return (k.execute or call_boto3)(ops, change)
