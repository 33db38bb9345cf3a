"""Plans: what will change, read live, before anything changes.

A :class:`Change` names the resource, the attribute, its current value (read live by the planner),
the new value, the API call it will make, the command a human could paste instead, and where one
exists the :class:`Change` that undoes it. A :class:`Plan` is an ordered list of changes; it renders
as an HTML table in a notebook and as a text table in a terminal. Planners never change anything.
"""
from __future__ import annotations

import html
import json
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from ..connection import Ops

REDACTED = "<redacted>"


@dataclass(frozen=True)
class Change:
    """One change to one resource attribute.

    ``kind`` selects how it is applied and read back (see :mod:`.kinds`); ``service``/``operation``/
    ``params`` are the boto3 call (or ``sql``/``execute``); ``target`` is the short name a production
    confirmation must give; ``secret_params`` are parameter names never rendered or recorded."""

    kind: str
    resource: str
    attribute: str
    current: Any
    new: Any
    service: str
    operation: str
    params: dict
    cli: str
    target: str
    region: str | None = None
    undo: "Change | None" = None
    note: str = ""
    meta: dict = field(default_factory=dict)
    secret_params: tuple[str, ...] = ()

    @property
    def call(self) -> str:
        """The API call as text, with secret parameters redacted."""
        args = ", ".join(f"{k}={v!r}" for k, v in self.safe_params().items())
        return f"{self.service}.{self.operation}({args})"

    def safe_params(self) -> dict:
        return {k: (REDACTED if k in self.secret_params else v) for k, v in self.params.items()}

    def __repr__(self) -> str:
        """The dataclass repr with secret parameters redacted (a notebook shows it as a plan's text/plain)."""
        shown = {name: self.safe_params() if name == "params" else getattr(self, name)
                 for name in self.__dataclass_fields__}
        return "Change(" + ", ".join(f"{k}={v!r}" for k, v in shown.items()) + ")"

    def to_dict(self) -> dict:
        """JSON-ready form for the audit record; secret parameters are replaced by ``<redacted>``."""
        return {
            "kind": self.kind, "resource": self.resource, "attribute": self.attribute,
            "current": _jsonable(self.current), "new": _jsonable(self.new), "service": self.service,
            "operation": self.operation, "params": _jsonable(self.safe_params()), "cli": self.cli,
            "target": self.target, "region": self.region, "note": self.note, "meta": _jsonable(self.meta),
            "secret_params": list(self.secret_params),
            "undo": self.undo.to_dict() if self.undo is not None else None,
        }

    @classmethod
    def from_dict(cls, data: dict) -> "Change":
        data = dict(data)
        undo = data.pop("undo", None)
        data["secret_params"] = tuple(data.get("secret_params") or ())
        return cls(**data, undo=cls.from_dict(undo) if undo else None)

    @property
    def redacted(self) -> bool:
        """True when this change cannot be re-applied from its record (its secret values are not kept)."""
        return bool(self.secret_params)

    def with_current(self, value: Any) -> "Change":
        return replace(self, current=value)


@dataclass
class Plan:
    """An ordered list of changes against one environment, with what was checked to make it.

    ``prechecks`` are callables ``(ops) -> list[Precondition]`` re-run by :func:`apply` before any call
    (e.g. the DR side's pre-flight before a regional failover)."""

    title: str
    changes: list[Change]
    ops: "Ops | None" = field(default=None, repr=False, compare=False)
    notes: list[str] = field(default_factory=list)
    prechecks: list[Callable[["Ops"], list["Precondition"]]] = field(default_factory=list, repr=False, compare=False)
    checks: list["Precondition"] = field(default_factory=list)
    undo_of: str | None = None

    def __len__(self) -> int:
        return len(self.changes)

    def __iter__(self):
        return iter(self.changes)

    def __add__(self, other: "Plan") -> "Plan":
        return Plan(f"{self.title}; {other.title}", self.changes + other.changes, self.ops or other.ops,
                    self.notes + other.notes, self.prechecks + other.prechecks, self.checks + other.checks)

    @property
    def targets(self) -> list[str]:
        """The distinct resource names a production confirmation must name, in plan order."""
        return list(dict.fromkeys(c.target for c in self.changes))

    @property
    def commands(self) -> str:
        """The equivalent commands, one per line, to paste into a shell."""
        return "\n".join(c.cli for c in self.changes)

    def to_dict(self) -> dict:
        return {"title": self.title, "changes": [c.to_dict() for c in self.changes], "notes": self.notes,
                "checks": [c.to_dict() for c in self.checks]}

    # -- rendering -----------------------------------------------------------------------------
    def rows(self) -> list[dict]:
        return [{"#": i, "resource": c.resource, "attribute": c.attribute, "current": show(c.current),
                 "new": show(c.new), "command": c.cli, "undo": c.undo.cli if c.undo else "(none)"}
                for i, c in enumerate(self.changes, 1)]

    def to_text(self) -> str:
        head = [f"Plan: {self.title} ({len(self.changes)} change{'s' if len(self.changes) != 1 else ''})"]
        body = text_table(self.rows(), ["#", "resource", "attribute", "current", "new"])
        cmds = [f"  {i}. {c.cli}" + (f"\n     undo: {c.undo.cli}" if c.undo else "\n     undo: (none)")
                for i, c in enumerate(self.changes, 1)]
        checks = [f"  [{'ok' if k.ok else 'FAIL'}] {k.name}: {k.detail}" for k in self.checks]
        notes = [f"  note: {n}" for n in self.notes] + [f"  {i}. note: {c.note}" for i, c in
                                                         enumerate(self.changes, 1) if c.note]
        parts = head + [body if self.changes else "  (nothing to change)"]
        if checks:
            parts += ["Checks:"] + checks
        if cmds:
            parts += ["Commands:"] + cmds
        return "\n".join(parts + notes)

    __str__ = to_text

    def _repr_html_(self) -> str:
        rows = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(r[k]))}</td>" for k in ("#", "resource", "attribute", "current", "new"))
            + f"<td><code>{html.escape(r['command'])}</code></td><td><code>{html.escape(r['undo'])}</code></td></tr>"
            for r in self.rows())
        checks = "".join(f"<li>{'✔' if k.ok else '✘'} <b>{html.escape(k.name)}</b>: {html.escape(k.detail)}</li>"
                         for k in self.checks)
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.notes + [c.note for c in self.changes if c.note])
        return (f"<div class='opslib-plan'><h4>Plan: {html.escape(self.title)}</h4>"
                + ("<table><thead><tr><th>#</th><th>resource</th><th>attribute</th><th>current</th><th>new</th>"
                   f"<th>command</th><th>undo</th></tr></thead><tbody>{rows}</tbody></table>" if self.changes
                   else "<p>(nothing to change)</p>")
                + (f"<p>Checks:</p><ul>{checks}</ul>" if checks else "")
                + (f"<p>Notes:</p><ul>{notes}</ul>" if notes else "") + "</div>")


@dataclass(frozen=True)
class Precondition:
    """One pre-flight check of a plan (e.g. a DR-side check before a failover): ``ok`` or not, re-run live
    by :func:`opslib.actions.apply` before any call. (A run's findings are :class:`opslib.findings.Check`.)"""
    name: str
    ok: bool
    detail: str = ""

    def to_dict(self) -> dict:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


def show(value: Any) -> str:
    """A value as one short line for tables."""
    if value is None:
        return "(none)"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def text_table(rows: list[dict], columns: list[str], width: int = 60) -> str:
    """A fixed-width text table (cells cut at ``width`` characters)."""
    def cut(s: str) -> str:
        return s if len(s) <= width else s[: width - 1] + "…"
    cells = [[cut(str(r[c])) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    line = lambda vals: "  " + " | ".join(v.ljust(w) for v, w in zip(vals, widths))  # noqa: E731
    sep = "  " + "-+-".join("-" * w for w in widths)
    return "\n".join([line(columns), sep] + [line(r) for r in cells])


def _jsonable(value: Any) -> Any:
    """Values as JSON can hold them (datetimes as ISO strings)."""
    return json.loads(json.dumps(value, default=str))
