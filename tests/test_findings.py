"""Findings: the Check dataclass, the display bundle, and reading them back from a notebook."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import nbformat
import numpy as np
import pytest

from opslib.errors import ParameterError
from opslib.findings import MIME, Check, overall_status, read_findings, record_findings


def test_helpers_set_status_and_flatten_detail():
    c = Check.fail("completeness", "hour 11 dropped\n62%", drop_pct=np.float64(62.5), hour=np.int64(11),
                   at=datetime(2026, 11, 25, 11, tzinfo=timezone.utc), missing=float("nan"))
    assert c.status == "fail" and c.detail == "hour 11 dropped 62%"
    assert c.figures == {"drop_pct": 62.5, "hour": 11, "at": "2026-11-25T11:00:00+00:00", "missing": None}
    json.dumps(c.to_dict())
    assert Check.when("x", False, otherwise="warn").status == "warn"
    assert Check.when("x", True).status == "ok"


def test_bad_status_is_a_parameter_error():
    with pytest.raises(ParameterError, match="status"):
        Check("x", "broken")


def test_overall_is_the_worst():
    assert overall_status([]) == "ok"
    assert overall_status([Check.ok("a"), Check.warn("b")]) == "warn"
    assert overall_status([Check.warn("b"), Check.fail("c"), Check.ok("a")]) == "fail"


def test_record_emits_table_and_custom_mime_that_reads_back():
    shown = []
    checks = record_findings([Check.ok("a", "fine", n=1), {"name": "b", "status": "warn", "detail": "close"}],
                             display=shown.append)
    bundle = shown[0]
    assert set(bundle) == {MIME, "text/html", "text/plain"}
    assert bundle[MIME]["status"] == "warn" and "<table" in bundle["text/html"] and "WARN" in bundle["text/plain"]
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("record_findings(...)")
    cell.outputs = [nbformat.v4.new_output("display_data", data=bundle)]
    nb.cells.append(cell)
    text = nbformat.writes(nb)                       # through the .ipynb format and back
    assert read_findings(nbformat.reads(text, as_version=4)) == checks


def test_unknown_objects_are_refused():
    with pytest.raises(ParameterError, match="checks"):
        record_findings([42], display=lambda b: None)
