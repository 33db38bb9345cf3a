"""The drill scorecard: an archived run like any other (``drill-scorecard``): an output notebook with
the table (scenario, runbook, detected?, seconds, evidence links) and one finding per scenario, its
offline HTML, both written once with their sha256, and a manifest entry (``runbook runs show|verify``
read it as they read a notebook's run). No kernel runs: the notebook is assembled from the results.
"""
from __future__ import annotations

import html
import os
import uuid
from datetime import datetime
from typing import Callable, Iterable

import nbformat

from .. import __version__
from ..findings import Check, findings_bundle, overall_status
from ..runner.archive import Archive, run_stem
from ..runner.html import render_html
from ..runner.manifest import EXIT_CODES, RunEntry
from ..runner.scrub import Scrubber
from ..runner.verify import sha256
from .rehearse import DrillResult

NOTEBOOK = "drill-scorecard"


def scenario_check(result: DrillResult) -> Check:
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


def table_html(results: Iterable[DrillResult], archive: Archive) -> str:
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


def scorecard_notebook(results: list[DrillResult], *, archive: Archive, profile: str) -> nbformat.NotebookNode:
    checks = [scenario_check(r) for r in results]
    passed = sum(r.detected for r in results)
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell(
        f"# Drill scorecard\n\n{passed} of {len(results)} drill(s) detected on profile `{profile}`. Each drill "
        "resets the sandbox, injects its fault, runs the runbook(s) written for it and expects them to exit 1 "
        "with a finding that names the fault, and nothing else failing; then resets the sandbox."))
    cell = nbformat.v4.new_code_cell("# assembled by `runbook drill` from the drill runs listed below")
    cell.outputs = [nbformat.v4.new_output("display_data", data={"text/html": table_html(results, archive),
                                                                  "text/plain": f"{passed}/{len(results)} detected"}),
                    nbformat.v4.new_output("display_data", data=findings_bundle(checks))]
    nb.cells.append(cell)
    return nb


def archive_scorecard(results: list[DrillResult], *, archive: Archive, profile: str, clock: Callable[[], datetime],
                      started: datetime | None = None, operator: dict | None = None, git_revision: str | None = None,
                      host: str = "", scrubber: Scrubber | None = None) -> RunEntry:
    """Write the scorecard's notebook and HTML once into ``archive`` and append its manifest entry."""
    scrub = scrubber or Scrubber()
    run_id = uuid.uuid4().hex[:12]
    start = started or clock()
    nb = scorecard_notebook(results, archive=archive, profile=profile)
    checks = [scenario_check(r) for r in results]
    status = overall_status(checks)
    nb.metadata["opslib_run"] = {"id": run_id, "notebook": NOTEBOOK, "profile": profile, "start": start.isoformat(),
                                 "status": status, "incident_id": None}
    nb = scrub.notebook(nb)
    end = clock()
    files = {}
    stem = run_stem(start, NOTEBOOK, run_id)
    for kind, data in (("ipynb", nbformat.writes(nb).encode()),
                       ("html", render_html(nb, title=f"{NOTEBOOK} {run_id} ({status})").encode())):
        rel = f"{stem}.{kind}"
        files[kind] = {"rel": rel, "path": archive.write_once(rel, data), "sha256": sha256(data), "bytes": len(data)}
    entry = RunEntry(
        id=run_id, notebook=NOTEBOOK, notebook_path="", profile=profile,
        parameters={"scenarios": [r.scenario for r in results]}, operator=scrub.obj(operator or {}), host=host,
        git_revision=git_revision, opslib_version=__version__, start=start.isoformat(), end=end.isoformat(),
        duration_seconds=round((end - start).total_seconds(), 3), status=status, exit_code=EXIT_CODES[status],
        findings=[c.to_dict() for c in checks], files=files, archive=archive.location, job=NOTEBOOK,
        bytes_added=sum(f["bytes"] for f in files.values()))
    entry = RunEntry.from_dict(scrub.obj(entry.to_dict()))
    archive.append_manifest(entry.to_dict())
    return entry
