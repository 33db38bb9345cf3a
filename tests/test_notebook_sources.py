"""What every committed notebook looks like (DESIGN.md, "How we write code"): no outputs, one ``parameters`` cell,
plain Python in every code cell (no IPython magics or shell escapes: the archive's HTML highlights them with
pygments' Python lexer, ``opslib.runner.html.PLAIN_LEXERS``), and a last code cell that records the findings
the runner reads back."""
from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


@pytest.fixture(params=NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def notebook(request):
    return request.param.stem, nbformat.read(request.param, as_version=4)


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 12


def test_committed_without_outputs_with_one_parameters_cell(notebook):
    name, nb = notebook
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert not [c for c in code if c.outputs or c.execution_count], f"{name}: committed with outputs"
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and tagged[0] is code[0], f"{name}: the first code cell is the one parameters cell"


def test_code_cells_are_plain_python(notebook):
    name, nb = notebook
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            ast.parse(cell.source, filename=f"{name}.ipynb cell {index}")


def test_last_code_cell_records_findings(notebook):
    name, nb = notebook
    last = [c for c in nb.cells if c.cell_type == "code"][-1]
    calls = {n.func.id for n in ast.walk(ast.parse(last.source))
             if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    assert "record_findings" in calls, name


def test_every_assignment_of_the_parameters_cell_is_a_parameter(notebook):
    """papermill's parser skips a line it cannot read (e.g. a comment with ``<=`` after the value): that name would
    silently stop being a parameter (``-p`` refused, its domain unchecked)."""
    from opslib.runner.catalog import notebook_parameters
    name, nb = notebook
    cell = next(c for c in nb.cells if c.cell_type == "code")
    assigned = {t.id for node in ast.parse(cell.source).body if isinstance(node, (ast.Assign, ast.AnnAssign))
                for t in (node.targets if isinstance(node, ast.Assign) else [node.target]) if isinstance(t, ast.Name)}
    assert assigned == set(notebook_parameters(NOTEBOOKS[0].parent / f"{name}.ipynb")), name
