"""Benchmark: bytes each run adds to the evidence archive, the asset layout against the inline one.

Runs every read-only notebook (``runbook run --all``) on the sandbox into a fresh archive, ``--rounds``
times. The asset layout (today's): each run adds its .ipynb and its HTML, which loads plotly.js and the
JupyterLab style sheets from ``assets/`` (stored once per archive, content addressed); the first run that
needs an asset pays for it once. The baseline, measured in the same run on the same output notebooks: the
inline layout (plotly.js and the style sheets inside every HTML, as before), i.e. the .ipynb plus
:func:`opslib.runner.html.render_html` of it. Prints per notebook, the medians, the total and the ratio.
A benchmark, not a test: nothing is asserted. Needs the sandbox (`runbook sandbox up`).

    .venv/bin/python bench/bench_archive_size.py [--rounds 3] [--jobs 2] [--keep DIR]
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

from opslib.runner.archive import LocalArchive
from opslib.runner.html import render_html


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="times every read-only notebook runs")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--keep", help="archive folder to keep (default: a temporary one)")
    args = parser.parse_args()
    folder = Path(args.keep or tempfile.mkdtemp(prefix="bench-archive-"))
    for r in range(args.rounds):
        proc = subprocess.run([sys.executable, "-c", "from opslib.cli import run; run()", "run", "--all",
                               "--jobs", str(args.jobs), "--archive", str(folder)], capture_output=True, text=True)
        print(f"round {r + 1}: exit {proc.returncode}; {proc.stderr.strip().splitlines()[-1]}", file=sys.stderr)
    archive = LocalArchive(folder)
    rows = []
    for e in archive.manifest():
        ipynb = archive.read(e["files"]["ipynb"]["rel"])
        inline = render_html(nbformat.reads(ipynb.decode(), as_version=4))
        rows.append((e["notebook"], e["bytes_added"], len(ipynb) + len(inline.encode())))
    print(f"{'notebook':<24} {'assets layout':>14} {'inline layout':>14}")
    for name, new, old in sorted(rows):
        print(f"{name:<24} {new:>14,} {old:>14,}")
    new_median = statistics.median(r[1] for r in rows)
    old_median = statistics.median(r[2] for r in rows)
    new_total, old_total = sum(r[1] for r in rows), sum(r[2] for r in rows)
    print(f"\n{len(rows)} runs; median bytes added per run: {new_median:,.0f} (assets) vs {old_median:,.0f} "
          f"(inline): {old_median / new_median:.1f}x smaller")
    print(f"total: {new_total:,} vs {old_total:,} bytes: {old_total / new_total:.1f}x smaller "
          f"(assets stored once: {sum(f.stat().st_size for f in (folder / 'assets').iterdir()):,} bytes)")
    verify = subprocess.run([sys.executable, "-c", "from opslib.cli import run; run()", "runs", "verify",
                             "--archive", str(folder)], capture_output=True, text=True)
    print(f"verify: exit {verify.returncode}; {verify.stdout.strip().splitlines()[-2]}")
    print(json.dumps({"median_assets": new_median, "median_inline": old_median, "runs": len(rows)}))


if __name__ == "__main__":
    main()
