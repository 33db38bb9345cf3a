"""The golden comparison itself (tests/golden.py), on the committed golden files, without a kernel: an
output equal but for volatile values passes; a changed finding text fails with a readable diff; a missing
golden file says how to make it; ``--nb-force-regen`` rewrites it."""
from __future__ import annotations

import json
import shutil

import nbformat
import pytest
from pytest_notebook.nb_regression import NBRegressionError, NBRegressionFixture

import golden

NOTEBOOK = "critical-services"


def entry_for(nb, tmp_path, name: str = NOTEBOOK) -> dict:
    path = tmp_path / f"{name}.ipynb"
    nbformat.write(nb, path)
    return {"notebook": name, "files": {"ipynb": {"path": str(path)}}}


def reference():
    return nbformat.read(golden.GOLDEN / f"{NOTEBOOK}.ipynb", as_version=4)


def finding_output(nb):
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if golden.MIME_FINDINGS in output.get("data", {}):
                return output
    raise AssertionError("no findings output")


def test_every_notebook_has_a_golden_output():
    from opslib.runner.catalog import discover
    assert {n.name for n in discover()} <= {p.stem for p in golden.GOLDEN.glob("*.ipynb")}


def test_volatile_values_do_not_count(tmp_path):
    nb = reference()
    text = json.dumps(nb)
    volatile = (text.replace("<id>", "0123456789ab").replace("<tmp>", "/tmp/pytest-of-x/archive7")
                .replace("<port>", "45123"))
    golden.check(NBRegressionFixture(), entry_for(nbformat.reads(volatile, as_version=4), tmp_path))


def test_a_changed_finding_text_fails_with_a_readable_diff(tmp_path):
    nb = reference()
    output = finding_output(nb)
    check = output["data"][golden.MIME_FINDINGS]["checks"][0]
    old = check["detail"]
    check["detail"] = old + " (reworded)"
    output["data"]["text/plain"] = output["data"]["text/plain"].replace(old, check["detail"])
    with pytest.raises(NBRegressionError) as err:
        golden.check(NBRegressionFixture(), entry_for(nb, tmp_path))
    message = str(err.value)
    assert "make golden" in message and "(reworded)" in message and old in message
    assert "\x1b[" not in message                                  # plain text, readable in a CI log


def test_missing_golden_and_regeneration(tmp_path, monkeypatch):
    folder = tmp_path / "golden"
    folder.mkdir()
    shutil.copy(golden.GOLDEN / f"{NOTEBOOK}.ipynb", folder)
    monkeypatch.setattr(golden, "GOLDEN", folder)
    nb = reference()
    with pytest.raises(NBRegressionError, match="make golden"):
        golden.check(NBRegressionFixture(), entry_for(nb, tmp_path, "no-such-notebook"))
    finding_output(nb)["data"]["text/plain"] += "\nchanged"
    golden.check(NBRegressionFixture(force_regen=True), entry_for(nb, tmp_path))
    assert "\\nchanged" in (folder / f"{NOTEBOOK}.ipynb").read_text()
    golden.check(NBRegressionFixture(), entry_for(nb, tmp_path))      # equal now
