"""Parameter domains: what values a notebook parameter allows beyond its type, checked before any kernel.

A notebook declares them once, in its metadata (``"opslib": {"parameters": {...}}``)::

    "parameters": {
      "as_of":        {"kind": "time", "interval": "end"},   # ISO time; schedulers bind it to the data interval
      "window_hours": {"min": 1},
      "min_days":     {"min": 2, "max": "history_days"},     # a bound may name another parameter: its value
      "sensitivity":  {"positive": true},                    # > 0
      "source":       {"choices": ["warehouse", "database"]},
      "service":      {"kind": "service", "type": "ecs"},    # a service of the profile (of that type)
      "start_date":   {"kind": "date", "empty": true},       # YYYY-MM-DD, or "" for the notebook's default
      "severity":     {"kind": "severity"}                   # a level of the profile's severity_levels
    }

``runbook run`` and ``runbook schedule check`` call :func:`check_notebook_values` on the values given (defaults
are the notebook's own); the notebook may call it on its parameters too. None passes when the
parameter is optional (its default is None). A bound that names another parameter is checked whenever either
of the two is given, against the other's value or default: what the library would refuse in the kernel for the
pair is refused before it starts."""
from __future__ import annotations

from dataclasses import dataclass, replace
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
    min: float | str | None = None      # a number, or the name of the parameter whose value is the bound
    max: float | str | None = None
    positive: bool = False
    service_type: str | None = None
    empty: bool = False                 # "" allowed (the notebook picks a default)
    interval: str | None = None         # "start" | "end": a scheduler binds it to the data interval
    refs: tuple = ()                    # (("max", "history_days"), ...): bounds resolved from other parameters

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
        for key in ("min", "max"):
            if spec.get(key) is not None and (isinstance(spec[key], bool)
                                               or not isinstance(spec[key], (int, float, str))):
                raise ParameterError(f"metadata opslib.parameters.{name}.{key}", spec[key],
                                     "a number or the name of another parameter")
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
        for key, sign in (("min", ">="), ("max", "<=")):
            bound, ref = getattr(self, key), dict(self.refs).get(key)
            if isinstance(bound, str):
                parts.append(f"{sign} {bound}")
            elif bound is not None:
                parts.append(f"{sign} {ref} ({bound:g})" if ref else f"{sign} {bound:g}")
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


def _refs(d: Domain) -> dict[str, str]:
    """The bounds of ``d`` that name another parameter: {"min"|"max": parameter}."""
    return {key: getattr(d, key) for key in ("min", "max") if isinstance(getattr(d, key), str)}


def domains_from_metadata(spec: Mapping[str, Any] | None, parameters: Iterable[str] | None = None) -> dict[str, Domain]:
    """The domains a notebook's metadata declares; with ``parameters`` (the notebook's), a bound naming a
    parameter it does not have is a ParameterError."""
    domains = {name: Domain.from_spec(name, s or {}) for name, s in (spec or {}).items()}
    if parameters is not None:
        known = set(parameters)
        for name, d in domains.items():
            for key, ref in _refs(d).items():
                if ref not in known:
                    raise ParameterError(f"metadata opslib.parameters.{name}.{key}", ref, ", ".join(sorted(known)))
    return domains


def check_domains(domains: Mapping[str, Domain], values: Mapping[str, Any], profile: Any = None, *,
                  optional: Iterable[str] = (), defaults: Mapping[str, Any] | None = None) -> None:
    """Check every value given that has a domain; ``optional`` names parameters that may be None. A bound naming
    another parameter is that parameter's value, given or else its default (``defaults``), and the pair is
    checked when either of them is given."""
    allow_none, defaults = set(optional), defaults or {}
    for name, d in domains.items():
        refs = _refs(d)
        if name not in values and not (name in defaults and any(ref in values for ref in refs.values())):
            continue
        if refs:
            d = replace(d, refs=tuple(refs.items()), **{key: values.get(ref, defaults.get(ref))
                                                        for key, ref in refs.items()})
        if name in values:
            _check_value(d, values[name], profile, optional=name in allow_none)
            continue
        try:
            _check_value(d, defaults[name], profile, optional=name in allow_none)
        except ParameterError as exc:        # the default no longer fits the bound a given value moved
            given = ", ".join(f"{ref}={values[ref]!r}" for ref in refs.values() if ref in values)
            raise ParameterError(name, exc.value, f"{exc.allowed} (the default; with {given}, give {name} "
                                                  f"too)") from None


def check_notebook_values(info: Any, values: Mapping[str, Any], profile: Any = None) -> None:
    """``values`` of the parameters of notebook ``info`` (a catalog NotebookInfo) against its declared domains,
    its own defaults standing in for the parameters not given, then its own check (ParameterError)."""
    defaults = {n: p.default for n, p in info.parameters.items()}
    check_domains(info.domains, values, profile, optional=[n for n, p in info.parameters.items() if p.optional],
                  defaults=defaults)
    if info.check:
        notebook_check(info.check, {**defaults, **values}, profile)


def notebook_check(reference: str, values: Mapping[str, Any], profile: Any = None) -> None:
    """Call a notebook's own parameter check (its metadata's ``"check": "module:function"``, making the checks its
    first cells make) with the parameters it names, ``profile`` (the loaded profile) and ``now`` (the profile's
    clock, as ``Ops.now`` gives it to the notebook) if it takes them: what the notebook would refuse in the kernel
    is refused before it starts, by the same code. Checks that need the profile are skipped without one (a cell
    run by hand), and those that need the clock where it cannot be read (a sandbox profile without a sandbox)."""
    import importlib
    import inspect
    module, _, name = reference.partition(":")
    function = getattr(importlib.import_module(module), name)
    wanted = inspect.signature(function).parameters
    if ("profile" in wanted or "now" in wanted) and profile is None:
        return
    kwargs = {n: values[n] for n in wanted if n in values and n not in ("profile", "now")}
    if "profile" in wanted:
        kwargs["profile"] = profile
    if "now" in wanted:
        from ..connection import connect
        from ..errors import OpsError
        try:
            kwargs["now"] = connect(profile).now()
        except OpsError:             # the sandbox's clock cannot be read: the preflight says why, nothing runs
            return
    function(**kwargs)
