"""Parameter validation against a notebook's ``parameters`` cell, before any kernel starts.

papermill reads the cell (:func:`papermill.inspect_notebook`); the type of each parameter is its
annotation (``threshold: int = 10``) or else the type of its default value. Values from ``-p`` are
strings, converted to that type; values from a YAML file must already have it. An unknown name or
a value of the wrong type is a :class:`ParameterError` naming the parameter (papermill only warns).
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Iterable, Mapping

import papermill
import yaml

from ..errors import ParameterError

#: Set by the runner, not by ``-p``: ``profile`` from ``--profile``, the ids from the run itself.
INJECTED = ("profile", "run_id", "incident_id", "archive")
_TYPES = {"int": int, "float": float, "str": str, "bool": bool, "list": list, "dict": dict}
_TRUE, _FALSE = {"true", "yes", "1", "on"}, {"false", "no", "0", "off"}


@dataclass(frozen=True)
class NotebookParameter:
    name: str
    type_name: str          # int, float, str, bool, list, dict or "any" (default None, no annotation)
    default: Any
    default_text: str
    help: str = ""
    optional: bool = False  # None is allowed

    def describe(self) -> str:
        return f"{self.name}: {self.type_name} = {self.default_text}" + (f"  # {self.help}" if self.help else "")


def _annotation(text: str) -> tuple[str | None, bool]:
    """``int`` -> (int, False); ``Optional[str]``/``str | None`` -> (str, True); unknown -> (None, ...)."""
    text = (text or "").strip().replace("typing.", "")
    optional = False
    if text.startswith("Optional[") and text.endswith("]"):
        text, optional = text[len("Optional["):-1], True
    parts = [p.strip() for p in text.split("|")]
    if "None" in parts and len(parts) > 1:
        parts.remove("None")
        optional = True
    base = parts[0].split("[")[0].lower() if parts and parts[0] not in ("", "None") else None
    return (base if base in _TYPES else None), optional


def notebook_parameters(path: str | Path) -> dict[str, NotebookParameter]:
    """The parameters a notebook declares, in order."""
    out: dict[str, NotebookParameter] = {}
    for name, info in papermill.inspect_notebook(str(path)).items():
        text = info.get("default") or "None"
        try:
            default = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            default = text            # an expression: only its annotation can type it
        annotated, optional = _annotation(info.get("inferred_type_name") or "")
        if annotated:
            type_name = annotated
        elif default is None:
            type_name, optional = "any", True
        else:
            type_name = type(default).__name__ if type(default).__name__ in _TYPES else "any"
        optional = optional or default is None
        out[name] = NotebookParameter(name, type_name, default, text, info.get("help") or "", optional)
    return out


def _from_text(p: NotebookParameter, raw: str) -> Any:
    if p.optional and raw.strip().lower() in ("none", "null", "~"):
        return None
    kind = p.type_name
    if kind == "str":
        return raw
    if kind == "bool":
        low = raw.strip().lower()
        if low in _TRUE | _FALSE:
            return low in _TRUE
        raise ValueError(raw)
    if kind == "int":
        return int(raw.strip())
    if kind == "float":
        return float(raw.strip())
    value = _dates_as_text(yaml.safe_load(raw))
    if kind in ("list", "dict"):
        return _check_typed(p, value)
    return value


def _dates_as_text(value: Any) -> Any:
    """YAML reads ``2026-11-23`` as a date; a notebook receives parameters as literals (and nbformat
    cannot store a date), so dates stay ISO strings, as typed."""
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, list):
        return [_dates_as_text(v) for v in value]
    if isinstance(value, dict):
        return {k: _dates_as_text(v) for k, v in value.items()}
    return value


def _check_typed(p: NotebookParameter, value: Any) -> Any:
    kind = p.type_name
    if value is None and p.optional:
        return None
    if kind == "any":
        return value
    if kind == "float" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    expected = _TYPES[kind]
    if isinstance(value, bool) and expected is not bool:
        raise TypeError(value)
    if not isinstance(value, expected):
        raise TypeError(value)
    return value


def validate_parameters(params: Mapping[str, NotebookParameter], values: Mapping[str, Any], *,
                        from_text: Iterable[str] = ()) -> dict[str, Any]:
    """Check ``values`` against ``params``; names in ``from_text`` came from ``-p`` and are converted."""
    text_names = set(from_text)
    out: dict[str, Any] = {}
    for name, value in values.items():
        if name in INJECTED:
            flag = {"profile": "--profile", "incident_id": "--incident", "run_id": "(set by the runner)",
                    "archive": "--archive"}[name]
            raise ParameterError(name, value, f"not settable with -p/-f; use {flag}")
        if name not in params:
            allowed = ", ".join(n for n in params if n not in INJECTED) or "(this notebook takes no parameters)"
            raise ParameterError(name, value, f"a parameter of the notebook: {allowed}")
        p = params[name]
        try:
            out[name] = _from_text(p, value) if name in text_names and isinstance(value, str) else _check_typed(p, value)
        except (ValueError, TypeError, yaml.YAMLError) as exc:
            raise ParameterError(name, value, f"type {p.type_name}{' or None' if p.optional and p.type_name != 'any' else ''}"
                                 f" (declared: {p.describe()})") from exc
    return out


def parse_assignments(pairs: Iterable[str]) -> dict[str, str]:
    """``["a=1", "b=x"]`` -> ``{"a": "1", "b": "x"}``."""
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ParameterError("-p", pair, "name=value")
        out[name.strip()] = value
    return out


def load_parameter_file(path: str | Path) -> dict[str, Any]:
    """A YAML mapping of parameter values."""
    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ParameterError("-f", str(path), f"a readable YAML file of name: value ({exc})") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ParameterError("-f", str(path), "a YAML mapping of name: value")
    return _dates_as_text(data)
