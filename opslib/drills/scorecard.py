"""The drill scorecard: an archived run like any other (``drill-scorecard``): an output notebook with
the table (scenario, runbook, detected?, seconds, evidence links) and one finding per scenario, its
offline HTML, both written once with their sha256, and a manifest entry (``runbook runs show|verify``
read it as they read a notebook's run). No kernel runs: the notebook is assembled from the results and
archived by :func:`opslib.runner.execute.archive_notebook`, as a headless run is.
"""
from __future__ import annotations

import html
import os
from datetime import datetime
from typing import Callable, Iterable

import nbformat

from ..findings import Check, findings_bundle
from ..runner.archive import Archive
from ..runner.manifest import RunEntry
from ..runner.scrub import Scrubber
from .rehearse import DrillResult

NOTEBOOK = "drill-scorecard"


def _scenario_check(result: DrillResult) -> Check:
    """ok when every runbook of the drill failed loudly for its fault, else fail (with why)."""
    runbooks = {r.notebook: {"detected": r.detected, "run_id": r.run_id, "seconds": round(r.seconds, 1),
                             "html": r.evidence.get("html"), "problem": r.problem} for r in result.runbooks}
    figures = {"runbooks": runbooks, "seconds": round(result.seconds, 1)}
    if result.detected:
        names = ", ".join(result.runbooks[0].failed) if result.runbooks else ""
        return Check.ok(f"drill {result.scenario}", f"detected by {', '.join(runbooks)} ({names})", **figures)
    why = result.error or "; ".join(f"{r.notebook}: {r.problem}" for r in result.runbooks if not r.detected)
    return Check.fail(f"drill {result.scenario}", f"NOT detected: {why}"
                      + (f" [{result.note}]" if result.note else ""), **figures)


def _link(path: str | None, archive: Archive) -> str:
    if not path:
        return "-"
    root = archive.location.rstrip("/") + "/"
    href = path[len(root):] if path.startswith(root) else path      # relative within the archive: it moves with it
    href = os.path.relpath(href, "X/X/X") if not href.startswith(("/", "s3://")) else href   # from YYYY/MM/DD/
    return f"<a href='{html.escape(href)}'>{html.escape(os.path.basename(path))}</a>"


def _table_html(results: Iterable[DrillResult], archive: Archive) -> str:
    rows = []
    for res in results:
        for r in res.runbooks or [None]:
            ok = r.detected if r else False
            colour = "#1a7f37" if ok else "#cf222e"
            rows.append(
                f"<tr><td>{html.escape(res.scenario)}</td><td>{html.escape(r.notebook if r else '-')}</td>"
                f"<td style='color:{colour};font-weight:bold'>{'yes' if ok else 'NO'}</td>"
                f"<td style='text-align:right'>{(r.seconds if r else res.seconds):.1f}</td>"
                f"<td>{html.escape(', '.join(r.failed) if r else '')}</td>"
                f"<td>{html.escape((r.problem if r else res.error) or '')}</td>"
                f"<td>{_link(r.evidence.get('html') if r else None, archive)}</td></tr>")
    return ("<table class='opslib-drills'><thead><tr><th>scenario</th><th>runbook</th><th>detected?</th>"
            "<th>seconds</th><th>failing checks</th><th>why not</th><th>evidence</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


def _scorecard_notebook(results: list[DrillResult], *, archive: Archive, profile: str) -> nbformat.NotebookNode:
    checks = [_scenario_check(r) for r in results]
    passed = sum(r.detected for r in results)
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell(
        f"# Drill scorecard\n\n{passed} of {len(results)} drill(s) detected on profile `{profile}`. Each drill "
        "resets the sandbox, injects its fault, runs the runbook(s) written for it and expects them to exit 1 "
        "with a finding that names the fault, and nothing else failing; then resets the sandbox."))
    cell = nbformat.v4.new_code_cell("# assembled by `runbook drill` from the drill runs listed below")
    cell.outputs = [nbformat.v4.new_output("display_data", data={"text/html": _table_html(results, archive),
                                                                  "text/plain": f"{passed}/{len(results)} detected"}),
                    nbformat.v4.new_output("display_data", data=findings_bundle(checks))]
    nb.cells.append(cell)
    return nb


def archive_scorecard(results: list[DrillResult], *, archive: Archive, profile: str, clock: Callable[[], datetime],
                      started: datetime | None = None, operator: dict | None = None, git_revision: str | None = None,
                      host: str = "", scrubber: Scrubber | None = None) -> RunEntry:
    """Archive the scorecard's notebook as a run of its own (the same path as a headless run's evidence)."""
    from ..runner.execute import archive_notebook, new_run_id
    start = started or clock()
    nb = _scorecard_notebook(results, archive=archive, profile=profile)
    return archive_notebook(nb, archive=archive, run_id=new_run_id(), name=NOTEBOOK, notebook_path="",
                            profile=profile, parameters={"scenarios": [r.scenario for r in results]}, start=start,
                            end=clock(), job=NOTEBOOK, operator=operator, git_revision=git_revision, host=host,
                            scrubber=scrubber)
