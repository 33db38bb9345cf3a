"""Parameter domains: what values a notebook parameter allows beyond its type, checked before any kernel.

A notebook declares them once, in its metadata (``"opslib": {"parameters": {...}}``)::

    "parameters": {
      "as_of":        {"kind": "time", "interval": "end"},   # ISO time; schedulers bind it to the data interval
      "window_hours": {"min": 1},
      "sensitivity":  {"positive": true},                    # > 0
      "source":       {"choices": ["warehouse", "database"]},
      "service":      {"kind": "service", "type": "ecs"},    # a service of the profile (of that type)
      "start_date":   {"kind": "date", "empty": true},       # YYYY-MM-DD, or "" for the notebook's default
      "severity":     {"kind": "severity"}                   # a level of the profile's severity_levels
    }

``runbook run`` and ``runbook schedule check`` call :func:`check_domains` on the values given (defaults
are the notebook's own); the notebook may call it on its parameters too. None passes when the
parameter is optional (its default is None)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Iterable, Mapping

from ..errors import ParameterError

KINDS = ("time", "date", "service", "severity")
_KEYS = {"kind", "interval", "min", "max", "positive", "choices", "type", "empty", "help"}


@dataclass(frozen=True)
class Domain:
    name: str
    kind: str | None = None
    choices: tuple | None = None
    min: float | None = None
    max: float | None = None
    positive: bool = False
    service_type: str | None = None
    empty: bool = False                 # "" allowed (the notebook picks a default)
    interval: str | None = None         # "start" | "end": a scheduler binds it to the data interval

    @classmethod
    def from_spec(cls, name: str, spec: Mapping[str, Any]) -> "Domain":
        unknown = set(spec) - _KEYS
        if unknown:
            raise ParameterError(f"metadata opslib.parameters.{name}", sorted(unknown), ", ".join(sorted(_KEYS)))
        kind = spec.get("kind")
        if kind is not None and kind not in KINDS:
            raise ParameterError(f"metadata opslib.parameters.{name}.kind", kind, ", ".join(KINDS))
        if spec.get("interval") not in (None, "start", "end"):
            raise ParameterError(f"metadata opslib.parameters.{name}.interval", spec["interval"], "start, end")
        choices = spec.get("choices")
        return cls(name, kind, tuple(choices) if choices is not None else None, spec.get("min"), spec.get("max"),
                   bool(spec.get("positive")), spec.get("type"), bool(spec.get("empty")), spec.get("interval"))

    def describe(self, profile: Any = None) -> str:
        parts = []
        if self.kind == "time":
            parts.append("an ISO time, e.g. 2026-11-25T06:00:00Z (UTC if no zone)")
        elif self.kind == "date":
            parts.append("a date YYYY-MM-DD")
        elif self.kind == "service":
            names = [s.name for s in _services(profile, self.service_type)] if profile is not None else []
            what = f" ({self.service_type})" if self.service_type else ""
            parts.append(f"a service of the profile{what}" + (f": {', '.join(names)}" if names else ""))
        elif self.kind == "severity":
            levels = [s.level for s in profile.severity_levels] if profile is not None else []
            parts.append("a severity level" + (f": {', '.join(levels)}" if levels else ""))
        if self.choices is not None:
            parts.append("one of " + ", ".join(map(str, self.choices)))
        if self.positive:
            parts.append("a number > 0")
        if self.min is not None:
            parts.append(f">= {self.min:g}")
        if self.max is not None:
            parts.append(f"<= {self.max:g}")
        if self.empty:
            parts.append('or "" for the default')
        return ", ".join(parts) or "any value of its type"


def _services(profile: Any, service_type: str | None) -> list:
    return [s for s in profile.services if service_type is None or s.type == service_type]


def parse_time(value: str) -> datetime:
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    return datetime.fromisoformat(text)


def _ok_one(d: Domain, value: Any, profile: Any) -> bool:
    if d.empty and value == "":
        return True
    if d.kind == "time":
        if not isinstance(value, (str, datetime)):
            return False
        try:
            parse_time(value) if isinstance(value, str) else value
        except ValueError:
            return False
    elif d.kind == "date":
        if isinstance(value, date):
            return True
        if not isinstance(value, str) or len(value.strip()) != 10:
            return False
        try:
            date.fromisoformat(value.strip())
        except ValueError:
            return False
    elif d.kind == "service" and profile is not None:
        if value not in {s.name for s in _services(profile, d.service_type)}:
            return False
    elif d.kind == "severity" and profile is not None:
        if value not in {s.level for s in profile.severity_levels}:
            return False
    if d.choices is not None and value not in d.choices:
        return False
    if d.positive or d.min is not None or d.max is not None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if value != value:                      # NaN
            return False
        if d.positive and not value > 0:
            return False
        if d.min is not None and value < d.min:
            return False
        if d.max is not None and value > d.max:
            return False
    return True


def _check_value(d: Domain, value: Any, profile: Any = None, *, optional: bool = False) -> None:
    """ParameterError naming the parameter and what is allowed when ``value`` is outside ``d``."""
    if value is None and optional:
        return
    items: Iterable = value if isinstance(value, list) else [value]
    for item in items:
        if not _ok_one(d, item, profile):
            raise ParameterError(d.name, value, d.describe(profile))


def domains_from_metadata(spec: Mapping[str, Any] | None) -> dict[str, Domain]:
    return {name: Domain.from_spec(name, s or {}) for name, s in (spec or {}).items()}


def check_domains(domains: Mapping[str, Domain], values: Mapping[str, Any], profile: Any = None, *,
                  optional: Iterable[str] = ()) -> None:
    """Check every value that has a domain; ``optional`` names parameters that may be None."""
    allow_none = set(optional)
    for name, value in values.items():
        if name in domains:
            _check_value(domains[name], value, profile, optional=name in allow_none)
