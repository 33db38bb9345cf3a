"""The profile is the only place that knows the pipeline: no library module (the sandbox aside, which
plays the runbook's pipeline) and no notebook parameters cell names one of the sandbox's resources.
Markdown cells quoting the runbook, and the profiles under parameters/, may."""
from __future__ import annotations

import re
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
NAMES = ["ingestion-api", "stream-processor", "event-validator", "real-time-aggregator", "data-api", "batch-processor",
         "prod-cluster", "dr-cluster", "user-events-prod", "user-events-dr", "kinesis-checkpoints", "real-time-events",
         "company-*", "prod-analytics-db", "analytics-db-replica-1", "prod-alb", "analytics.company.com",
         "/etc/ssl/certs/api.crt"]


def _pattern(names: list[str]) -> re.Pattern:
    """A name not glued to a longer word on its left (``metadata-api`` is not ``data-api``); ``company-*``
    is any ``company-<word>``."""
    parts = [re.escape(n[:-1]) + r"[A-Za-z0-9][A-Za-z0-9-]*" if n.endswith("*") else re.escape(n) for n in names]
    return re.compile(r"(?<![A-Za-z0-9_])(?:" + "|".join(parts) + ")")


PATTERN = _pattern(NAMES)


def hits(text: str, where: str, first_line: int = 1) -> list[str]:
    return [f"{where}:{first_line + i}: {m.group(0)!r} in {line.strip()[:100]}"
            for i, line in enumerate(text.splitlines()) for m in PATTERN.finditer(line)]


def library_hits() -> list[str]:
    out = []
    for path in sorted((ROOT / "opslib").rglob("*")):
        rel = path.relative_to(ROOT)
        if not path.is_file() or rel.parts[:2] == ("opslib", "sandbox") or "__pycache__" in rel.parts:
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        out += hits(text, str(rel))
    return out


def notebook_hits() -> list[str]:
    out = []
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for i, cell in enumerate(nb.cells):
            if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
                out += hits(cell.source, f"{path.relative_to(ROOT)} cell {i} ({cell.get('id')}) line")
    return out


def test_the_pattern_finds_each_name_and_nothing_else():
    for name in NAMES:
        sample = name.replace("*", "backups")
        assert hits(f'x = "{sample}"', "f") == [f"f:1: {sample!r} in x = \"{sample}\""]
    assert hits("metadata-api; companyname; prod-albatross-free? no: x", "f") == ["f:1: 'prod-alb' in "
                                                                                   "metadata-api; companyname; "
                                                                                   "prod-albatross-free? no: x"]
    assert hits("events, service_for('ingest'), dr_cluster", "f") == []
    assert hits("a\n  b = 'dr-cluster'\n", "nb", 7) == ["nb:8: 'dr-cluster' in b = 'dr-cluster'"]


def test_library_names_no_sandbox_resource():
    found = library_hits()
    assert not found, "sandbox resource names outside the profile:\n" + "\n".join(found)


def test_notebook_parameters_name_no_sandbox_resource():
    found = notebook_hits()
    assert not found, "sandbox resource names in parameters cells:\n" + "\n".join(found)
