"""The layers of DESIGN.md, held by parsing every module's imports (``ast``; lazy imports inside functions
count too): the data flows down, never back up, and runbook sections never import each other.

    cli, runner            may import sections (they run them)
    sections/<name>        import the layers below, never another section; of the runner only the evidence
                           store (runner.archive, runner.manifest, runner.verify: an incident's runs, a figure
                           recorded by an earlier run, the hashes of its files), never the part that runs notebooks
    actions                plan/apply: import aws and the infrastructure, never sections, never the runner
    aws                    the only code that reads AWS: imports nothing of opslib but itself and errors
    infrastructure         config, connection, findings, events_table, records, ... : never sections
    sandbox                builds its pipeline with the infrastructure, never with the code under test

Besides cli and runner, only what runs or checks notebooks the way `runbook run` does imports the runner:
drills (rehearse runs), webhook (``runbook serve`` starts runs), schedules (checks jobs with the preflight) and
notebook (checks parameters against a notebook's domains).
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
#: outside the runner, only these may import it: they run or check notebooks as `runbook run` does
MAY_IMPORT_RUNNER = ("opslib.cli", "opslib.runner", "opslib.drills", "opslib.webhook", "opslib.schedules",
                     "opslib.notebook")
#: the part of the runner a section may read: the evidence store (archive, manifest, verify)
EVIDENCE_STORE = ("opslib.runner.archive", "opslib.runner.manifest", "opslib.runner.verify")


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


def _runner_imported_from_below(graph: dict[str, set[str]]) -> list[str]:
    """Imports of the runner by a layer below it: actions, aws, the infrastructure, the sandbox, or a section
    importing more of the runner than the evidence store."""
    wrong = []
    for mod, imports in graph.items():
        if any(_within(mod, p) for p in MAY_IMPORT_RUNNER):
            continue
        for imp in imports:
            if not _within(imp, "opslib.runner"):
                continue
            if _section(mod) is not None and any(_within(imp, e) for e in EVIDENCE_STORE):
                continue
            wrong.append(f"{mod} imports {imp}")
    return sorted(wrong)


def test_nothing_below_the_runner_imports_it():
    wrong = _runner_imported_from_below(_graph())
    assert not wrong, "a layer below the runner imports it:\n" + "\n".join(wrong)


def test_the_runner_check_catches_actions_and_sections():
    """The check itself: actions pointing up at the runner, and a section reaching past the evidence store."""
    graph = {"opslib.actions.audit": {"opslib.runner.archive"}, "opslib.config": {"opslib.runner.context"},
             "opslib.sections.postmortem.loader": {"opslib.runner.archive", "opslib.runner.manifest"},
             "opslib.sections.alerts": {"opslib.runner.execute"}, "opslib.drills.session": {"opslib.runner.context"}}
    assert _runner_imported_from_below(graph) == ["opslib.actions.audit imports opslib.runner.archive",
                                                  "opslib.config imports opslib.runner.context",
                                                  "opslib.sections.alerts imports opslib.runner.execute"]


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
