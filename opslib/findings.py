"""Findings: the one call a notebook makes to report what it found.

A notebook ends with::

    from opslib.findings import Check, record_findings
    record_findings([
        Check.ok("freshness", "newest event 4 min old", age_minutes=4),
        Check.fail("completeness", "hour 11:00 dropped 62% vs previous hour", drop_pct=62.0),
    ])

The call shows a readable table and emits the same checks as a display output of MIME type
``application/vnd.opslib.findings+json``; the runner reads them back from the output notebook
(:func:`read_findings`) into the manifest, and the worst status sets the run's exit code.
"""
from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Iterable, Mapping

from .errors import ParameterError

MIME = "application/vnd.opslib.findings+json"
#: From best to worst. ``unknown``: the check could not see (credentials, access, connectivity); it is
#: never a claim about the service. A run's status is the worst; ``fail`` outranks ``unknown``.
STATUSES = ("ok", "warn", "unknown", "fail")
SCHEMA_VERSION = 1


def _jsonable(value: Any) -> Any:
    """Figures as plain JSON: numpy/pandas scalars become numbers, times ISO strings, NaN None."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    item = getattr(value, "item", None)          # numpy / pandas scalars
    if callable(item):
        try:
            return _jsonable(item())
        except (TypeError, ValueError):
            pass  # not a scalar (an array): fall through to isoformat/str
    iso = getattr(value, "isoformat", None)      # pandas Timestamp
    if callable(iso):
        return iso()
    return str(value)


@dataclass(frozen=True)
class Check:
    """One finding: a name, a status (``ok``/``warn``/``unknown``/``fail``), a one-line detail and key figures."""

    name: str
    status: str
    detail: str = ""
    figures: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ParameterError("status", self.status, ", ".join(STATUSES))
        if not self.name:
            raise ParameterError("name", self.name, "a non-empty check name")
        object.__setattr__(self, "detail", " ".join(str(self.detail).split()))
        object.__setattr__(self, "figures", _jsonable(dict(self.figures)))

    @classmethod
    def ok(cls, name: str, detail: str = "", **figures: Any) -> "Check":
        return cls(name, "ok", detail, figures)

    @classmethod
    def warn(cls, name: str, detail: str = "", **figures: Any) -> "Check":
        return cls(name, "warn", detail, figures)

    @classmethod
    def unknown(cls, name: str, detail: str = "", **figures: Any) -> "Check":
        """The check could not see (a read failed for credentials, access or connectivity)."""
        return cls(name, "unknown", detail, figures)

    @classmethod
    def fail(cls, name: str, detail: str = "", **figures: Any) -> "Check":
        return cls(name, "fail", detail, figures)

    @classmethod
    def when(cls, name: str, passed: bool, detail: str = "", *, otherwise: str = "fail", **figures: Any) -> "Check":
        """``ok`` if ``passed`` else ``otherwise`` (``fail`` or ``warn``)."""
        return cls(name, "ok" if passed else otherwise, detail, figures)

    def to_dict(self) -> dict:
        return {"name": self.name, "status": self.status, "detail": self.detail, "figures": dict(self.figures)}

    @classmethod
    def from_dict(cls, data: Mapping) -> "Check":
        return cls(str(data["name"]), str(data["status"]), str(data.get("detail", "")), dict(data.get("figures") or {}))


def overall_status(checks: Iterable[Check]) -> str:
    """The worst status of ``checks`` (``ok`` when there are none)."""
    worst = 0
    for check in checks:
        worst = max(worst, STATUSES.index(check.status))
    return STATUSES[worst]


def _as_check(item: Any) -> Check:
    if isinstance(item, Check):
        return item
    if isinstance(item, Mapping):
        return Check.from_dict(item)
    to_check = getattr(item, "to_check", None)   # other result types may convert themselves
    if callable(to_check):
        return to_check()
    raise ParameterError("checks", type(item).__name__, "Check objects, dicts with name/status/detail/figures, "
                         "or objects with a to_check() method")


def _figures_text(figures: Mapping) -> str:
    return ", ".join(f"{k}={v}" for k, v in figures.items())


def _findings_text(checks: list[Check]) -> str:
    """A plain-text table (terminal, text/plain output)."""
    if not checks:
        return "no findings recorded"
    width = max(len(c.name) for c in checks)
    lines = [f"{c.status.upper():<7}  {c.name:<{width}}  {c.detail}"
             + (f"  [{_figures_text(c.figures)}]" if c.figures else "") for c in checks]
    return f"findings: {overall_status(checks)}\n" + "\n".join(lines)


_COLOURS = {"ok": "#1a7f37", "warn": "#9a6700", "unknown": "#6e7781", "fail": "#cf222e"}


def _findings_html(checks: list[Check]) -> str:
    rows = "".join(
        f"<tr><td style='color:{_COLOURS[c.status]};font-weight:bold'>{c.status.upper()}</td>"
        f"<td>{html.escape(c.name)}</td><td>{html.escape(c.detail)}</td>"
        f"<td>{html.escape(_figures_text(c.figures))}</td></tr>" for c in checks)
    return ("<table class='opslib-findings'><thead><tr><th>status</th><th>check</th><th>detail</th>"
            f"<th>figures</th></tr></thead><tbody>{rows}</tbody></table>")


def findings_bundle(checks: list[Check]) -> dict:
    """The display bundle: the machine-readable checks plus HTML and text renderings."""
    payload = {"version": SCHEMA_VERSION, "status": overall_status(checks), "checks": [c.to_dict() for c in checks]}
    return {MIME: payload, "text/html": _findings_html(checks), "text/plain": _findings_text(checks)}


def record_findings(checks: Iterable[Any], *, display: Any = None) -> list[Check]:
    """Show ``checks`` as a table and emit them for the runner; returns them as :class:`Check` objects.

    ``display`` defaults to IPython's ``display`` (tests pass a list's ``append``)."""
    items = [_as_check(c) for c in checks]
    bundle = findings_bundle(items)
    json.dumps(bundle[MIME])   # fail here, in the notebook, if a figure cannot be serialised
    if display is None:
        from IPython.display import display as ipy_display
        ipy_display(bundle, raw=True)
    else:
        display(bundle)
    return items


def read_findings(nb: Mapping) -> list[Check]:
    """Every check recorded in a notebook (dict or NotebookNode), in cell order."""
    found: list[Check] = []
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []) or []:
            payload = (output.get("data") or {}).get(MIME)
            if payload is None:
                continue
            if isinstance(payload, str):       # some writers store JSON mime data as text
                payload = json.loads(payload)
            found.extend(Check.from_dict(c) for c in payload.get("checks", []))
    return found
