"""Benchmark: what a headless run pays before its notebook does anything.

Every `runbook run` process imports nbformat, whose jsonschema loads rfc3987-syntax when it is
installed (it comes with JupyterLab's dependencies) and compiles a Lark grammar at import. `runbook`
skips that import (``opslib/__init__.py``, in the kernel too). This prints the CPU seconds of `import nbformat` and of
one `runbook run` of a toy notebook, with the grammar loaded (the baseline, measured in the same run)
and without, and their ratio. A benchmark, not a test: nothing is asserted.

    .venv/bin/python bench/bench_run_startup.py [--repeat 3]
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOYS = ROOT / "tests" / "notebooks"
LOAD_GRAMMAR = "import sys; sys.modules.pop('rfc3987_syntax', None); import rfc3987_syntax; "


def cpu_seconds(code: str, *args: str) -> float:
    """User+system CPU of a child Python running ``code`` (children of the child included)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-c", code, *args], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, env={**os.environ, "OPSLIB_NOTEBOOKS": str(TOYS)})
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def best(code: str, repeat: int, *args: str) -> float:
    return min(cpu_seconds(code, *args) for _ in range(repeat))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    repeat = parser.parse_args().repeat
    rows = []
    skip = "import sys; sys.modules.setdefault('rfc3987_syntax', None); import nbformat"
    rows.append(("import nbformat", best(LOAD_GRAMMAR + "import nbformat", repeat), best(skip, repeat)))
    with tempfile.TemporaryDirectory() as tmp:
        run = "from opslib.cli import run; run()"
        args = ("run", "ok", "--archive", tmp, "--json")
        rows.append(("runbook run (toy notebook)", best(LOAD_GRAMMAR + run, repeat, *args), best(run, repeat, *args)))
    print(f"{'step':30} {'baseline CPU s':>15} {'opslib CPU s':>13} {'ratio':>7}")
    for name, base, ours in rows:
        print(f"{name:30} {base:15.2f} {ours:13.2f} {base / ours:7.2f}x")


if __name__ == "__main__":
    main()
