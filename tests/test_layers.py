"""The layers of DESIGN.md, held by parsing every module's imports (``ast``; lazy imports inside functions
count too): the data flows down, never back up, and runbook sections never import each other.

    cli, runner            may import sections (they run them)
    sections/<name>        import the layers below, never another section
    actions                plan/apply: import aws and the infrastructure, never sections
    aws                    the only code that reads AWS: imports nothing of opslib but itself and errors
    infrastructure         config, connection, findings, events_table, records, ... : never sections
    sandbox                builds its pipeline with the infrastructure, never with the code under test
"""
from __future__ import annotations

import ast
from pathlib import Path

import opslib
from opslib.aws import alarms
from opslib.sections import incident

ROOT = Path(opslib.__file__).resolve().parent
#: outside the sections, only these may import a section: they run them
MAY_RUN_SECTIONS = ("opslib.cli", "opslib.runner")
#: what the aws layer may import of opslib besides itself
AWS_MAY_IMPORT = ("opslib.errors",)


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every opslib module (or name in one) that ``path`` imports, relative imports resolved."""
    name = _module(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.add(mod)
            out.update(f"{mod}.{a.name}" for a in node.names if a.name != "*")
    return {m for m in out if m == "opslib" or m.startswith("opslib.")}


def _graph() -> dict[str, set[str]]:
    return {_module(p): _imports(p) for p in sorted(ROOT.rglob("*.py"))}


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def _section(module: str) -> str | None:
    """``opslib.sections.<name>`` of a module inside a section (None outside, or for the package itself)."""
    parts = module.split(".")
    return ".".join(parts[:3]) if len(parts) >= 3 and parts[1] == "sections" else None


def test_only_cli_and_runner_import_sections():
    wrong = sorted(f"{mod} imports {imp}" for mod, imports in _graph().items()
                   if not _within(mod, "opslib.sections") and not any(_within(mod, p) for p in MAY_RUN_SECTIONS)
                   for imp in imports if _within(imp, "opslib.sections"))
    assert not wrong, "a layer below the sections imports one:\n" + "\n".join(wrong)


def test_sections_do_not_import_each_other():
    wrong = []
    for mod, imports in _graph().items():
        own = _section(mod)
        if own is None:
            continue
        wrong += [f"{mod} imports {imp}" for imp in imports if _section(imp) not in (None, own)]
    assert not sorted(wrong), "sections import each other sideways:\n" + "\n".join(sorted(wrong))


def test_aws_layer_is_the_bottom():
    wrong = sorted(f"{mod} imports {imp}" for mod, imports in _graph().items() if _within(mod, "opslib.aws")
                   for imp in imports if imp != "opslib" and not _within(imp, "opslib.aws")
                   and not any(_within(imp, p) for p in AWS_MAY_IMPORT))
    assert not wrong, "the aws layer imports from above it:\n" + "\n".join(wrong)


def test_the_graph_sees_imports():
    """The parser itself: relative and lazy imports are resolved (a broken parser would pass everything)."""
    graph = _graph()
    assert "opslib.aws.alarms" in graph["opslib.sections.alerts"]
    assert "opslib.aws.cloudwatch" in graph["opslib.aws.alarms"]
    assert any(_within(i, "opslib.sections.postmortem") for i in graph["opslib.cli.incident_cmd"])   # lazy


def test_alarm_routing_knows_the_incident_procedures():
    """``aws.alarms`` routes an alarm to the Incident Response procedure named by its rule without importing the
    section: its list of procedures is the section's."""
    assert tuple(incident.PROCEDURES) == alarms.INCIDENT_PROCEDURES
