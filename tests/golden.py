"""Golden outputs: each notebook's executed output on the healthy sandbox (seed 42, clock 2026-11-25 12:00 UTC)
is kept in ``tests/golden/<notebook>.ipynb`` and compared with pytest-notebook's diffing (the regression
fixture ``nb_regression``'s configuration and diff functions) against the output notebook of a healthy run
the test suite makes anyway: no notebook runs a second time for it.

Both sides are normalised first, so the golden file stays small and a diff reads as text:
* a plotly figure becomes its outline (title, axis titles, shapes' positions, each trace's name, type and
  point count), not its base64 arrays;
* an output with a ``text/plain`` rendering keeps it and drops its ``text/html`` twin (a DataFrame, the
  findings table; the findings' JSON stays);
* consecutive prints of a cell are one stream output, however the kernel flushed them;
* volatile values are replaced (run ids, archive and temporary paths, loopback ports, wall-clock times)
  and run metadata (papermill timings, the run record) is ignored.

Regenerate after a deliberate change: ``make golden`` (``pytest -m golden --nb-force-regen``).
"""
from __future__ import annotations

import copy
import json
import re
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import nbformat
from pytest_notebook.diffing import diff_notebooks, diff_to_string, filter_diff
from pytest_notebook.nb_regression import NBRegressionError, NBRegressionFixture
from pytest_notebook.notebook import regex_replace_nb
from pytest_notebook.post_processors import coalesce_streams

GOLDEN = Path(__file__).parent / "golden"
SANDBOX_DAY = date(2026, 11, 25)          # conftest.TEST_NOW
PLOTLY = "application/vnd.plotly.v1+json"
MIME_FINDINGS = "application/vnd.opslib.findings+json"

#: (path, regex, replacement), pytest-notebook's diff_replace form; "/cells" covers every string of every cell
REPLACE = (
    ("/cells", r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", "<uuid>"),      # first: moto's ACM arns, request ids
    ("/cells", r"\b[0-9a-f]{12}\b", "<id>"),                                       # run ids, audit ids
    ("/cells", r"(?:/tmp|/var/tmp)/[^\s\"'<>),;]*", "<tmp>"),                      # archives, sandbox, certs
    ("/cells", r"/work/[^\s\"'<>),;]*", "<path>"),
    ("/cells", r"(127\.0\.0\.1|localhost):\d{2,5}", r"\1:<port>"),
    ("/cells", r"\b\d+(?:\.\d+)? ?(?:s|ms|seconds)\b(?= elapsed| to run| in )", "<duration>"),
    ("/cells", r"\b([1-5]\d\d(?:\.0)?)\s+\d+\.\d+\b", r"\1 <ms>"),         # HTTP status, then its latency
    ("/cells", r"\b\d+ days \d\d:\d\d:\d\d(?:\.\d+)?", "<age>"),                 # ages that follow the wall clock
    ("/cells", r"\bj-[A-Z0-9]{12,14}\b", "j-<emr-id>"),                          # moto's random EMR cluster ids
    ("/cells", r"(\d{8}T\d{6}Z-)[0-9a-f]{8}\b", r"\1<id>"),                     # audit record ids
    ("/cells", r"\b(AKIA|ASIA)[A-Z0-9]{16}\b", r"\1<key-id>"),                  # moto's random access key ids
    ("/cells", r"""(['"]?attribute['"]?[=:] ?'last vacuum', ['"]?current['"]?[=:] ?)(None|'[^']*')""",
     r"\1<last vacuum>"),                                                          # earlier tests vacuum too
    # the stream batch-size measurement: a live throughput, so its winner and rates vary from run to run
    ("/cells", r"\b(batch_size|workers|records_per_s)(['\"]?[=:] ?)\d+", r"\1\2<measured>"),
    ("/cells", r"\b\d[\d,]* ?(records)?/s\b", r"<measured>/s"),
    ("/cells", r"\bat 0x[0-9a-f]+", "at 0x<address>"),                        # object reprs
    ("/cells", r"\bT_[0-9a-f]{5}(?=_|\b)", "T_<uuid>"),                         # pandas Styler's table ids
)
#: cells whose output depends on what other tests did before in the session (the shared database's audit_logs
#: gain a row for every audited plan): their outputs are not compared
VOLATILE_SOURCES = ("security.data_ages(", "security.recent_audit_logs(", "maintenance.index_coverage(",
                    "maintenance.vacuum_status(",
                    "certificates.collect(")       # a table whose wrapping follows the length of the sandbox's path
#: checks whose detail and figures depend on the shared database's statistics (which tests ran before)
VOLATILE_CHECKS = ("unused-indexes",)
#: figures measured live (not from the seeded data), per check
VOLATILE_FIGURES = {"stream-batch-setting": ("batch_size", "workers", "records_per_s")}
IGNORE = ("/metadata", "/cells/*/execution_count", "/cells/*/outputs/*/execution_count",
          "/cells/*/outputs/*/traceback", "/cells/*/id")


def wall_clock(today: date | None = None) -> tuple:
    """Replacements of times that follow the wall clock (a run's start, "last run" of a weekly task): today's
    and yesterday's dates, UTC. The sandbox's own clock is fixed (2026-11-25 12:00 UTC) and stays as it is."""
    today = today or datetime.now(timezone.utc).date()
    days = {today, today - timedelta(days=1)} - {SANDBOX_DAY}
    return tuple(("/cells", rf"{d:%Y-%m-%d}(?:[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:\+00:00|Z)?)?", "<wall-clock>")
                 for d in sorted(days))


def _outline(fig: dict) -> dict:
    if "traces" in fig and "data" not in fig:        # already an outline (a golden file read back)
        return fig
    layout = fig.get("layout", {})

    def title(x):
        t = x.get("title") if isinstance(x, dict) else None
        return t.get("text") if isinstance(t, dict) else t

    def size(values):
        if isinstance(values, dict) and "bdata" in values:
            return f"{values.get('dtype')} x{values.get('shape', '?')}"
        return len(values) if isinstance(values, list) else values
    return {"title": title(layout),
            "axes": {k: title(v) for k, v in sorted(layout.items()) if k.startswith(("xaxis", "yaxis"))},
            "shapes": [{k: s.get(k) for k in ("type", "y0", "y1") if k in s} for s in layout.get("shapes", [])],
            "annotations": [a.get("text") for a in layout.get("annotations", [])],
            "traces": [{"name": t.get("name"), "type": t.get("type"), "points": size(t.get("y", t.get("values")))}
                       for t in fig.get("data", [])]}


def normalise(nb) -> nbformat.NotebookNode:
    """The comparable form of an output notebook (see the module docstring)."""
    # one stream output per name: a kernel may flush a cell's prints in one message or in several
    nb, _ = coalesce_streams(nbformat.from_dict(copy.deepcopy(dict(nb))), {})
    for index, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{index}"                        # papermill's injected cell gets a random one
        if cell.get("cell_type") == "code" and any(v in cell.get("source", "") for v in VOLATILE_SOURCES):
            cell["outputs"] = [nbformat.v4.new_output("stream", text="(output not compared: see tests/golden.py)\n")]
        tags = cell.get("metadata", {}).get("tags")
        cell["metadata"] = {"tags": tags} if tags else {}      # papermill's timings and status out
        for output in cell.get("outputs", []) or []:
            data = output.get("data")
            if not data:
                continue
            for check in (data.get(MIME_FINDINGS) or {}).get("checks", []):
                if check.get("name") in VOLATILE_CHECKS:
                    check["detail"], check["figures"] = "<not compared>", {}
                for key in VOLATILE_FIGURES.get(check.get("name"), ()):
                    if key in check.get("figures", {}):
                        check["figures"][key] = "<measured>"
            if PLOTLY in data:
                data[PLOTLY] = _outline(data[PLOTLY])
                data.pop("text/html", None)
            if isinstance(data.get("text/plain"), str):
                for name in VOLATILE_CHECKS:
                    data["text/plain"] = re.sub(rf"({re.escape(name)}\b['\"]?,?\s*)[^\n]*", r"\1<not compared>",
                                                data["text/plain"])
            if MIME_FINDINGS in data and isinstance(data.get("text/plain"), str):   # its columns follow the longest name
                data["text/plain"] = re.sub(r"(?<=\S) {2,}(?=\S)", "  ", data["text/plain"])
            if "text/plain" in data and not data["text/plain"].startswith("<"):   # an object's repr: keep the HTML
                data.pop("text/html", None)
    for key in list(nb.metadata):
        if key not in ("kernelspec", "opslib"):
            nb.metadata.pop(key)
    return nb


def check(nb_regression: NBRegressionFixture, entry: dict, name: str | None = None) -> None:
    """Compare the output notebook of manifest ``entry`` with ``tests/golden/<notebook>.ipynb``; with
    ``--nb-force-regen`` (``make golden``) write it there instead when they differ or it is missing."""
    __tracebackhide__ = True
    name = name or entry["notebook"]
    path = GOLDEN / f"{name}.ipynb"
    actual = normalise(nbformat.read(entry["files"]["ipynb"]["path"], as_version=4))
    replace = tuple(REPLACE) + wall_clock() + tuple(nb_regression.diff_replace)
    final = regex_replace_nb(actual, replace)
    if not path.exists():
        if nb_regression.force_regen:
            _write(path, final)
            return
        raise NBRegressionError(f"no golden output {path}: run `make golden`")
    golden = regex_replace_nb(nbformat.read(path, as_version=4), replace)
    diff = filter_diff(diff_notebooks(golden, final), list(IGNORE) + list(nb_regression.diff_ignore))
    if not diff:
        return
    text = diff_to_string(golden, diff, use_color=False, color_words=nb_regression.diff_color_words)
    if nb_regression.force_regen:
        _write(path, final)
        print(f"regenerated {path}; the diff was:\n{text}", file=sys.stderr)
        return
    raise NBRegressionError(f"{name}: the output differs from {path} (make golden regenerates it):\n{text}")


def findings(notebook: str) -> dict[str, str]:
    """check -> status of ``notebook``'s golden output (its healthy run on sandbox.yaml)."""
    nb = nbformat.read(GOLDEN / f"{notebook}.ipynb", as_version=4)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {}).get(MIME_FINDINGS)
            if data:
                return {c["name"]: c["status"] for c in data["checks"]}
    raise AssertionError(f"{notebook}: no findings in its golden output")


def _write(path: Path, nb) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(nbformat.from_dict(dict(nb)), indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    path.write_text(text, encoding="utf-8")
