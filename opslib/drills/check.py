"""Judge a runbook's run against its drill: did it fail loudly, naming the fault, and only for it?"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Iterable, Mapping

from .catalog import Expect


@dataclass(frozen=True)
class RunbookResult:
    """One runbook's run during a drill."""

    notebook: str
    detected: bool
    problem: str = ""                      # why it does not count as detected (empty when detected)
    run_id: str | None = None
    status: str = "not run"
    exit_code: int | None = None
    seconds: float = 0.0
    failed: list = field(default_factory=list)       # names of the checks that failed
    evidence: dict = field(default_factory=dict)     # {"html": path, "ipynb": path}
    details: dict = field(default_factory=dict)      # failing check -> its detail

    def to_dict(self) -> dict:
        return {"notebook": self.notebook, "detected": self.detected, "problem": self.problem,
                "run_id": self.run_id, "status": self.status, "exit_code": self.exit_code,
                "seconds": self.seconds, "failed": list(self.failed), "evidence": dict(self.evidence),
                "details": dict(self.details)}


def _fields(injected: Mapping) -> dict:
    """The injected details, plus ``<key>_label`` ("YYYY-MM-DD HH:00") for ISO times."""
    out = {k: v for k, v in injected.items()}
    for key, value in injected.items():
        if isinstance(value, str) and len(value) >= 16 and value[4] == "-" and value[10] == "T":
            try:
                when = datetime.fromisoformat(value)
            except ValueError:
                continue
            out[f"{key}_label"] = f"{when:%Y-%m-%d %H}:00"
    return out


class _Wildcard(dict):
    """Fields for check-name patterns: a detail not at hand (another fault's) matches any text."""

    def __missing__(self, key: str) -> str:
        return "*"


def patterns(names: Iterable[str], injected: Mapping | None = None) -> list[str]:
    """Check-name patterns with ``{key}`` filled from the injected details (``*`` where unknown)."""
    values = _Wildcard(_fields(injected or {}))
    return [name.format_map(values) for name in names]


def _expected_texts(expect: Expect, injected: Mapping) -> list[str]:
    """``expect.names`` filled with the injected details."""
    values = _fields(injected)
    return [text.format(**values) for text in expect.names]


def matches(name: str, patterns: Iterable[str]) -> bool:
    return any(fnmatchcase(name, p) for p in patterns)


def unexpected_failures(entry: Mapping, expects: Iterable[Expect], injected: Mapping | None = None) -> list[str]:
    """Failing checks of ``entry`` that none of ``expects`` (one or more drills of the same notebook,
    e.g. faults injected together) expects or allows; patterns filled from ``injected``."""
    allowed = [p for e in expects for p in patterns((*e.fails, *e.may_fail), injected)]
    return [c["name"] for c in entry.get("findings", []) if c["status"] == "fail" and not matches(c["name"], allowed)]


def judge(expect: Expect, entry: Mapping | None, injected: Mapping, *, seconds: float = 0.0,
          error: str = "", together: Iterable[Expect] = ()) -> RunbookResult:
    """The verdict on ``entry`` (a manifest entry; None when the run did not start). ``together``: the
    expectations of other faults injected at the same time (their failing checks are not unexpected)."""
    if entry is None:
        return RunbookResult(expect.notebook, False, error or "the runbook did not run", seconds=seconds)
    checks = entry.get("findings", [])
    failing = [c for c in checks if c["status"] == "fail"]
    problems = []
    if entry.get("exit_code") != 1:
        why = entry.get("error") or {}
        problems.append(f"exit {entry.get('exit_code')} ({entry.get('status')}"
                        + (f": {why.get('ename')}: {why.get('evalue')}" if why else "") + "), not 1")
    for pattern in patterns(expect.fails, injected):
        if not any(fnmatchcase(c["name"], pattern) for c in failing):
            seen = [f"{c['name']} {c['status']}" for c in checks if fnmatchcase(c["name"], pattern)]
            problems.append(f"{pattern} did not fail" + (f" ({', '.join(seen)})" if seen else " (not reported)"))
    named = " ".join(f"{c['name']}: {c.get('detail', '')}" for c in failing
                     if matches(c["name"], patterns(expect.fails, injected)))
    for text in _expected_texts(expect, injected):
        if text not in named:
            problems.append(f"no expected failing finding shows {text!r}")
    extra = [name for name in unexpected_failures(entry, [expect], injected)
             if not matches(name, [p for e in together for p in patterns((*e.fails, *e.may_fail))])]
    if extra:
        problems.append(f"also failed: {', '.join(extra)}")
    files = entry.get("files", {})
    return RunbookResult(
        expect.notebook, not problems, "; ".join(problems), run_id=entry.get("id"), status=entry.get("status", "?"),
        exit_code=entry.get("exit_code"), seconds=float(entry.get("duration_seconds") or seconds),
        failed=[c["name"] for c in failing], evidence={k: f.get("path") for k, f in files.items()},
        details={c["name"]: c.get("detail", "") for c in failing})
